/**
 * Reading the custody log in order: each leaf decoded and verified
 * (custody-leaf.ts), each signer's sequence and hash chain checked, and the
 * identity keys checked against (and extended by) the attestations recorded
 * in the log. One reader per pass from index 0; memory is bounded by the
 * number of signers.
 */
import { isCustodianError } from '@custodian/core/errors';
import { auditError } from './errors.js';
import { CustodyChains, decodeCustodyLeaf, type CustodyLeaf, type SignerKeys } from './custody-leaf.js';
import { CustodySignerBook } from './custody-signers.js';

/** Codes a custody leaf is refused with (kept as they are, with the index added). */
const LEAF_CODES = [
  'E_LEAF_MALFORMED', 'E_LEAF_SIGNER_UNKNOWN', 'E_LEAF_SIGNATURE', 'E_LEAF_UNTYPED', 'E_LEAF_MISMATCH', 'E_LEAF_CHAIN', 'E_SIGNER_KEY_MISMATCH', 'E_ENTRY_INVALID', 'E_ENTRY_TOO_LARGE',
] as const;

/** Verifies custody leaves in log order. */
export class CustodyLogReader {
  readonly book: CustodySignerBook;
  readonly chains = new CustodyChains();
  #next = 0;

  constructor(keys: SignerKeys) {
    this.book = new CustodySignerBook(keys);
  }

  /** The leaf at `index` (which must be the next one), verified; throws its typed error naming the index. */
  read(bytes: Uint8Array, index: number): CustodyLeaf {
    if (index !== this.#next) throw auditError('E_AUDIT_RANGE', `custody leaves must be read in order from 0 (got ${index}, expected ${this.#next})`, { index });
    let leaf: CustodyLeaf;
    try {
      leaf = decodeCustodyLeaf(bytes, this.book.keys);
    } catch (e) {
      if (isCustodianError(e, ...LEAF_CODES)) throw auditError(e.code as (typeof LEAF_CODES)[number], `entry ${index}: ${e.message}`, { ...e.detail, index });
      throw e;
    }
    this.chains.accept(leaf, index);
    this.book.observe(leaf, index);
    this.#next = index + 1;
    return leaf;
  }
}
