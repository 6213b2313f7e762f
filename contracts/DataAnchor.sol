// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";

/// @title DataAnchor
/// @notice One Merkle root of the aggregator's reports per epoch. Only the root is kept in
/// storage; the report count and metadata URI travel in the event, which keeps an anchor
/// close to the cost of its one new storage slot.
contract DataAnchor is AccessControl {
    bytes32 public constant ANCHORER_ROLE = keccak256("ANCHORER_ROLE");

    struct Head {
        uint64 latestEpoch;
        bool anchored;
    }

    mapping(uint256 epoch => bytes32) private _roots;
    Head private _head;

    event Anchored(uint256 indexed epoch, bytes32 root, uint256 count, string uri);

    error EpochNotIncreasing(uint256 latest, uint256 given);
    error EpochTooLarge(uint256 given);
    error ZeroRoot();
    error NothingAnchored();

    constructor(address admin, address anchorer) {
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
        _grantRole(ANCHORER_ROLE, anchorer);
    }

    /// @notice Anchor `root` for `epoch`; epochs strictly increase, the root is never zero.
    function anchor(uint256 epoch, bytes32 root, uint256 count, string calldata uri)
        external
        onlyRole(ANCHORER_ROLE)
    {
        if (root == bytes32(0)) revert ZeroRoot();
        if (epoch > type(uint64).max) revert EpochTooLarge(epoch);
        Head memory head = _head;
        if (head.anchored && epoch <= head.latestEpoch) {
            revert EpochNotIncreasing(head.latestEpoch, epoch);
        }
        _roots[epoch] = root;
        _head = Head({latestEpoch: uint64(epoch), anchored: true});
        emit Anchored(epoch, root, count, uri);
    }

    /// @notice The root anchored for `epoch`, zero when none.
    function rootOf(uint256 epoch) external view returns (bytes32) {
        return _roots[epoch];
    }

    /// @notice The last anchored epoch; reverts when nothing is anchored yet.
    function latestEpoch() external view returns (uint256) {
        Head memory head = _head;
        if (!head.anchored) revert NothingAnchored();
        return head.latestEpoch;
    }

    function hasAnchor() external view returns (bool) {
        return _head.anchored;
    }
}
