/**
 * DKLs23 two-party random vector OLE (Functionality 3.5, "forced reuse"),
 * realised with the multiplication of DKLs19 (Protocol 1) on correlated OT
 * extension. Bob's input b is random: he samples β ∈ {0,1}^ξ and b = ⟨g, β⟩ for
 * a public gadget g; Alice inputs a ∈ Z_q^ℓ. The outputs satisfy
 * c_k + d_k = a_k · b for every k, c to Alice and d to Bob.
 *
 *   Alice: ã, â ← Z_q^ℓ; COTe with correlation (ã ‖ â) → z̃^A, ẑ^A
 *          χ̃, χ̂ = H(transcript); u = χ̃⊙ã + χ̂⊙â; r_j = χ̃⊙z̃^A_j + χ̂⊙ẑ^A_j
 *          γ = a − ã; c = Σ_j g_j z̃^A_j                       → (τ, u, H(r), γ)
 *   Bob:   r'_j = β_j u − (χ̃⊙z̃^B_j + χ̂⊙ẑ^B_j); abort unless H(r') = H(r)
 *          d = b·γ + Σ_j g_j z̃^B_j
 *
 * Departure: Alice sends H(r) instead of r (Bob recomputes r exactly); see
 * docs/decisions/ecdsa-ot.md.
 */
import type { Random } from '@custodian/core/clock';
import { equalBytes } from '@custodian/core/bytes';
import { fail } from './errors.js';
import { MUL_BATCH, RVOLE_WIDTH, SCALAR_BYTES } from './limits.js';
import { mod, randomScalar, scalarsFromUniform } from './group.js';
import { expandTranscript, hashTranscriptScalars } from './transcript.js';
import { COT_RECEIVER_MESSAGE_BYTES, cotReceiverFinish, cotReceiverStart, cotSenderRespond } from './ot-extension.js';
import type { CotReceiverSetup, CotReceiverState, CotSenderSetup } from './ot-extension.js';
import { Reader, Writer } from './wire.js';

const L = RVOLE_WIDTH;
const W = 2 * RVOLE_WIDTH;
const TAU_BYTES = MUL_BATCH * W * SCALAR_BYTES;
/** Bytes of Bob's RVOLE message. */
export const RVOLE_BOB_MESSAGE_BYTES = COT_RECEIVER_MESSAGE_BYTES;
/** Bytes of Alice's RVOLE message: τ, u, H(r), γ. */
export const RVOLE_ALICE_MESSAGE_BYTES = TAU_BYTES + L * SCALAR_BYTES + 32 + L * SCALAR_BYTES;

let gadgetCache: readonly bigint[] | undefined;

/** The public gadget vector g ∈ Z_q^ξ, derived from a fixed domain (a random oracle output). */
export function gadget(): readonly bigint[] {
  gadgetCache ??= scalarsFromUniform(expandTranscript(48 * MUL_BATCH, 'custodian/ecdsa/dkls23/gadget/v1'), MUL_BATCH);
  return gadgetCache;
}

/** Bob's state between his message and Alice's answer. */
export interface RvoleBobState {
  readonly cot: CotReceiverState;
  /** Bob's random input b = ⟨g, β⟩ (DKLs23's χ). */
  readonly b: bigint;
  readonly pairContext: Uint8Array;
}

function checkChallenges(pairContext: Uint8Array, bobMessage: Uint8Array, tau: Uint8Array): { ct: bigint[]; ch: bigint[] } {
  const all = scalarsFromUniform(expandTranscript(48 * 2 * L, 'custodian/ecdsa/dkls23/rvole-chi/v1', pairContext, bobMessage, tau), 2 * L);
  return { ct: all.slice(0, L), ch: all.slice(L) };
}

function hashR(pairContext: Uint8Array, r: readonly bigint[]): Uint8Array {
  return hashTranscriptScalars('custodian/ecdsa/dkls23/rvole-r/v1', [pairContext], r);
}

/** Bob samples his random input and sends the first message. */
export function rvoleBobStart(setup: CotReceiverSetup, pairContext: Uint8Array, random: Random): { state: RvoleBobState; message: Uint8Array } {
  const beta = random.bytes(MUL_BATCH / 8);
  const g = gadget();
  let b = 0n;
  for (let j = 0; j < MUL_BATCH; j++) if (((beta[j >> 3]! >> (j & 7)) & 1) === 1) b += g[j]!;
  const cot = cotReceiverStart(setup, pairContext, beta, random);
  return { state: { cot, b: mod(b), pairContext }, message: cot.message };
}

/** Alice answers with input vector `a` (ℓ scalars); returns her output c and her message. */
export function rvoleAliceRespond(setup: CotSenderSetup, pairContext: Uint8Array, bobMessage: Uint8Array, a: readonly bigint[], random: Random): { c: bigint[]; message: Uint8Array } {
  const aTilde = Array.from({ length: L }, () => randomScalar(random));
  const aHat = Array.from({ length: L }, () => randomScalar(random));
  const { zA, message: tau } = cotSenderRespond(setup, pairContext, bobMessage, [...aTilde, ...aHat]);
  const { ct, ch } = checkChallenges(pairContext, bobMessage, tau);
  const g = gadget();
  const r: bigint[] = [];
  const c: bigint[] = new Array<bigint>(L).fill(0n);
  for (let j = 0; j < MUL_BATCH; j++) {
    const z = zA[j]!;
    for (let k = 0; k < L; k++) {
      r.push(mod(ct[k]! * z[k]! + ch[k]! * z[L + k]!));
      c[k] = c[k]! + g[j]! * z[k]!;
    }
  }
  const w = new Writer().fixed(tau);
  for (let k = 0; k < L; k++) w.scalar(mod(ct[k]! * aTilde[k]! + ch[k]! * aHat[k]!));
  w.fixed(hashR(pairContext, r));
  for (let k = 0; k < L; k++) w.scalar(mod(a[k]! - aTilde[k]!));
  return { c: c.map(mod), message: w.bytes() };
}

/** Bob checks Alice's answer (E_MPC_PROOF_INVALID when the DKLs19 check fails) and returns d. */
export function rvoleBobFinish(state: RvoleBobState, aliceMessage: Uint8Array): bigint[] {
  if (aliceMessage.length !== RVOLE_ALICE_MESSAGE_BYTES) {
    fail('E_MPC_SHAPE', `multiplication answer must be ${RVOLE_ALICE_MESSAGE_BYTES} bytes`, { length: aliceMessage.length });
  }
  const rd = new Reader(aliceMessage, 'multiplication answer');
  const tau = rd.fixed(TAU_BYTES, 'tau');
  const u = Array.from({ length: L }, (_, k) => rd.scalar(`u[${k}]`));
  const rHash = rd.fixed(32, 'rHash');
  const gamma = Array.from({ length: L }, (_, k) => rd.scalar(`gamma[${k}]`));
  rd.end();
  const zB = cotReceiverFinish(state.cot, tau, W);
  const { ct, ch } = checkChallenges(state.pairContext, state.cot.message, tau);
  const g = gadget();
  const r: bigint[] = [];
  const d: bigint[] = gamma.map((gk) => state.b * gk);
  for (let j = 0; j < MUL_BATCH; j++) {
    const z = zB[j]!;
    const bj = (state.cot.choices[j >> 3]! >> (j & 7)) & 1;
    for (let k = 0; k < L; k++) {
      r.push(mod((bj === 1 ? u[k]! : 0n) - ct[k]! * z[k]! - ch[k]! * z[L + k]!));
      d[k] = d[k]! + g[j]! * z[k]!;
    }
  }
  if (!equalBytes(hashR(state.pairContext, r), rHash)) fail('E_MPC_PROOF_INVALID', 'the multiplication consistency check failed');
  return d.map(mod);
}
