// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {P256} from "@openzeppelin/contracts/utils/cryptography/P256.sol";

/// @title DeviceRegistry
/// @notice Devices (P-256 keys) and their owners. A device is registered only with its
/// proof of possession: a P-256 signature by the device key over
/// sha256(abi.encode(registry, chainid, owner, deviceId, nonce)), verified with
/// OpenZeppelin's P256 (the RIP-7212 precompile where the chain has one).
///
/// Each device declares where it stands as an H3 cell of resolution {CELL_RESOLUTION}. Its
/// owner sets it at registration and may move it later; a move restarts the device's
/// seniority (`placedAt`) and keeps it ineligible for rewards until `eligibleFrom`, one
/// `moveCooldown` later, so that hopping between cells to chase rewards does not pay.
contract DeviceRegistry is AccessControl {
    /// Resolution 7: hexagons of about 5.2 km² (edge about 1.4 km). Fine enough to tell
    /// apart stations 4 km apart and to compare a device with neighbours a few km away; no
    /// finer than the ~1 km to which a public station list locates its sites, and coarse
    /// enough that a cell does not point at an owner's house. Neighbour distances and cell
    /// capacity are counted in these cells.
    uint8 public constant CELL_RESOLUTION = 7;
    /// A cool-down longer than this would let an admin bench devices indefinitely.
    uint64 public constant MAX_MOVE_COOLDOWN = 365 days;
    // Bit b set: base cell b is one of H3's twelve pentagons.
    uint128 private constant PENTAGON_BASE_CELLS = 0x200802000801008402004001004010;

    struct Device {
        address owner;
        bool active;
        uint64 registeredAt; // block timestamp of the registration
        // The four below share one slot.
        uint64 registeredBlock;
        uint64 cell; // H3 cell; zero: not located yet
        uint64 placedAt; // when the device took its cell: the start of its seniority
        uint64 eligibleFrom; // no rewards before this time (a move's cool-down)
        bytes32 x;
        bytes32 y;
        string metadataURI;
    }

    mapping(bytes32 deviceId => Device) private _devices;
    /// Proof-of-possession nonce each device must sign next; it grows with every
    /// registration, so a released device cannot be re-registered with an old signature.
    mapping(bytes32 deviceId => uint256) public nonces;
    /// How long a moved device stays ineligible for rewards.
    uint64 public moveCooldown;

    event DeviceRegistered(
        bytes32 indexed deviceId, address indexed owner, bytes32 x, bytes32 y, string metadataURI
    );
    event DeviceTransferred(bytes32 indexed deviceId, address indexed from, address indexed to);
    event DeviceDeactivated(bytes32 indexed deviceId, address indexed by);
    event DeviceReactivated(bytes32 indexed deviceId, address indexed by);
    event DeviceReleased(bytes32 indexed deviceId, address indexed owner);
    event MetadataURIUpdated(bytes32 indexed deviceId, string metadataURI);
    /// Every placement: at registration (oldCell zero) and at each later move.
    event DeviceMoved(
        bytes32 indexed deviceId, uint64 oldCell, uint64 newCell, uint64 placedAt, uint64 eligibleFrom
    );
    event MoveCooldownSet(uint64 cooldown);

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
    error InvalidCell(uint64 cell);
    error SameCell(bytes32 deviceId, uint64 cell);
    error LocationByOwnerOnly(bytes32 deviceId, address caller);
    error CooldownTooLong(uint64 given, uint64 max);

    constructor(address admin, uint64 moveCooldown_) {
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
        _setMoveCooldown(moveCooldown_);
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

    /// @notice Register `deviceId` (key `x`,`y`) for `owner` at H3 `cell`; anyone may submit
    /// the device's signature (`r`,`s`) of {popDigest}, but the device's signature does not
    /// cover the cell, so only the owner may give one (others pass zero and the owner places
    /// the device later with {move}). A device registered before (released, then registered
    /// again) starts a move's cool-down, so releasing is no way around it.
    function register(
        bytes32 deviceId,
        bytes32 x,
        bytes32 y,
        address owner,
        string calldata metadataURI,
        uint64 cell,
        uint256 nonce,
        bytes32 r,
        bytes32 s
    ) external {
        if (owner == address(0)) revert InvalidOwner();
        if (cell != 0) {
            if (msg.sender != owner) revert LocationByOwnerOnly(deviceId, msg.sender);
            if (!isValidCell(cell)) revert InvalidCell(cell);
        }
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
        uint64 now_ = uint64(block.timestamp);
        uint64 eligibleFrom = expected == 0 ? now_ : now_ + moveCooldown;
        _devices[deviceId] = Device({
            owner: owner,
            active: true,
            registeredAt: now_,
            registeredBlock: uint64(block.number),
            cell: cell,
            placedAt: cell == 0 ? 0 : now_,
            eligibleFrom: eligibleFrom,
            x: x,
            y: y,
            metadataURI: metadataURI
        });
        emit DeviceRegistered(deviceId, owner, x, y, metadataURI);
        if (cell != 0) emit DeviceMoved(deviceId, 0, cell, now_, eligibleFrom);
    }

    /// @notice Place the device in H3 `cell` (owner only). Its seniority restarts now; a
    /// device that had a cell is ineligible for `moveCooldown`, while the first placement
    /// of an unlocated device keeps whatever cool-down it already had.
    function move(bytes32 deviceId, uint64 cell) external {
        Device storage device = _ownedBy(deviceId, msg.sender);
        if (!isValidCell(cell)) revert InvalidCell(cell);
        uint64 oldCell = device.cell;
        if (oldCell == cell) revert SameCell(deviceId, cell);
        uint64 now_ = uint64(block.timestamp);
        uint64 eligibleFrom = device.eligibleFrom;
        if (oldCell != 0) {
            eligibleFrom = now_ + moveCooldown;
        } else if (eligibleFrom < now_) {
            eligibleFrom = now_;
        }
        device.cell = cell;
        device.placedAt = now_;
        device.eligibleFrom = eligibleFrom;
        emit DeviceMoved(deviceId, oldCell, cell, now_, eligibleFrom);
    }

    /// @notice Set how long a moved device stays ineligible (admin); moves already made
    /// keep the cool-down they started with.
    function setMoveCooldown(uint64 cooldown) external onlyRole(DEFAULT_ADMIN_ROLE) {
        _setMoveCooldown(cooldown);
    }

    /// @notice Whether `cell` is a valid H3 cell index of resolution {CELL_RESOLUTION}: the
    /// checks of H3's isValidCell (mode, reserved bits, base cell, digits, the deleted
    /// pentagon sub-sequence) for that one resolution.
    function isValidCell(uint64 cell) public pure returns (bool) {
        // Bit 63 reserved, mode (bits 59-62) 1 = cell, bits 56-58 reserved for cells.
        if (cell >> 56 != 0x08) return false;
        if ((cell >> 52) & 0xF != CELL_RESOLUTION) return false;
        uint64 baseCell = (cell >> 45) & 0x7F;
        if (baseCell >= 122) return false;
        // Digits past the resolution are all 7 (three bits each).
        uint64 unused = (uint64(1) << (3 * (15 - CELL_RESOLUTION))) - 1;
        if (cell & unused != unused) return false;
        bool leading = (PENTAGON_BASE_CELLS >> baseCell) & 1 == 1;
        for (uint256 r = 1; r <= CELL_RESOLUTION; ++r) {
            uint64 digit = (cell >> (3 * (15 - r))) & 7;
            if (digit == 7) return false;
            // A pentagon has no sub-sequence starting with digit 1 (the deleted K axis).
            if (leading && digit != 0) {
                if (digit == 1) return false;
                leading = false;
            }
        }
        return true;
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

    /// @notice The device's H3 cell, when it took it (its seniority) and when it may earn
    /// rewards again after a move; all zero when the device is not registered, cell and
    /// placedAt zero while it is not located.
    function locationOf(bytes32 deviceId)
        external
        view
        returns (uint64 cell, uint64 placedAt, uint64 eligibleFrom)
    {
        Device storage device = _devices[deviceId];
        return (device.cell, device.placedAt, device.eligibleFrom);
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

    function _setMoveCooldown(uint64 cooldown) private {
        if (cooldown > MAX_MOVE_COOLDOWN) revert CooldownTooLong(cooldown, MAX_MOVE_COOLDOWN);
        moveCooldown = cooldown;
        emit MoveCooldownSet(cooldown);
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
