/**
 * Base oblivious transfer: Endemic OT of Masny and Rindal (CCS 2019, "Endemic
 * Oblivious Transfer", the OT-from-key-agreement construction instantiated with
 * Diffie-Hellman over secp256k1 and a random oracle H: {0,1}* → G realised by
 * RFC 9380 hash-to-curve). Two independent messages, one each way:
 *
 *   sender:   b ← Zq*, B = b·G                                   → B
 *   receiver: a ← Zq*, A = a·G, r_{1-c} ← G, r_c = A − H(r_{1-c})  → (r_0, r_1)
 *   sender:   A_j = r_j + H(r_{1-j});  k_j = KDF(b·A_j)
 *   receiver: k_c = KDF(a·B)
 *
 * A batch of OT_BASE_COUNT transfers shares one B. Every hash input carries
 * the batch context (session id, both party ids, direction) and the index, so
 * a message from another batch or position is useless (docs/decisions/ecdsa-ot.md).
 *
 * All arithmetic runs on the fast curve of curve.ts (noble's point code over
 * a special-form reduction); the secret scalars (b, a_i) go through noble's
 * constant-time blinded `multiply`. Points are encoded in batches with one
 * field inversion (noble's normalizeZ) rather than one per point.
 */
import type { Random } from '@custodian/core/clock';
import { randomScalar } from './group.js';
import { normalizeZ } from '@noble/curves/abstract/curve.js';
import { FG, FastPoint, fastHasher } from './curve.js';
import { encodeParts, hashTranscript } from './transcript.js';
import { OT_BASE_COUNT, POINT_BYTES } from './limits.js';
import { Reader, Writer } from './wire.js';
import { fail } from './errors.js';

const H2C_DST = 'CUSTODIAN-ECDSA-DKLS23-ENDEMIC-OT-V1_XMD:SHA-256_SSWU_RO_';
const KEY_DOMAIN = 'custodian/ecdsa/base-ot/key/v1';
/** Exact size of the receiver's message: a count and two points per transfer. */
const RECEIVER_MESSAGE_BYTES = 2 + OT_BASE_COUNT * 2 * POINT_BYTES;

/** The sender's private state for one batch. */
export interface BaseOtSenderState {
  readonly b: bigint;
  /** Compressed B. */
  readonly B: Uint8Array;
}

/** The receiver's private state for one batch. */
export interface BaseOtReceiverState {
  readonly choices: readonly number[];
  readonly a: readonly bigint[];
  readonly message: Uint8Array;
}

function indexBytes(i: number): Uint8Array {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, i);
  return b;
}

function hashToGroup(ctx: Uint8Array, i: number, r: Uint8Array): FastPoint {
  return fastHasher.hashToCurve(encodeParts([ctx, indexBytes(i), r]), { DST: H2C_DST });
}

function deriveKey(ctx: Uint8Array, i: number, B: Uint8Array, r0: Uint8Array, r1: Uint8Array, shared: Uint8Array): Uint8Array {
  return hashTranscript(KEY_DOMAIN, ctx, indexBytes(i), B, r0, r1, shared);
}

/** Compressed encodings of non-identity points, normalised together (one inversion). */
function encodeAll(points: readonly FastPoint[]): Uint8Array[] {
  return normalizeZ(FastPoint, [...points]).map((p) => p.toBytes(true));
}

/** Decodes a compressed, on-curve, non-identity point of a peer's message, or throws E_MPC_SHAPE. */
function readPoint(rd: Reader, field: string): { point: FastPoint; bytes: Uint8Array } {
  const bytes = rd.fixed(POINT_BYTES, field);
  let point: FastPoint;
  try {
    point = FastPoint.fromBytes(bytes);
  } catch {
    return fail('E_MPC_SHAPE', `${rd.what}.${field} is not a point on secp256k1`, { what: rd.what, field });
  }
  if (point.is0()) fail('E_MPC_SHAPE', `${rd.what}.${field} is the identity`, { what: rd.what, field });
  return { point, bytes };
}

/** Starts the sender side: samples b and returns its message B (33 bytes). */
export function baseOtSenderStart(random: Random): { state: BaseOtSenderState; message: Uint8Array } {
  const b = randomScalar(random);
  const B = FG.multiply(b).toBytes(true);
  return { state: { b, B }, message: B };
}

/** Starts the receiver side with one choice bit per transfer; returns its message (r_0, r_1)×count. */
export function baseOtReceiverStart(ctx: Uint8Array, choices: readonly number[], random: Random): BaseOtReceiverState {
  if (choices.length !== OT_BASE_COUNT) fail('E_MPC_SHAPE', `base OT needs ${OT_BASE_COUNT} choice bits`);
  const a: bigint[] = [];
  const others: FastPoint[] = [];
  for (let i = 0; i < OT_BASE_COUNT; i++) {
    a.push(randomScalar(random));
    others.push(FG.multiply(randomScalar(random)));
  }
  const otherBytes = encodeAll(others);
  const mine = encodeAll(a.map((ai, i) => FG.multiply(ai).subtract(hashToGroup(ctx, i, otherBytes[i]!))));
  const w = new Writer().count(OT_BASE_COUNT);
  for (let i = 0; i < OT_BASE_COUNT; i++) {
    if (choices[i] === 0) w.fixed(mine[i]!).fixed(otherBytes[i]!);
    else w.fixed(otherBytes[i]!).fixed(mine[i]!);
  }
  return { choices: [...choices], a, message: w.bytes() };
}

/** Finishes the sender side on the receiver's message: both keys of every transfer. */
export function baseOtSenderFinish(ctx: Uint8Array, state: BaseOtSenderState, receiverMessage: Uint8Array): { k0: Uint8Array[]; k1: Uint8Array[] } {
  if (receiverMessage.length !== RECEIVER_MESSAGE_BYTES) {
    fail('E_MPC_SHAPE', `base OT receiver message must be ${RECEIVER_MESSAGE_BYTES} bytes`, { length: receiverMessage.length });
  }
  const rd = new Reader(receiverMessage, 'base OT receiver message');
  rd.count('transfers', OT_BASE_COUNT);
  const r0s: Uint8Array[] = [];
  const r1s: Uint8Array[] = [];
  const shared: FastPoint[] = [];
  for (let i = 0; i < OT_BASE_COUNT; i++) {
    const r0 = readPoint(rd, `r0[${i}]`);
    const r1 = readPoint(rd, `r1[${i}]`);
    r0s.push(r0.bytes);
    r1s.push(r1.bytes);
    const A0 = r0.point.add(hashToGroup(ctx, i, r1.bytes));
    const A1 = r1.point.add(hashToGroup(ctx, i, r0.bytes));
    if (A0.is0() || A1.is0()) fail('E_MPC_SHAPE', `base OT transfer ${i} maps to the identity`, { index: i });
    shared.push(A0.multiply(state.b), A1.multiply(state.b));
  }
  rd.end();
  const encoded = encodeAll(shared);
  const k0: Uint8Array[] = [];
  const k1: Uint8Array[] = [];
  for (let i = 0; i < OT_BASE_COUNT; i++) {
    k0.push(deriveKey(ctx, i, state.B, r0s[i]!, r1s[i]!, encoded[2 * i]!));
    k1.push(deriveKey(ctx, i, state.B, r0s[i]!, r1s[i]!, encoded[2 * i + 1]!));
  }
  return { k0, k1 };
}

/** Finishes the receiver side on the sender's B: the chosen key of every transfer. */
export function baseOtReceiverFinish(ctx: Uint8Array, state: BaseOtReceiverState, senderMessage: Uint8Array): Uint8Array[] {
  const rd = new Reader(senderMessage, 'base OT sender message');
  const { point: B, bytes: Bb } = readPoint(rd, 'B');
  rd.end();
  B.precompute(6, false); // 6: the cheapest table plus 128 products (measured; 8 costs twice as much)
  const own = new Reader(state.message, 'base OT receiver message');
  own.count('transfers', OT_BASE_COUNT);
  const r0s: Uint8Array[] = [];
  const r1s: Uint8Array[] = [];
  const shared: FastPoint[] = [];
  for (let i = 0; i < OT_BASE_COUNT; i++) {
    r0s.push(own.fixed(POINT_BYTES, 'r0'));
    r1s.push(own.fixed(POINT_BYTES, 'r1'));
    shared.push(B.multiply(state.a[i]!));
  }
  const encoded = encodeAll(shared);
  return encoded.map((s, i) => deriveKey(ctx, i, Bb, r0s[i]!, r1s[i]!, s));
}
