/**
 * Correlated OT extension with a Z_q^W correlation: KOS15 ("Actively Secure
 * OT Extension with Optimal Overhead", Keller-Orsini-Scholl; its GF(2^κ)
 * correlation check, whose proof the corrected ePrint version and Roy's
 * SoftSpokenOT re-analyse) over OT_BASE_COUNT base OTs, with the consistency
 * check's challenges derived by Fiat-Shamir as DKLs23 §5.1 prescribes, and the
 * derandomisation to correlated OT of DKLs18 Protocol 9.
 *
 * Roles: the extension *receiver* (DKLs "Bob", choice bits x) was the base-OT
 * *sender* and holds both seeds of every base OT; the extension *sender*
 * ("Alice", correlation α) was the base-OT receiver with choice bits Δ.
 *
 *   Bob:   t_i^b = PRG(k_i^b, ctx), u_i = t_i^0 ⊕ t_i^1 ⊕ x;   χ = H(ctx, u)
 *          x̃ = Σ x_j χ_j, t̃ = Σ t_j χ_j                         → (u, x̃, t̃)
 *   Alice: q_i = t_i^{Δ_i} ⊕ Δ_i u_i; check Σ q_j χ_j = t̃ + x̃·Δ
 *          ρ_j^0 = H(j, q_j), ρ_j^1 = H(j, q_j ⊕ Δ) ∈ Z_q^W
 *          z^A_j = −ρ_j^0, τ_j = ρ_j^0 − ρ_j^1 + α               → τ
 *   Bob:   z^B_j = ρ_j^{x_j} + x_j τ_j = H(j, t_j) + x_j τ_j,  so z^A_j + z^B_j = x_j·α
 *
 * `ctx` binds the session id, both parties, the direction and a fresh nonce of
 * Bob's, so PRG output is never reused even if an orchestrator reuses a session id.
 */
import type { Random } from '@custodian/core/clock';
import { assert } from '@custodian/core/errors';
import { equalBytes, utf8 } from '@custodian/core/bytes';
import { fail } from './errors.js';
import { gfBitSum, gfColumnSum, gfFromBytes, gfMul, gfToBytes } from './gf128.js';
import { MUL_BATCH, OT_BASE_COUNT, OT_EXT_PAD, SCALAR_BYTES } from './limits.js';
import { Shake128Prefix, expandTranscript, hashTranscript } from './transcript.js';
import { mod, scalarFromBytes, scalarsFromUniform, writeScalar } from './group.js';

const NONCE_BYTES = 32;
// Module-local copies of the limits used in loops (a re-exported binding is a getter under some loaders).
const KAPPA = OT_BASE_COUNT;
const BATCH = MUL_BATCH;
const SCALAR = SCALAR_BYTES;
const ROW_LABEL = utf8('custodian/ecdsa/kos/row/v2');
const ROW_SCALAR_BYTES = 40;
/** Bytes of Bob's extension message for `batch` OTs: nonce, κ columns, x̃, t̃. */
export function extensionMessageBytes(batch: number): number {
  return NONCE_BYTES + KAPPA * columnBytes(batch) + 32;
}
/** Bytes of Bob's extension message in a multiplication. */
export const COT_RECEIVER_MESSAGE_BYTES = extensionMessageBytes(BATCH);
/** Random OTs that one extension yields to reverse the direction of a base-OT batch. */
export const ROT_REVERSE_BATCH = KAPPA;

function columnBytes(batch: number): number {
  return (batch + OT_EXT_PAD) / 8;
}

/** Bob's long-term state for one direction of a pair: both seeds of every base OT. */
export interface CotReceiverSetup {
  readonly seeds0: readonly Uint8Array[];
  readonly seeds1: readonly Uint8Array[];
}

/** Alice's long-term state for one direction of a pair: Δ and the chosen seeds. */
export interface CotSenderSetup {
  readonly delta: readonly number[];
  readonly seeds: readonly Uint8Array[];
}

/** Bob's state between his message and Alice's answer. */
export interface CotReceiverState {
  readonly ctx: Uint8Array;
  readonly choices: Uint8Array;
  readonly rows: readonly Uint8Array[];
  readonly message: Uint8Array;
}

function bit(v: Uint8Array, j: number): number {
  return (v[j >> 3]! >> (j & 7)) & 1;
}

function u32(i: number): Uint8Array {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, i);
  return b;
}

function prg(seed: Uint8Array, ctx: Uint8Array, bytes: number): Uint8Array {
  return expandTranscript(bytes, 'custodian/ecdsa/kos/prg/v1', seed, ctx);
}

function challenges(ctx: Uint8Array, columns: Uint8Array, rows: number): Uint8Array {
  return expandTranscript(16 * rows, 'custodian/ecdsa/kos/chi/v1', ctx, columns);
}

/**
 * Rows 0..rows−1 of the KAPPA columns: row j's bit i is bit j of column i
 * (bits little-endian within bytes). Works on 8×8 bit blocks: the bytes
 * columns[8c..8c+7][b] hold an 8×8 block whose transpose is row 8b+u's byte c.
 */
export function transpose(columns: readonly Uint8Array[], rows: number): Uint8Array[] {
  const rowBytes = KAPPA / 8;
  const out: Uint8Array[] = Array.from({ length: rows }, () => new Uint8Array(rowBytes));
  const blocks = Math.ceil(rows / 8);
  for (let c = 0; c < rowBytes; c++) {
    const c0 = columns[8 * c]!, c1 = columns[8 * c + 1]!, c2 = columns[8 * c + 2]!, c3 = columns[8 * c + 3]!;
    const c4 = columns[8 * c + 4]!, c5 = columns[8 * c + 5]!, c6 = columns[8 * c + 6]!, c7 = columns[8 * c + 7]!;
    for (let b = 0; b < blocks; b++) {
      // Bit 8t+u of (hi ‖ lo) is bit u of column 8c+t's byte b; the three steps (Hacker's Delight
      // transpose8 on two 32-bit halves) move it to bit 8u+t.
      let lo = c0[b]! | (c1[b]! << 8) | (c2[b]! << 16) | (c3[b]! << 24);
      let hi = c4[b]! | (c5[b]! << 8) | (c6[b]! << 16) | (c7[b]! << 24);
      let t = (lo ^ (lo >>> 7)) & 0x00aa00aa;
      lo = lo ^ t ^ (t << 7);
      t = (hi ^ (hi >>> 7)) & 0x00aa00aa;
      hi = hi ^ t ^ (t << 7);
      t = (lo ^ (lo >>> 14)) & 0x0000cccc;
      lo = lo ^ t ^ (t << 14);
      t = (hi ^ (hi >>> 14)) & 0x0000cccc;
      hi = hi ^ t ^ (t << 14);
      t = (lo ^ (hi << 4)) & 0xf0f0f0f0;
      lo ^= t;
      hi ^= t >>> 4;
      // Now byte u of (hi ‖ lo), u = 0..7 low to high, is row 8b+u (bit t = column 8c+t).
      const base = 8 * b;
      const write = (u: number, v: number): void => {
        if (base + u < rows) out[base + u]![c] = v & 0xff;
      };
      write(0, lo);
      write(1, lo >>> 8);
      write(2, lo >>> 16);
      write(3, lo >>> 24);
      write(4, hi);
      write(5, hi >>> 8);
      write(6, hi >>> 16);
      write(7, hi >>> 24);
    }
  }
  return out;
}

/** The bit-by-bit definition of transpose (tests compare the two). */
export function transposeReference(columns: readonly Uint8Array[], rows: number): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (let j = 0; j < rows; j++) {
    const row = new Uint8Array(KAPPA / 8);
    for (let i = 0; i < KAPPA; i++) row[i >> 3]! |= bit(columns[i]!, j) << (i & 7);
    out.push(row);
  }
  return out;
}

/**
 * Correlation-robust hash of row j to W scalars: SHAKE128 (128-bit security,
 * the level of the OT layer) with 40-byte pieces (bias < 2^-190), so that
 * W = 4 fits one Keccak permutation.
 */
function rowHasher(ctx: Uint8Array, width: number): Shake128Prefix {
  return new Shake128Prefix(ROW_SCALAR_BYTES * width, [ROW_LABEL, ctx]);
}

/** The row hash of rowHasher(ctx, width): SHAKE128(encodeParts([ROW_LABEL, ctx, j, row])). */
function rowScalars(hasher: Shake128Prefix, j: number, row: Uint8Array, width: number): bigint[] {
  return scalarsFromUniform(hasher.expandIndexed(j, row), width, ROW_SCALAR_BYTES);
}

/** The binding context of one extension: session, pair, direction and Bob's nonce. */
export function cotContext(pairContext: Uint8Array, nonce: Uint8Array): Uint8Array {
  return hashTranscript('custodian/ecdsa/kos/ctx/v1', pairContext, nonce);
}

/** KOS15 extension, receiver side: columns u and the check values (x̃, t̃) for `batch` choice bits. */
function extendReceiver(setup: CotReceiverSetup, pairContext: Uint8Array, choices: Uint8Array, batch: number, random: Random): CotReceiverState {
  assert(choices.length === batch / 8, 'choice vector has the batch size');
  const colBytes = columnBytes(batch);
  const rowsTotal = colBytes * 8;
  const size = extensionMessageBytes(batch);
  const nonce = random.bytes(NONCE_BYTES);
  const ctx = cotContext(pairContext, nonce);
  const x = new Uint8Array(colBytes);
  x.set(choices);
  x.set(random.bytes(colBytes - choices.length), choices.length); // KOS padding
  const t0: Uint8Array[] = [];
  const message = new Uint8Array(size);
  message.set(nonce, 0);
  for (let i = 0; i < KAPPA; i++) {
    const a = prg(setup.seeds0[i]!, ctx, colBytes);
    const b = prg(setup.seeds1[i]!, ctx, colBytes);
    t0.push(a);
    const off = NONCE_BYTES + i * colBytes;
    for (let k = 0; k < colBytes; k++) message[off + k] = a[k]! ^ b[k]! ^ x[k]!;
  }
  const chis = challenges(ctx, message.subarray(NONCE_BYTES, size - 32), rowsTotal);
  message.set(gfToBytes(gfBitSum(x, chis, rowsTotal)), size - 32);
  message.set(gfToBytes(gfColumnSum(t0, chis, rowsTotal)), size - 16);
  return { ctx, choices: x, rows: transpose(t0, batch), message };
}

/** KOS15 extension, sender side: the consistency check, then the rows q_j and Δ. */
function extendSender(setup: CotSenderSetup, pairContext: Uint8Array, message: Uint8Array, batch: number): { ctx: Uint8Array; rows: Uint8Array[]; delta: Uint8Array } {
  const size = extensionMessageBytes(batch);
  if (message.length !== size) fail('E_MPC_SHAPE', `OT extension message must be ${size} bytes`, { length: message.length });
  const colBytes = columnBytes(batch);
  const rowsTotal = colBytes * 8;
  const ctx = cotContext(pairContext, message.subarray(0, NONCE_BYTES));
  const q: Uint8Array[] = [];
  for (let i = 0; i < KAPPA; i++) {
    const col = prg(setup.seeds[i]!, ctx, colBytes);
    if (setup.delta[i] === 1) {
      const off = NONCE_BYTES + i * colBytes;
      for (let k = 0; k < colBytes; k++) col[k]! ^= message[off + k]!;
    }
    q.push(col);
  }
  const chis = challenges(ctx, message.subarray(NONCE_BYTES, size - 32), rowsTotal);
  const xTilde = gfFromBytes(message.subarray(size - 32, size - 16));
  const tTilde = gfFromBytes(message.subarray(size - 16));
  const delta = new Uint8Array(KAPPA / 8);
  for (let i = 0; i < KAPPA; i++) delta[i >> 3]! |= setup.delta[i]! << (i & 7);
  const qTilde = gfColumnSum(q, chis, rowsTotal);
  if (!equalBytes(gfToBytes(qTilde), gfToBytes(tTilde ^ gfMul(xTilde, gfFromBytes(delta))))) {
    fail('E_MPC_OT_CHECK_FAILED', 'the OT extension consistency check failed');
  }
  return { ctx, rows: transpose(q, batch), delta };
}

/** Bob's first message for MUL_BATCH choice bits (packed, little-endian bit order). */
export function cotReceiverStart(setup: CotReceiverSetup, pairContext: Uint8Array, choices: Uint8Array, random: Random): CotReceiverState {
  return extendReceiver(setup, pairContext, choices, BATCH, random);
}

/**
 * Alice checks Bob's message (E_MPC_OT_CHECK_FAILED when the KOS check fails)
 * and correlates every extended OT with `alpha` (W scalars). Returns her shares
 * z^A (MUL_BATCH × W) and her answer τ.
 */
export function cotSenderRespond(setup: CotSenderSetup, pairContext: Uint8Array, receiverMessage: Uint8Array, alpha: readonly bigint[]): { zA: bigint[][]; message: Uint8Array } {
  const { ctx, rows, delta } = extendSender(setup, pairContext, receiverMessage, BATCH);
  const width = alpha.length;
  const zA: bigint[][] = [];
  const message = new Uint8Array(BATCH * width * SCALAR);
  const hasher = rowHasher(ctx, width);
  for (let j = 0; j < BATCH; j++) {
    const row0 = rows[j]!;
    const row1 = row0.map((v, k) => v ^ delta[k]!);
    const rho0 = rowScalars(hasher, j, row0, width);
    const rho1 = rowScalars(hasher, j, row1, width);
    zA.push(rho0.map((r) => mod(-r)));
    for (let w = 0; w < width; w++) {
      writeScalar(message, (j * width + w) * SCALAR, mod(rho0[w]! - rho1[w]! + alpha[w]!));
    }
  }
  return { zA, message };
}

/** Bob's shares z^B (MUL_BATCH × W) from Alice's answer τ. */
export function cotReceiverFinish(state: CotReceiverState, senderMessage: Uint8Array, width: number): bigint[][] {
  if (senderMessage.length !== BATCH * width * SCALAR) {
    fail('E_MPC_SHAPE', `OT extension answer must be ${BATCH * width * SCALAR} bytes`, { length: senderMessage.length });
  }
  const zB: bigint[][] = [];
  const hasher = rowHasher(state.ctx, width);
  for (let j = 0; j < BATCH; j++) {
    const rho = rowScalars(hasher, j, state.rows[j]!, width);
    const xj = bit(state.choices, j);
    const out: bigint[] = [];
    for (let w = 0; w < width; w++) {
      const off = (j * width + w) * SCALAR;
      const tau = scalarFromBytes(senderMessage.subarray(off, off + SCALAR), 'tau');
      out.push(xj === 1 ? mod(rho[w]! + tau) : rho[w]!);
    }
    zB.push(out);
  }
  return zB;
}

function rowSeed(ctx: Uint8Array, j: number, row: Uint8Array): Uint8Array {
  return hashTranscript('custodian/ecdsa/kos/rot-seed/v1', ctx, u32(j), row);
}

/**
 * Reverses a base-OT batch (the extension's receiver Bob becomes the new
 * Alice): Bob extends ROT_REVERSE_BATCH random OTs with fresh choice bits Δ'
 * and keeps the chosen 32-byte seeds. Returns his message and his new setup.
 */
export function rotReverseStart(setup: CotReceiverSetup, pairContext: Uint8Array, random: Random): { message: Uint8Array; reversed: CotSenderSetup } {
  const choices = random.bytes(ROT_REVERSE_BATCH / 8);
  const st = extendReceiver(setup, pairContext, choices, ROT_REVERSE_BATCH, random);
  const delta = Array.from({ length: ROT_REVERSE_BATCH }, (_, j) => bit(choices, j));
  const seeds = st.rows.map((row, j) => rowSeed(st.ctx, j, row));
  return { message: st.message, reversed: { delta, seeds } };
}

/** The old Alice checks Bob's reversing message and gets both seeds of every new OT: her new Bob setup. */
export function rotReverseFinish(setup: CotSenderSetup, pairContext: Uint8Array, message: Uint8Array): CotReceiverSetup {
  const { ctx, rows, delta } = extendSender(setup, pairContext, message, ROT_REVERSE_BATCH);
  return {
    seeds0: rows.map((row, j) => rowSeed(ctx, j, row)),
    seeds1: rows.map((row, j) => rowSeed(ctx, j, row.map((v, k) => v ^ delta[k]!))),
  };
}
