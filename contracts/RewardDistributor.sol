// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {Pausable} from "@openzeppelin/contracts/utils/Pausable.sol";
import {MerkleProof} from "@openzeppelin/contracts/utils/cryptography/MerkleProof.sol";

import {RewardToken} from "./RewardToken.sol";

/// @title RewardDistributor
/// @notice Cumulative Merkle rewards. Each epoch the distributor role publishes a root over
/// OpenZeppelin standard leaves (address account, uint256 cumulative) and the new total
/// promised; the increase (capped per epoch by the admin) is minted here. `claim` pays an
/// account the difference between its cumulative amount and what it was already paid.
contract RewardDistributor is AccessControl, Pausable {
    bytes32 public constant DISTRIBUTOR_ROLE = keccak256("DISTRIBUTOR_ROLE");

    RewardToken public immutable token;

    // These two pack into Pausable's slot.
    uint64 private _currentEpoch;
    bool private _hasRoot;
    bytes32 public merkleRoot;
    uint256 public totalCumulative;
    uint256 public epochCap;
    mapping(uint256 epoch => bytes32) private _roots;
    mapping(address account => uint256) public claimed;

    event RootSet(uint256 indexed epoch, bytes32 root, uint256 totalCumulative, uint256 minted);
    /// The amount paid is in the token's Transfer event beside it.
    event Claimed(address indexed account, uint256 cumulative);
    event EpochCapSet(uint256 cap);

    error EpochNotIncreasing(uint256 current, uint256 given);
    error EpochTooLarge(uint256 given);
    error ZeroRoot();
    error TotalDecreased(uint256 current, uint256 given);
    error EpochCapExceeded(uint256 increase, uint256 cap);
    error InvalidProof();
    error NothingToClaim(address account, uint256 cumulative, uint256 alreadyClaimed);
    error NoRoot();

    constructor(RewardToken token_, address admin, uint256 epochCap_) {
        token = token_;
        epochCap = epochCap_;
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
        emit EpochCapSet(epochCap_);
    }

    /// @notice Publish `root` for `epoch` promising `newTotal` in all; mints the increase.
    /// Allowed while paused so that a faulty root can be superseded before claims resume.
    function setRoot(uint256 epoch, bytes32 root, uint256 newTotal)
        external
        onlyRole(DISTRIBUTOR_ROLE)
    {
        if (root == bytes32(0)) revert ZeroRoot();
        if (epoch > type(uint64).max) revert EpochTooLarge(epoch);
        if (_hasRoot && epoch <= _currentEpoch) revert EpochNotIncreasing(_currentEpoch, epoch);
        uint256 previous = totalCumulative;
        if (newTotal < previous) revert TotalDecreased(previous, newTotal);
        uint256 increase = newTotal - previous;
        if (increase > epochCap) revert EpochCapExceeded(increase, epochCap);
        _currentEpoch = uint64(epoch);
        _hasRoot = true;
        merkleRoot = root;
        totalCumulative = newTotal;
        _roots[epoch] = root;
        if (increase > 0) token.mint(address(this), increase);
        emit RootSet(epoch, root, newTotal, increase);
    }

    /// @notice Pay `account` what its leaf promises beyond what it was paid; anyone may submit.
    function claim(address account, uint256 cumulative, bytes32[] calldata proof)
        external
        whenNotPaused
    {
        bytes32 leaf = keccak256(bytes.concat(keccak256(abi.encode(account, cumulative))));
        if (!MerkleProof.verifyCalldata(proof, merkleRoot, leaf)) revert InvalidProof();
        uint256 already = claimed[account];
        if (cumulative <= already) revert NothingToClaim(account, cumulative, already);
        claimed[account] = cumulative;
        // The token is ours (OpenZeppelin ERC20): transfer reverts rather than returning false.
        unchecked {
            token.transfer(account, cumulative - already);
        }
        emit Claimed(account, cumulative);
    }

    /// @notice Whether `proof` shows `cumulative` for `account` under the current root.
    function verifyLeaf(address account, uint256 cumulative, bytes32[] calldata proof)
        external
        view
        returns (bool)
    {
        bytes32 leaf = keccak256(bytes.concat(keccak256(abi.encode(account, cumulative))));
        return MerkleProof.verifyCalldata(proof, merkleRoot, leaf);
    }

    function currentEpoch() external view returns (uint256) {
        if (!_hasRoot) revert NoRoot();
        return _currentEpoch;
    }

    function hasRoot() external view returns (bool) {
        return _hasRoot;
    }

    function rootOf(uint256 epoch) external view returns (bytes32) {
        return _roots[epoch];
    }

    /// @notice The most `setRoot` may raise the total promised in one epoch.
    function setEpochCap(uint256 cap) external onlyRole(DEFAULT_ADMIN_ROLE) {
        epochCap = cap;
        emit EpochCapSet(cap);
    }

    function pause() external onlyRole(DEFAULT_ADMIN_ROLE) {
        _pause();
    }

    function unpause() external onlyRole(DEFAULT_ADMIN_ROLE) {
        _unpause();
    }
}
