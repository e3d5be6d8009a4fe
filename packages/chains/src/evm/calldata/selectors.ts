/**
 * Function selectors the policy engine recognises, computed from their
 * canonical signatures (Solidity ABI spec: first 4 bytes of keccak256) so
 * that each constant shows what it stands for.
 */
import { keccak_256 } from '@noble/hashes/sha3.js';

/** The 4-byte selector of a canonical function signature, as 8 lower-case hex digits. */
export function selectorOf(signature: string): string {
  return Buffer.from(keccak_256(new TextEncoder().encode(signature)).subarray(0, 4)).toString('hex');
}

/** ERC-20 and EIP-2612 methods that move or authorise moving tokens. */
export const ERC20_SELECTORS = Object.freeze({
  transfer: selectorOf('transfer(address,uint256)'),
  transferFrom: selectorOf('transferFrom(address,address,uint256)'),
  approve: selectorOf('approve(address,uint256)'),
  increaseAllowance: selectorOf('increaseAllowance(address,uint256)'),
  permit: selectorOf('permit(address,address,uint256,uint256,uint8,bytes32,bytes32)'),
});

/** ERC-721 / ERC-1155 blanket approval (THREATS.md B17). */
export const SET_APPROVAL_FOR_ALL_SELECTOR = selectorOf('setApprovalForAll(address,bool)');

/** Safe (Gnosis Safe) v1.x execTransaction. */
export const SAFE_EXEC_TRANSACTION_SELECTOR = selectorOf('execTransaction(address,uint256,bytes,uint8,uint256,uint256,uint256,address,address,bytes)');

/** Safe MultiSend / MultiSendCallOnly `multiSend(bytes)`. */
export const MULTISEND_SELECTOR = selectorOf('multiSend(bytes)');

/**
 * Methods that change who controls a contract or what code it runs
 * (THREATS.md B15): proxies, Safe owner/module/guard management, Ownable.
 */
export const PRIVILEGED_SIGNATURES: readonly string[] = Object.freeze([
  'changeMasterCopy(address)',
  'upgradeTo(address)',
  'upgradeToAndCall(address,bytes)',
  'transferOwnership(address)',
  'renounceOwnership()',
  'setGuard(address)',
  'setModuleGuard(address)',
  'enableModule(address)',
  'disableModule(address,address)',
  'setFallbackHandler(address)',
  'addOwnerWithThreshold(address,uint256)',
  'removeOwner(address,address,uint256)',
  'swapOwner(address,address,address)',
  'changeThreshold(uint256)',
  'setup(address[],uint256,address,bytes,address,address,uint256,address)',
]);

/** Selector → method name for the privileged methods. */
export const PRIVILEGED_SELECTORS: ReadonlyMap<string, string> = new Map(
  PRIVILEGED_SIGNATURES.map((s) => [selectorOf(s), s.slice(0, s.indexOf('('))] as const),
);
