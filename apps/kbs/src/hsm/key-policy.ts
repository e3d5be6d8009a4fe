/**
 * The key-usage policy for root keys, checked by the wrapper before any
 * template reaches the module and again on every key found on a token
 * (THREATS.md B35: an extractable root, WRAP together with DECRYPT, or a wrap
 * with a key that is not one of ours are refused as E_HSM_POLICY). The HSM's
 * own policy is the second line; this one holds even for lenient modules.
 */
import { CustodianError } from '@custodian/core/errors';
import type { RootKeyRole } from './root-of-trust.js';

/** The usage flags of a key, as read from or written to a token. */
export interface KeyUsage {
  readonly extractable: boolean;
  readonly sensitive: boolean;
  readonly wrap: boolean;
  readonly unwrap: boolean;
  readonly encrypt: boolean;
  readonly decrypt: boolean;
  readonly sign: boolean;
  readonly derive: boolean;
}

/** The only usage each root role may have. */
export const ROOT_KEY_USAGE: Readonly<Record<RootKeyRole, KeyUsage>> = Object.freeze({
  'kbs-wrapping': { extractable: false, sensitive: true, wrap: true, unwrap: true, encrypt: false, decrypt: false, sign: false, derive: false },
  recovery: { extractable: false, sensitive: true, wrap: false, unwrap: false, encrypt: false, decrypt: false, sign: false, derive: true },
  'kbs-signing': { extractable: false, sensitive: true, wrap: false, unwrap: false, encrypt: false, decrypt: false, sign: true, derive: false },
});

/** Lists every way `usage` breaks the root-key rules; empty when it complies. */
export function rootKeyPolicyViolations(role: RootKeyRole, usage: KeyUsage): string[] {
  const reasons: string[] = [];
  if (usage.extractable) reasons.push(`${role} key is extractable (CKA_EXTRACTABLE must be false)`);
  if (!usage.sensitive) reasons.push(`${role} key is not sensitive (CKA_SENSITIVE must be true)`);
  if ((usage.wrap || usage.unwrap) && (usage.encrypt || usage.decrypt)) {
    reasons.push(`${role} key mixes key wrapping with encryption or decryption (a wrapped key could be decrypted out)`);
  }
  const expected = ROOT_KEY_USAGE[role];
  for (const flag of ['wrap', 'unwrap', 'encrypt', 'decrypt', 'sign', 'derive'] as const) {
    if (usage[flag] && !expected[flag]) reasons.push(`${role} key has a usage it must not have: ${flag}`);
  }
  return reasons;
}

/** Throws E_HSM_POLICY unless `usage` complies with the role's policy. */
export function assertRootKeyPolicy(role: RootKeyRole, usage: KeyUsage, where: string): void {
  const reasons = rootKeyPolicyViolations(role, usage);
  if (reasons.length > 0) {
    throw new CustodianError('E_HSM_POLICY', `refused by the root-key policy (${where}): ${reasons.join('; ')}`, { role, where, reasons });
  }
}
