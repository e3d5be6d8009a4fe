/**
 * Correlated OT extension with a Z_q^W correlation: KOS15 ("Actively Secure
 * OT Extension with Optimal Overhead", Keller-Orsini-Scholl, corrected
 * version, Fig. 10 style) over OT_BASE_COUNT base OTs, with the consistency
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
import { equalBytes } from '@custodian/core/bytes';
import { fail } from './errors.js';
import { gfBitSum, gfColumnSum, gfFromBytes, gfMul, gfToBytes } from './gf128.js';
import { MUL_BATCH, OT_BASE_COUNT, OT_EXT_COLUMN_BYTES, OT_EXT_COUNT, SCALAR_BYTES } from './limits.js';
import { expandTranscript, hashTranscript } from './transcript.js';
import { mod, scalarFromBytes, scalarToBytes, scalarsFromUniform } from './group.js';

const NONCE_BYTES = 32;
/** Bytes of Bob's extension message: nonce, κ columns, x̃, t̃. */
export const COT_RECEIVER_MESSAGE_BYTES = NONCE_BYTES + OT_BASE_COUNT * OT_EXT_COLUMN_BYTES + 32;

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

function prg(seed: Uint8Array, ctx: Uint8Array): Uint8Array {
  return expandTranscript(OT_EXT_COLUMN_BYTES, 'custodian/ecdsa/kos/prg/v1', seed, ctx);
}

function challenges(ctx: Uint8Array, columns: Uint8Array): Uint8Array {
  return expandTranscript(16 * OT_EXT_COUNT, 'custodian/ecdsa/kos/chi/v1', ctx, columns);
}

function transpose(columns: readonly Uint8Array[], rows: number): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (let j = 0; j < rows; j++) {
    const row = new Uint8Array(OT_BASE_COUNT / 8);
    for (let i = 0; i < OT_BASE_COUNT; i++) row[i >> 3]! |= bit(columns[i]!, j) << (i & 7);
    out.push(row);
  }
  return out;
}

function rowScalars(ctx: Uint8Array, j: number, row: Uint8Array, width: number): bigint[] {
  return scalarsFromUniform(expandTranscript(48 * width, 'custodian/ecdsa/kos/row/v1', ctx, u32(j), row), width);
}

/** The binding context of one extension: session, pair, direction and Bob's nonce. */
export function cotContext(pairContext: Uint8Array, nonce: Uint8Array): Uint8Array {
  return hashTranscript('custodian/ecdsa/kos/ctx/v1', pairContext, nonce);
}

/** Bob's first message for MUL_BATCH choice bits (packed, little-endian bit order). */
export function cotReceiverStart(setup: CotReceiverSetup, pairContext: Uint8Array, choices: Uint8Array, random: Random): CotReceiverState {
  assert(choices.length === MUL_BATCH / 8, 'choice vector has the batch size');
  const nonce = random.bytes(NONCE_BYTES);
  const ctx = cotContext(pairContext, nonce);
  const x = new Uint8Array(OT_EXT_COLUMN_BYTES);
  x.set(choices);
  x.set(random.bytes(OT_EXT_COLUMN_BYTES - choices.length), choices.length); // KOS padding
  const t0: Uint8Array[] = [];
  const message = new Uint8Array(COT_RECEIVER_MESSAGE_BYTES);
  message.set(nonce, 0);
  for (let i = 0; i < OT_BASE_COUNT; i++) {
    const a = prg(setup.seeds0[i]!, ctx);
    const b = prg(setup.seeds1[i]!, ctx);
    t0.push(a);
    const off = NONCE_BYTES + i * OT_EXT_COLUMN_BYTES;
    for (let k = 0; k < OT_EXT_COLUMN_BYTES; k++) message[off + k] = a[k]! ^ b[k]! ^ x[k]!;
  }
  const columnsBytes = message.subarray(NONCE_BYTES, NONCE_BYTES + OT_BASE_COUNT * OT_EXT_COLUMN_BYTES);
  const chis = challenges(ctx, columnsBytes);
  const xTilde = gfBitSum(x, chis, OT_EXT_COUNT);
  const tTilde = gfColumnSum(t0, chis, OT_EXT_COUNT);
  message.set(gfToBytes(xTilde), COT_RECEIVER_MESSAGE_BYTES - 32);
  message.set(gfToBytes(tTilde), COT_RECEIVER_MESSAGE_BYTES - 16);
  return { ctx, choices: x, rows: transpose(t0, MUL_BATCH), message };
}

/**
 * Alice checks Bob's message (E_MPC_OT_CHECK_FAILED when the KOS check fails)
 * and correlates every extended OT with `alpha` (W scalars). Returns her shares
 * z^A (MUL_BATCH × W) and her answer τ.
 */
export function cotSenderRespond(setup: CotSenderSetup, pairContext: Uint8Array, receiverMessage: Uint8Array, alpha: readonly bigint[]): { zA: bigint[][]; message: Uint8Array } {
  if (receiverMessage.length !== COT_RECEIVER_MESSAGE_BYTES) {
    fail('E_MPC_SHAPE', `OT extension message must be ${COT_RECEIVER_MESSAGE_BYTES} bytes`, { length: receiverMessage.length });
  }
  const ctx = cotContext(pairContext, receiverMessage.subarray(0, NONCE_BYTES));
  const q: Uint8Array[] = [];
  for (let i = 0; i < OT_BASE_COUNT; i++) {
    const col = prg(setup.seeds[i]!, ctx);
    if (setup.delta[i] === 1) {
      const off = NONCE_BYTES + i * OT_EXT_COLUMN_BYTES;
      for (let k = 0; k < OT_EXT_COLUMN_BYTES; k++) col[k]! ^= receiverMessage[off + k]!;
    }
    q.push(col);
  }
  const columnsBytes = receiverMessage.subarray(NONCE_BYTES, NONCE_BYTES + OT_BASE_COUNT * OT_EXT_COLUMN_BYTES);
  const chis = challenges(ctx, columnsBytes);
  const xTilde = gfFromBytes(receiverMessage.subarray(COT_RECEIVER_MESSAGE_BYTES - 32, COT_RECEIVER_MESSAGE_BYTES - 16));
  const tTilde = gfFromBytes(receiverMessage.subarray(COT_RECEIVER_MESSAGE_BYTES - 16));
  const deltaBytes = new Uint8Array(OT_BASE_COUNT / 8);
  for (let i = 0; i < OT_BASE_COUNT; i++) deltaBytes[i >> 3]! |= setup.delta[i]! << (i & 7);
  const delta = gfFromBytes(deltaBytes);
  const qTilde = gfColumnSum(q, chis, OT_EXT_COUNT);
  if (!equalBytes(gfToBytes(qTilde), gfToBytes(tTilde ^ gfMul(xTilde, delta)))) {
    fail('E_MPC_OT_CHECK_FAILED', 'the OT extension consistency check failed');
  }
  const rows = transpose(q, MUL_BATCH);
  const width = alpha.length;
  const zA: bigint[][] = [];
  const message = new Uint8Array(MUL_BATCH * width * SCALAR_BYTES);
  for (let j = 0; j < MUL_BATCH; j++) {
    const row0 = rows[j]!;
    const row1 = row0.map((v, k) => v ^ deltaBytes[k]!);
    const rho0 = rowScalars(ctx, j, row0, width);
    const rho1 = rowScalars(ctx, j, row1, width);
    zA.push(rho0.map((r) => mod(-r)));
    for (let w = 0; w < width; w++) {
      message.set(scalarToBytes(mod(rho0[w]! - rho1[w]! + alpha[w]!)), (j * width + w) * SCALAR_BYTES);
    }
  }
  return { zA, message };
}

/** Bob's shares z^B (MUL_BATCH × W) from Alice's answer τ. */
export function cotReceiverFinish(state: CotReceiverState, senderMessage: Uint8Array, width: number): bigint[][] {
  if (senderMessage.length !== MUL_BATCH * width * SCALAR_BYTES) {
    fail('E_MPC_SHAPE', `OT extension answer must be ${MUL_BATCH * width * SCALAR_BYTES} bytes`, { length: senderMessage.length });
  }
  const zB: bigint[][] = [];
  for (let j = 0; j < MUL_BATCH; j++) {
    const rho = rowScalars(state.ctx, j, state.rows[j]!, width);
    const xj = bit(state.choices, j);
    const out: bigint[] = [];
    for (let w = 0; w < width; w++) {
      const off = (j * width + w) * SCALAR_BYTES;
      const tau = scalarFromBytes(senderMessage.subarray(off, off + SCALAR_BYTES), 'tau');
      out.push(xj === 1 ? mod(rho[w]! + tau) : rho[w]!);
    }
    zB.push(out);
  }
  return zB;
}
