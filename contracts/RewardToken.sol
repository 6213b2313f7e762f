// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";

/// @title RewardToken
/// @notice The ERC-20 paid to device owners and staked behind their devices
/// (DeviceStaking); only holders of MINTER_ROLE mint. A genesis supply, minted once at
/// deployment, lets the first owners stake before any reward has been paid.
contract RewardToken is ERC20, AccessControl {
    bytes32 public constant MINTER_ROLE = keccak256("MINTER_ROLE");

    constructor(
        string memory name_,
        string memory symbol_,
        address admin,
        address genesisHolder,
        uint256 genesisSupply
    ) ERC20(name_, symbol_) {
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
        if (genesisSupply > 0) _mint(genesisHolder, genesisSupply);
    }

    function mint(address to, uint256 amount) external onlyRole(MINTER_ROLE) {
        _mint(to, amount);
    }
}
