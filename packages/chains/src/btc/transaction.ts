/**
 * Bitcoin transactions (legacy and BIP 144 segwit serialisation): one strict
 * decoder, the encoders, and txid/wtxid. Counts and sizes are bounded before
 * anything is allocated; trailing bytes are refused; the decoded form
 * re-encodes to the same bytes.
 */
import { sha256 } from '@noble/hashes/sha2.js';
import { CustodianError } from '@custodian/core/errors';
import { concatBytes } from '@custodian/core/bytes';
import { ByteReader, compactSize, u32le, u64le } from './byte-reader.js';

/** Largest transaction accepted (consensus block weight bound, in bytes). */
export const BTC_TX_BYTES_MAX = 400_000;
/** Most inputs or outputs accepted. */
export const BTC_TX_IO_MAX = 10_000;
/** Largest script accepted. */
export const BTC_SCRIPT_BYTES_MAX = 10_000;
/** Most witness items per input. */
export const BTC_WITNESS_ITEMS_MAX = 500;
/** Most satoshis that can ever exist. */
export const BTC_MAX_MONEY = 21_000_000n * 100_000_000n;

/** A transaction input. */
export interface TxIn {
  /** Previous txid in internal byte order (as serialised). */
  readonly prevTxid: Uint8Array;
  readonly prevIndex: number;
  readonly scriptSig: Uint8Array;
  readonly sequence: number;
  readonly witness: readonly Uint8Array[];
}

/** A transaction output. */
export interface TxOut {
  readonly amount: bigint;
  readonly script: Uint8Array;
}

/** A decoded transaction. */
export interface BitcoinTx {
  readonly version: number;
  readonly inputs: readonly TxIn[];
  readonly outputs: readonly TxOut[];
  readonly lockTime: number;
}

const CODE = 'E_BTC_TX_MALFORMED';

/** Decodes a transaction; `requireEmptyWitness` for unsigned transactions inside a PSBT. */
export function decodeBitcoinTx(bytes: Uint8Array, o: { allowWitness?: boolean } = {}): BitcoinTx {
  if (bytes.length > BTC_TX_BYTES_MAX) throw new CustodianError(CODE, `transaction of ${bytes.length} bytes exceeds ${BTC_TX_BYTES_MAX}`);
  const r = new ByteReader(bytes, CODE);
  const version = r.u32('version');
  let segwit = false;
  if (r.remaining >= 2 && bytes[r.pos] === 0x00 && bytes[r.pos + 1] === 0x01) {
    if (o.allowWitness === false) r.fail('a witness serialisation is not allowed here');
    r.take(2, 'segwit marker');
    segwit = true;
  }
  const nIn = r.compactSize('input count', BTC_TX_IO_MAX);
  if (nIn === 0) r.fail('a transaction needs at least one input');
  const ins: { prevTxid: Uint8Array; prevIndex: number; scriptSig: Uint8Array; sequence: number }[] = [];
  for (let i = 0; i < nIn; i++) {
    ins.push({ prevTxid: new Uint8Array(r.take(32, 'prevout txid')), prevIndex: r.u32('prevout index'), scriptSig: new Uint8Array(r.varBytes('scriptSig', BTC_SCRIPT_BYTES_MAX)), sequence: r.u32('sequence') });
  }
  const nOut = r.compactSize('output count', BTC_TX_IO_MAX);
  if (nOut === 0) r.fail('a transaction needs at least one output');
  const outputs: TxOut[] = [];
  for (let i = 0; i < nOut; i++) {
    const amount = r.u64('amount');
    if (amount > BTC_MAX_MONEY) r.fail(`output ${i} amount exceeds the money supply`);
    outputs.push({ amount, script: new Uint8Array(r.varBytes('scriptPubKey', BTC_SCRIPT_BYTES_MAX)) });
  }
  const witnesses: Uint8Array[][] = ins.map(() => []);
  if (segwit) {
    for (let i = 0; i < nIn; i++) {
      const n = r.compactSize('witness item count', BTC_WITNESS_ITEMS_MAX);
      for (let j = 0; j < n; j++) witnesses[i]!.push(new Uint8Array(r.varBytes('witness item', BTC_SCRIPT_BYTES_MAX)));
    }
    if (witnesses.every((w) => w.length === 0)) r.fail('a segwit serialisation with no witness is not canonical');
  }
  const lockTime = r.u32('lockTime');
  if (r.remaining !== 0) r.fail('trailing bytes after the transaction');
  const tx: BitcoinTx = { version, inputs: ins.map((x, i) => ({ ...x, witness: witnesses[i]! })), outputs, lockTime };
  return tx;
}

function hasWitness(tx: BitcoinTx): boolean {
  return tx.inputs.some((i) => i.witness.length > 0);
}

/** Encodes with witnesses when any input has one (BIP 144), else legacy. */
export function encodeBitcoinTx(tx: BitcoinTx, withWitness = true): Uint8Array {
  const segwit = withWitness && hasWitness(tx);
  const parts: Uint8Array[] = [u32le(tx.version)];
  if (segwit) parts.push(Uint8Array.of(0x00, 0x01));
  parts.push(compactSize(tx.inputs.length));
  for (const i of tx.inputs) parts.push(i.prevTxid, u32le(i.prevIndex), compactSize(i.scriptSig.length), i.scriptSig, u32le(i.sequence));
  parts.push(compactSize(tx.outputs.length));
  for (const o of tx.outputs) parts.push(u64le(o.amount), compactSize(o.script.length), o.script);
  if (segwit) for (const i of tx.inputs) parts.push(compactSize(i.witness.length), ...i.witness.flatMap((w) => [compactSize(w.length), w]));
  parts.push(u32le(tx.lockTime));
  return concatBytes(...parts);
}

/** Double SHA-256. */
export function sha256d(b: Uint8Array): Uint8Array {
  return sha256(sha256(b));
}

/** The txid in display order (reversed), hex. */
export function txid(tx: BitcoinTx): string {
  return Buffer.from(sha256d(encodeBitcoinTx(tx, false))).reverse().toString('hex');
}
