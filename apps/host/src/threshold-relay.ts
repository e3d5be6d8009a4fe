/**
 * The host's side of a threshold session (ecdsa-dkls key generation or
 * signing): it only relays. It opens the session on every participant,
 * hands each the others' fresh contributions to the session id, then moves
 * the sealed envelopes each round produces to their recipients until every
 * participant is done. It cannot read or change a message (HPKE peer
 * channel), and a failure anywhere ends the session everywhere; a new
 * attempt is a new session with fresh contributions.
 */
import { CustodianError, isCustodianError } from '@custodian/core/errors';
import type { Json } from '@custodian/core/canonical-json';
import { Fields } from '@custodian/core/fields';
import { decodeEnvelopes, encodeEnvelopes, type RelayedEnvelope } from '@custodian/protocol/mpc-relay';

/** Most rounds a session may take before the relay gives up (DKG 3, signing 4). */
export const MPC_ROUNDS_MAX = 8;

/** Error codes that mean a participant is down or unreachable (another signing set may do). */
export const UNAVAILABLE_CODES: ReadonlySet<string> = new Set(['E_UNAVAILABLE', 'E_SIGNER_UNAVAILABLE', 'E_TIMEOUT', 'E_SIGNER_NOT_READY', 'E_SESSION_UNKNOWN']);

/** Codes after which no other signing set is tried: the key itself is in question. */
export const TERMINAL_CODES: ReadonlySet<string> = new Set(['E_SIGNATURE_INVALID_TERMINAL', 'E_KEY_FROZEN', 'E_QUORUM_NOT_MET', 'E_POLICY_DENIED', 'E_WALLET_FROZEN', 'E_ORGANISATION_FROZEN']);

/**
 * The participant a refusal blames, as a signer id: the tss layer names a
 * party id (party i is `parties[i - 1]`), the enclave's mesh a signer id.
 */
export function culpritOf(e: unknown, parties: readonly string[]): string | null {
  if (!isCustodianError(e)) return null;
  const c = e.detail['culprit'];
  if (typeof c !== 'string') return null;
  if (/^[0-9]{1,5}$/.test(c)) return parties[Number(c) - 1] ?? null;
  return parties.includes(c) ? c : null;
}

/** One participant as the relay reaches it. */
export interface MpcEndpoint {
  readonly signerId: string;
  call(op: string, body: Json): Promise<Json>;
}

/**
 * Sees every envelope on its way (round number from 1) and returns what to
 * deliver instead: the untrusted network. Production passes none; tests use
 * it to tamper with, drop or replay messages.
 */
export type RelayTap = (envelope: RelayedEnvelope, round: number) => readonly RelayedEnvelope[];

/** What a finished session gave: each participant's result, or a request signed before (`signed`). */
export interface SessionOutcome {
  readonly results: ReadonlyMap<string, Json>;
  readonly signed: Json | null;
  readonly sessionId: string | null;
}

/** A participant's failure, naming the participant. */
function tagged(e: unknown, signerId: string): unknown {
  if (isCustodianError(e) && e.detail['signerId'] === undefined) return new CustodianError(e.code, `${signerId}: ${e.message}`, { ...e.detail, signerId });
  return e;
}

/** Every participant's answer, and the failure that says most (null when all answered). */
interface Answers {
  readonly out: Map<string, Json>;
  readonly failure: unknown;
}

/** Calls every participant alike and waits for all. */
async function callAll(parts: readonly MpcEndpoint[], op: string, bodyOf: (p: MpcEndpoint) => Json): Promise<Answers> {
  const settled = await Promise.allSettled(parts.map((p) => p.call(op, bodyOf(p))));
  const out = new Map<string, Json>();
  let failure: unknown = null;
  settled.forEach((s, i) => {
    const id = parts[i]!.signerId;
    if (s.status === 'fulfilled') out.set(id, s.value);
    else if (failure === null || (isCustodianError(failure) && UNAVAILABLE_CODES.has(failure.code) && !(isCustodianError(s.reason) && UNAVAILABLE_CODES.has(s.reason.code)))) {
      // A participant's refusal says more than another's unavailability.
      failure = tagged(s.reason, id);
    }
  });
  return { out, failure };
}

/** The answers when every participant answered; otherwise throws the failure. */
function all(a: Answers): Map<string, Json> {
  if (a.failure !== null) throw a.failure;
  return a.out;
}

/** Relays threshold sessions between signer enclaves. */
export class ThresholdRelay {
  constructor(
    private readonly endpoint: (signerId: string) => MpcEndpoint,
    private readonly tap: RelayTap | null = null,
  ) {}

  /** Runs one session among `participants` (in party order); `open` says what it is for (mpc.open body). */
  async run(participants: readonly string[], open: Json): Promise<SessionOutcome> {
    const parts = participants.map((id) => this.endpoint(id));
    const first = await callAll(parts, 'mpc.open', () => open);
    if (first.failure !== null) {
      await this.#abort(parts, first.out, 'nonce');
      throw first.failure;
    }
    const opened = first.out;
    for (const [, v] of opened) {
      const signed = new Fields(v, 'mpc.open').optRaw('signed');
      if (signed !== undefined) {
        await this.#abort(parts, opened, 'nonce');
        return { results: new Map(), signed, sessionId: null };
      }
    }
    const contributions = participants.map((id) => ({ signerId: id, nonce: new Fields(opened.get(id)!, 'mpc.open').raw('nonce') }));
    let sessionId = '';
    const sessionKeys = new Map<string, Json>();
    try {
      const started = await callAll(parts, 'mpc.start', (p) => ({ nonce: contributions.find((c) => c.signerId === p.signerId)!.nonce, contributions }));
      for (const [id, a] of started.out) sessionKeys.set(id, { sessionId: new Fields(a, 'mpc.start').raw('sessionId') });
      let answers = all(started);
      const ids = new Set([...answers.values()].map((a) => String(new Fields(a, 'mpc.start').raw('sessionId'))));
      if (ids.size !== 1) throw new CustodianError('E_SESSION_MISMATCH', 'the participants derived different session ids');
      sessionId = [...ids][0]!;
      const results = new Map<string, Json>();
      let running = parts;
      for (let round = 1; running.length > 0; round++) {
        if (round > MPC_ROUNDS_MAX) throw new CustodianError('E_MPC_SHAPE', `the session did not finish within ${MPC_ROUNDS_MAX} rounds`);
        const inboxes = new Map<string, RelayedEnvelope[]>(running.map((p) => [p.signerId, []]));
        for (const [, a] of answers) {
          const f = new Fields(a, 'mpc.answer');
          for (const e of decodeEnvelopes(f.raw('outbox'), 'outbox')) {
            for (const d of this.tap ? this.tap(e, round) : [e]) inboxes.get(d.to)?.push(d);
          }
        }
        for (const [id, a] of answers) {
          const f = new Fields(a, 'mpc.answer');
          if (f.raw('done') === true) {
            const r = f.optRaw('result');
            if (r !== undefined) results.set(id, r);
          }
        }
        running = running.filter((p) => new Fields(answers.get(p.signerId)!, 'mpc.answer').raw('done') !== true);
        if (running.length === 0) break;
        answers = all(await callAll(running, 'mpc.step', (p) => ({ sessionId, inbox: encodeEnvelopes(inboxes.get(p.signerId)!) })));
      }
      return { results, signed: null, sessionId };
    } catch (e) {
      // A participant that failed has already ended the session; the others are told to.
      const keys = new Map<string, Json>([...opened].map(([id, a]) => [id, { key: new Fields(a, 'mpc.open').optRaw('nonce') ?? null }]));
      for (const [id, k] of sessionKeys) keys.set(id, { key: new Fields(k, 'session').raw('sessionId') });
      await this.#abort(parts, keys, 'key');
      throw e;
    }
  }

  /**
   * Signs with the first `threshold` reachable parties (the first of them
   * combines). A participant that is down before or during the session, or
   * that a participant's refusal blames (named in that signer's audit
   * entry), is set aside and another signing set tried, in a new session
   * (F04); fewer than `threshold` usable parties: E_QUORUM_UNAVAILABLE,
   * nothing signed.
   * Returns the combiner's answer (or a signed-before answer) and the set.
   */
  async sign(parties: readonly string[], threshold: number, reachable: (signerId: string) => Promise<boolean>, body: (signers: readonly string[], combiner: string) => Json, log: (line: string) => void = () => undefined): Promise<{ answer: Json; signers: readonly string[] }> {
    const down = new Set<string>();
    for (;;) {
      const up: string[] = [];
      for (const id of parties) if (!down.has(id) && (await reachable(id))) up.push(id);
      else down.add(id);
      if (up.length < threshold) {
        throw new CustodianError('E_QUORUM_UNAVAILABLE', `only ${up.length} of the ${threshold} signers this wallet needs are reachable (${up.join(', ') || 'none'}); nothing was signed`, { reachable: up, down: [...down], threshold });
      }
      const signers = up.slice(0, threshold);
      try {
        const out = await this.run(signers, body(signers, signers[0]!));
        const answer = out.signed ?? out.results.get(signers[0]!);
        if (answer === undefined) throw new CustodianError('E_SIGNER_RESPONSE', `${signers[0]!} finished the session without a signature`);
        return { answer, signers };
      } catch (e) {
        if (!isCustodianError(e) || TERMINAL_CODES.has(e.code)) throw e;
        const reporter = e.detail['signerId'];
        const culprit = culpritOf(e, parties);
        const who = UNAVAILABLE_CODES.has(e.code) ? reporter : culprit;
        if (typeof who !== 'string' || !signers.includes(who) || down.has(who)) throw e;
        log(`signing session with ${signers.join(', ')} ended: ${e.message}; setting ${who} aside and trying another signing set`);
        down.add(who);
      }
    }
  }

  /** Tells every participant that answered to end its part (by the key `field` of its answer); failures are ignored. */
  async #abort(parts: readonly MpcEndpoint[], answered: ReadonlyMap<string, Json>, field: 'nonce' | 'key'): Promise<void> {
    await Promise.allSettled(
      parts
        .filter((p) => answered.has(p.signerId))
        .map((p) => {
          const key = new Fields(answered.get(p.signerId)!, 'answer').optRaw(field);
          return typeof key === 'string' ? p.call('mpc.abort', { key }) : Promise.resolve(null);
        }),
    );
  }
}
