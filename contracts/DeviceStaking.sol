// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {SafeCast} from "@openzeppelin/contracts/utils/math/SafeCast.sol";
import {Pausable} from "@openzeppelin/contracts/utils/Pausable.sol";
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";

import {DeviceRegistry} from "./DeviceRegistry.sol";

/// @title DeviceStaking
/// @notice Reward tokens staked behind devices. A device is eligible for rewards only while
/// its current owner has at least `minStake` staked for it, and it is registered, active,
/// located and past its move cool-down. Leaving takes two steps: `requestUnstake` moves
/// tokens to pending (they stop counting at once but stay slashable), `withdraw` pays them
/// out after `unstakeDelay`. The slasher role takes staked and pending tokens of a device
/// with an evidence URI; they go to the treasury. Tokens are only ever moved, never minted
/// or burnt here, so the contract's balance is the sum of all staked and pending amounts.
contract DeviceStaking is AccessControl, Pausable, ReentrancyGuardTransient {
    using SafeERC20 for IERC20;
    using SafeCast for uint256;

    bytes32 public constant SLASHER_ROLE = keccak256("SLASHER_ROLE");
    /// A longer delay would let an admin lock stakers' tokens indefinitely.
    uint64 public constant MAX_UNSTAKE_DELAY = 365 days;

    /// One staker's tokens behind one device; one storage slot.
    struct Stake {
        uint96 amount;
        uint96 pending;
        uint64 unlockAt;
    }

    /// What the reward scoring needs to know about a device, read in one call.
    struct Eligibility {
        address owner;
        bool active;
        uint64 cell;
        uint64 placedAt;
        uint64 eligibleFrom;
        uint256 staked; // the current owner's stake, pending tokens excluded
        bool eligible;
    }

    IERC20 public immutable token;
    DeviceRegistry public immutable registry;
    // These two share a slot.
    address public treasury;
    uint64 public unstakeDelay;
    uint256 public minStake;
    // A device's stakes are kept per staker, so a former owner can still take out (and be
    // slashed on) what it put in, and cannot block the new owner from staking.
    mapping(bytes32 deviceId => mapping(address staker => Stake)) private _stakes;

    event Staked(bytes32 indexed deviceId, address indexed staker, uint256 amount, uint256 staked);
    event UnstakeRequested(
        bytes32 indexed deviceId, address indexed staker, uint256 amount, uint256 pending, uint64 unlockAt
    );
    event Withdrawn(bytes32 indexed deviceId, address indexed staker, uint256 amount);
    /// `evidenceURI` names the epoch bundle and the flag that justify the slash.
    event Slashed(
        bytes32 indexed deviceId, address indexed staker, uint256 amount, address treasury, string evidenceURI
    );
    event MinStakeSet(uint256 minStake);
    event UnstakeDelaySet(uint64 delay);
    event TreasurySet(address treasury);

    error ZeroAmount();
    error NotDeviceOwner(bytes32 deviceId, address caller);
    error InsufficientStake(uint256 staked, uint256 requested);
    error NothingPending(bytes32 deviceId, address staker);
    error StillLocked(uint64 unlockAt);
    error NothingToSlash(bytes32 deviceId, address staker);
    error EmptyEvidence();
    error InvalidTreasury();
    error DelayTooLong(uint64 given, uint64 max);

    constructor(
        IERC20 token_,
        DeviceRegistry registry_,
        address admin,
        address treasury_,
        uint256 minStake_,
        uint64 unstakeDelay_
    ) {
        token = token_;
        registry = registry_;
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
        _setTreasury(treasury_);
        _setMinStake(minStake_);
        _setUnstakeDelay(unstakeDelay_);
    }

    /// @notice Add `amount` to the caller's stake behind `deviceId`; only the device's
    /// owner may, after approving this contract for the amount.
    function stake(bytes32 deviceId, uint256 amount) external whenNotPaused nonReentrant {
        if (amount == 0) revert ZeroAmount();
        if (registry.ownerOf(deviceId) != msg.sender) revert NotDeviceOwner(deviceId, msg.sender);
        Stake storage s = _stakes[deviceId][msg.sender];
        // Staked plus pending fits in 96 bits, so every later sum of the two does too.
        (uint256(s.amount) + s.pending + amount).toUint96();
        uint96 staked = s.amount + uint96(amount);
        s.amount = staked;
        token.safeTransferFrom(msg.sender, address(this), amount);
        emit Staked(deviceId, msg.sender, amount, staked);
    }

    /// @notice Move `amount` of the caller's stake behind `deviceId` to pending; it can be
    /// withdrawn `unstakeDelay` from now (a further request restarts the wait for all that
    /// is pending). Pending tokens do not count towards eligibility and can be slashed.
    function requestUnstake(bytes32 deviceId, uint256 amount) external whenNotPaused {
        if (amount == 0) revert ZeroAmount();
        Stake storage s = _stakes[deviceId][msg.sender];
        uint96 staked = s.amount;
        if (amount > staked) revert InsufficientStake(staked, amount);
        uint96 pending = s.pending + uint96(amount);
        uint64 unlockAt = uint64(block.timestamp) + unstakeDelay;
        s.amount = staked - uint96(amount);
        s.pending = pending;
        s.unlockAt = unlockAt;
        emit UnstakeRequested(deviceId, msg.sender, amount, pending, unlockAt);
    }

    /// @notice Pay the caller its pending tokens behind `deviceId` once they are unlocked.
    function withdraw(bytes32 deviceId) external whenNotPaused nonReentrant {
        Stake storage s = _stakes[deviceId][msg.sender];
        uint96 pending = s.pending;
        if (pending == 0) revert NothingPending(deviceId, msg.sender);
        if (block.timestamp < s.unlockAt) revert StillLocked(s.unlockAt);
        s.pending = 0;
        s.unlockAt = 0;
        token.safeTransfer(msg.sender, pending);
        emit Withdrawn(deviceId, msg.sender, pending);
    }

    /// @notice Take up to `amount` of `staker`'s tokens behind `deviceId` (staked first, then
    /// pending) and send them to the treasury. Allowed while paused, so that exits can be
    /// frozen while evidence is weighed.
    function slash(bytes32 deviceId, address staker, uint256 amount, string calldata evidenceURI)
        external
        onlyRole(SLASHER_ROLE)
        nonReentrant
        returns (uint256 taken)
    {
        if (amount == 0) revert ZeroAmount();
        if (bytes(evidenceURI).length == 0) revert EmptyEvidence();
        Stake storage s = _stakes[deviceId][staker];
        uint96 staked = s.amount;
        uint96 pending = s.pending;
        uint256 available = uint256(staked) + pending;
        if (available == 0) revert NothingToSlash(deviceId, staker);
        taken = amount < available ? amount : available;
        if (taken <= staked) {
            s.amount = staked - uint96(taken);
        } else {
            s.amount = 0;
            s.pending = uint96(available - taken);
        }
        address to = treasury;
        token.safeTransfer(to, taken);
        emit Slashed(deviceId, staker, taken, to, evidenceURI);
    }

    /// @notice `staker`'s tokens behind `deviceId`: staked, pending and when pending unlocks.
    function stakeOf(bytes32 deviceId, address staker)
        external
        view
        returns (uint256 amount, uint256 pending, uint64 unlockAt)
    {
        Stake memory s = _stakes[deviceId][staker];
        return (s.amount, s.pending, s.unlockAt);
    }

    /// @notice Whether `deviceId` may be rewarded now.
    function isEligible(bytes32 deviceId) external view returns (bool) {
        return _eligibility(deviceId).eligible;
    }

    /// @notice {Eligibility} of each device, in one call (read it at the block that closes an
    /// epoch to score that epoch).
    function eligibility(bytes32[] calldata deviceIds) external view returns (Eligibility[] memory out) {
        out = new Eligibility[](deviceIds.length);
        for (uint256 i = 0; i < deviceIds.length; ++i) {
            out[i] = _eligibility(deviceIds[i]);
        }
    }

    function setMinStake(uint256 minStake_) external onlyRole(DEFAULT_ADMIN_ROLE) {
        _setMinStake(minStake_);
    }

    /// @notice Requests already made keep the unlock time they were given.
    function setUnstakeDelay(uint64 delay) external onlyRole(DEFAULT_ADMIN_ROLE) {
        _setUnstakeDelay(delay);
    }

    function setTreasury(address treasury_) external onlyRole(DEFAULT_ADMIN_ROLE) {
        _setTreasury(treasury_);
    }

    function pause() external onlyRole(DEFAULT_ADMIN_ROLE) {
        _pause();
    }

    function unpause() external onlyRole(DEFAULT_ADMIN_ROLE) {
        _unpause();
    }

    function _eligibility(bytes32 deviceId) private view returns (Eligibility memory e) {
        e.owner = registry.ownerOf(deviceId);
        if (e.owner == address(0)) return e;
        e.active = registry.isActive(deviceId);
        (e.cell, e.placedAt, e.eligibleFrom) = registry.locationOf(deviceId);
        e.staked = _stakes[deviceId][e.owner].amount;
        // A zero minimum still asks for some stake: every rewarded device has one.
        e.eligible = e.active && e.cell != 0 && block.timestamp >= e.eligibleFrom
            && e.staked >= minStake && e.staked > 0;
    }

    function _setMinStake(uint256 minStake_) private {
        minStake = minStake_;
        emit MinStakeSet(minStake_);
    }

    function _setUnstakeDelay(uint64 delay) private {
        if (delay > MAX_UNSTAKE_DELAY) revert DelayTooLong(delay, MAX_UNSTAKE_DELAY);
        unstakeDelay = delay;
        emit UnstakeDelaySet(delay);
    }

    function _setTreasury(address treasury_) private {
        if (treasury_ == address(0)) revert InvalidTreasury();
        treasury = treasury_;
        emit TreasurySet(treasury_);
    }
}
