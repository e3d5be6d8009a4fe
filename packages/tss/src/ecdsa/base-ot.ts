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
 */
import { secp256k1_hasher } from '@noble/curves/secp256k1.js';
import type { Random } from '@custodian/core/clock';
import { G, mulPoint, pointToBytes, randomScalar, type Point } from './group.js';
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
  readonly B: Point;
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

function hashToGroup(ctx: Uint8Array, i: number, r: Uint8Array): Point {
  return secp256k1_hasher.hashToCurve(encodeParts([ctx, indexBytes(i), r]), { DST: H2C_DST });
}

function deriveKey(ctx: Uint8Array, i: number, B: Uint8Array, r0: Uint8Array, r1: Uint8Array, shared: Point): Uint8Array {
  return hashTranscript(KEY_DOMAIN, ctx, indexBytes(i), B, r0, r1, pointToBytes(shared));
}

/** Starts the sender side: samples b and returns its message B (33 bytes). */
export function baseOtSenderStart(random: Random): { state: BaseOtSenderState; message: Uint8Array } {
  const b = randomScalar(random);
  const B = G.multiply(b);
  return { state: { b, B }, message: pointToBytes(B) };
}

/** Starts the receiver side with one choice bit per transfer; returns its message (r_0, r_1)×count. */
export function baseOtReceiverStart(ctx: Uint8Array, choices: readonly number[], random: Random): BaseOtReceiverState {
  if (choices.length !== OT_BASE_COUNT) fail('E_MPC_SHAPE', `base OT needs ${OT_BASE_COUNT} choice bits`);
  const w = new Writer().count(OT_BASE_COUNT);
  const a: bigint[] = [];
  for (let i = 0; i < OT_BASE_COUNT; i++) {
    const ai = randomScalar(random);
    a.push(ai);
    const other = pointToBytes(G.multiply(randomScalar(random)));
    const mine = G.multiply(ai).subtract(hashToGroup(ctx, i, other));
    const mineBytes = pointToBytes(mine);
    if (choices[i] === 0) w.fixed(mineBytes).fixed(other);
    else w.fixed(other).fixed(mineBytes);
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
  const Bb = pointToBytes(state.B);
  const k0: Uint8Array[] = [];
  const k1: Uint8Array[] = [];
  for (let i = 0; i < OT_BASE_COUNT; i++) {
    const r0 = rd.point(`r0[${i}]`);
    const r1 = rd.point(`r1[${i}]`);
    const r0b = pointToBytes(r0);
    const r1b = pointToBytes(r1);
    const A0 = r0.add(hashToGroup(ctx, i, r1b));
    const A1 = r1.add(hashToGroup(ctx, i, r0b));
    k0.push(deriveKey(ctx, i, Bb, r0b, r1b, mulPoint(A0, state.b)));
    k1.push(deriveKey(ctx, i, Bb, r0b, r1b, mulPoint(A1, state.b)));
  }
  rd.end();
  return { k0, k1 };
}

/** Finishes the receiver side on the sender's B: the chosen key of every transfer. */
export function baseOtReceiverFinish(ctx: Uint8Array, state: BaseOtReceiverState, senderMessage: Uint8Array): Uint8Array[] {
  const rd = new Reader(senderMessage, 'base OT sender message');
  const B = rd.point('B');
  rd.end();
  B.precompute(8, false);
  const Bb = pointToBytes(B);
  const own = new Reader(state.message, 'base OT receiver message');
  own.count('transfers', OT_BASE_COUNT);
  const keys: Uint8Array[] = [];
  for (let i = 0; i < OT_BASE_COUNT; i++) {
    const r0b = own.fixed(POINT_BYTES, 'r0');
    const r1b = own.fixed(POINT_BYTES, 'r1');
    keys.push(deriveKey(ctx, i, Bb, r0b, r1b, B.multiply(state.a[i]!)));
  }
  return keys;
}
