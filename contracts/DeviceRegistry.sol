// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {P256} from "@openzeppelin/contracts/utils/cryptography/P256.sol";

/// @title DeviceRegistry
/// @notice Devices (P-256 keys) and their owners. A device is registered only with its
/// proof of possession: a P-256 signature by the device key over
/// sha256(abi.encode(registry, chainid, owner, deviceId, nonce)), verified with
/// OpenZeppelin's P256 (the RIP-7212 precompile where the chain has one).
contract DeviceRegistry is AccessControl {
    struct Device {
        address owner;
        bool active;
        uint64 registeredAt; // block timestamp of the registration
        uint64 registeredBlock;
        bytes32 x;
        bytes32 y;
        string metadataURI;
    }

    mapping(bytes32 deviceId => Device) private _devices;
    /// Proof-of-possession nonce each device must sign next; it grows with every
    /// registration, so a released device cannot be re-registered with an old signature.
    mapping(bytes32 deviceId => uint256) public nonces;

    event DeviceRegistered(
        bytes32 indexed deviceId, address indexed owner, bytes32 x, bytes32 y, string metadataURI
    );
    event DeviceTransferred(bytes32 indexed deviceId, address indexed from, address indexed to);
    event DeviceDeactivated(bytes32 indexed deviceId, address indexed by);
    event DeviceReactivated(bytes32 indexed deviceId, address indexed by);
    event DeviceReleased(bytes32 indexed deviceId, address indexed owner);
    event MetadataURIUpdated(bytes32 indexed deviceId, string metadataURI);

    error DeviceAlreadyRegistered(bytes32 deviceId);
    error DeviceNotRegistered(bytes32 deviceId);
    error InvalidPublicKey();
    error DeviceIdMismatch(bytes32 expected, bytes32 given);
    error InvalidNonce(uint256 expected, uint256 given);
    error InvalidProofOfPossession();
    error InvalidOwner();
    error NotDeviceOwner(bytes32 deviceId, address caller);
    error NotOwnerOrAdmin(bytes32 deviceId, address caller);
    error AlreadyInState(bytes32 deviceId, bool active);

    constructor(address admin) {
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
    }

    /// @notice The device id of a public key: keccak256 of its compressed SEC1 point.
    function deviceIdOf(bytes32 x, bytes32 y) public pure returns (bytes32) {
        bytes1 prefix = uint256(y) & 1 == 1 ? bytes1(0x03) : bytes1(0x02);
        return keccak256(abi.encodePacked(prefix, x));
    }

    /// @notice The SHA-256 digest the device signs to prove possession of its key.
    function popDigest(address owner, bytes32 deviceId, uint256 nonce) public view returns (bytes32) {
        return sha256(abi.encode(address(this), block.chainid, owner, deviceId, nonce));
    }

    /// @notice Register `deviceId` (key `x`,`y`) for `owner`; anyone may submit the device's
    /// signature (`r`,`s`) of {popDigest}.
    function register(
        bytes32 deviceId,
        bytes32 x,
        bytes32 y,
        address owner,
        string calldata metadataURI,
        uint256 nonce,
        bytes32 r,
        bytes32 s
    ) external {
        if (owner == address(0)) revert InvalidOwner();
        if (_devices[deviceId].owner != address(0)) revert DeviceAlreadyRegistered(deviceId);
        if (!P256.isValidPublicKey(x, y)) revert InvalidPublicKey();
        bytes32 derived = deviceIdOf(x, y);
        if (derived != deviceId) revert DeviceIdMismatch(derived, deviceId);
        uint256 expected = nonces[deviceId];
        if (nonce != expected) revert InvalidNonce(expected, nonce);
        if (!P256.verify(popDigest(owner, deviceId, nonce), r, s, x, y)) {
            revert InvalidProofOfPossession();
        }
        nonces[deviceId] = expected + 1;
        _devices[deviceId] = Device({
            owner: owner,
            active: true,
            registeredAt: uint64(block.timestamp),
            registeredBlock: uint64(block.number),
            x: x,
            y: y,
            metadataURI: metadataURI
        });
        emit DeviceRegistered(deviceId, owner, x, y, metadataURI);
    }

    /// @notice Hand the device to `to` (owner only).
    function transfer(bytes32 deviceId, address to) external {
        Device storage device = _ownedBy(deviceId, msg.sender);
        if (to == address(0)) revert InvalidOwner();
        device.owner = to;
        emit DeviceTransferred(deviceId, msg.sender, to);
    }

    /// @notice Forget the device (owner only) so it can be registered again with a fresh
    /// proof of possession at the next nonce (e.g. after a factory reset and resale).
    function release(bytes32 deviceId) external {
        _ownedBy(deviceId, msg.sender);
        delete _devices[deviceId];
        emit DeviceReleased(deviceId, msg.sender);
    }

    function setMetadataURI(bytes32 deviceId, string calldata metadataURI) external {
        _ownedBy(deviceId, msg.sender).metadataURI = metadataURI;
        emit MetadataURIUpdated(deviceId, metadataURI);
    }

    /// @notice Stop accepting the device's data (owner or admin).
    function deactivate(bytes32 deviceId) external {
        _setActive(deviceId, false);
        emit DeviceDeactivated(deviceId, msg.sender);
    }

    /// @notice Accept the device's data again (owner or admin).
    function reactivate(bytes32 deviceId) external {
        _setActive(deviceId, true);
        emit DeviceReactivated(deviceId, msg.sender);
    }

    /// @notice The owner; zero when the device is not registered.
    function ownerOf(bytes32 deviceId) external view returns (address) {
        return _devices[deviceId].owner;
    }

    function isActive(bytes32 deviceId) external view returns (bool) {
        return _devices[deviceId].active;
    }

    function publicKeyOf(bytes32 deviceId) external view returns (bytes32 x, bytes32 y) {
        Device storage device = _registered(deviceId);
        return (device.x, device.y);
    }

    /// @notice Block number and timestamp of the registration (zero when not registered), so a
    /// verifier can tell whether the device was registered when it signed a report.
    function registrationOf(bytes32 deviceId)
        external
        view
        returns (uint64 blockNumber, uint64 timestamp)
    {
        Device storage device = _devices[deviceId];
        return (device.registeredBlock, device.registeredAt);
    }

    function metadataURIOf(bytes32 deviceId) external view returns (string memory) {
        return _registered(deviceId).metadataURI;
    }

    function _registered(bytes32 deviceId) private view returns (Device storage device) {
        device = _devices[deviceId];
        if (device.owner == address(0)) revert DeviceNotRegistered(deviceId);
    }

    function _ownedBy(bytes32 deviceId, address caller) private view returns (Device storage device) {
        device = _registered(deviceId);
        if (device.owner != caller) revert NotDeviceOwner(deviceId, caller);
    }

    function _setActive(bytes32 deviceId, bool active) private {
        Device storage device = _registered(deviceId);
        if (device.owner != msg.sender && !hasRole(DEFAULT_ADMIN_ROLE, msg.sender)) {
            revert NotOwnerOrAdmin(deviceId, msg.sender);
        }
        if (device.active == active) revert AlreadyInState(deviceId, active);
        device.active = active;
    }
}
