/**
 * Decoders for break-glass configuration and events arriving as JSON (the
 * KBS HTTP API, configuration files). Events carry no time: the broker stamps
 * them with its trusted clock, so the host cannot choose when a step happened.
 */
import { Fields } from '@custodian/core/fields';
import type { Json } from '@custodian/core/canonical-json';
import { CustodianError } from '@custodian/core/errors';
import { MANIFEST_OPERATORS_MAX } from '@custodian/core/limits';
import { decodeQuorum, decodeSignatures, MEMBER_ID_RE } from '../quorum.js';
import { BREAKGLASS_ACTIONS, BREAKGLASS_TIMELOCK_MS_DEFAULT, validateBreakglassConfig, type BreakglassAction, type BreakglassConfig, type BreakglassEvent } from './breakglass.js';

/** Longest veto reason. */
export const VETO_REASON_MAX = 1024;
/** Request ids. */
export const BREAKGLASS_ID_RE = /^[a-z0-9][a-z0-9._-]{0,63}$/;
/** Most signatures in one cancel. */
const CANCEL_SIGNATURES_MAX = 64;

/** Decodes `{ approvers: quorum, dailyThreshold, guardians: [{ id, publicKey }], timelockMs? }`. */
export function decodeBreakglassConfig(json: Json): BreakglassConfig {
  const f = new Fields(json, 'breakglass');
  const approvers = decodeQuorum(f.raw('approvers'), 'breakglass.approvers');
  const dailyThreshold = f.int('dailyThreshold', 1, MANIFEST_OPERATORS_MAX);
  const guardians = f.arr('guardians', MANIFEST_OPERATORS_MAX).map((g, i) => {
    const gf = new Fields(g, `breakglass.guardians[${i}]`);
    const out = { id: gf.str('id', 64, MEMBER_ID_RE), publicKey: gf.hex('publicKey', 32) };
    gf.done();
    return out;
  });
  const timelockMs = f.optRaw('timelockMs') === undefined ? BREAKGLASS_TIMELOCK_MS_DEFAULT : f.int('timelockMs');
  f.done();
  return validateBreakglassConfig({ approvers, dailyThreshold, guardians, timelockMs });
}

/** Decodes an event (without time) and stamps it with `atMs`. */
export function decodeBreakglassEvent(json: Json, atMs: number): BreakglassEvent {
  const f = new Fields(json, 'event');
  const type = f.str('type', 16);
  const sig = (k: string) => {
    const [s] = decodeSignatures([f.raw(k)], `event.${k}`);
    return s!;
  };
  let event: BreakglassEvent;
  switch (type) {
    case 'request': {
      const r = f.obj('request');
      const action = r.str('action', 32);
      if (!(BREAKGLASS_ACTIONS as readonly string[]).includes(action)) throw new CustodianError('E_BREAKGLASS_ACTION_INVALID', `unknown break-glass action ${action}`, {});
      const request = { id: r.str('id', 64, BREAKGLASS_ID_RE), action: action as BreakglassAction, payloadHash: r.str('payloadHash', 64, /^[0-9a-f]{64}$/), requestedBy: r.str('requestedBy', 64, MEMBER_ID_RE), requestedAtMs: r.int('requestedAtMs') };
      r.done();
      // A freeze carries its payload (it executes at once); other requests may.
      const payload = f.optRaw('payload');
      event = { type, atMs, request, signature: sig('signature'), ...(payload !== undefined ? { payload } : {}) };
      break;
    }
    case 'approve':
      event = { type, atMs, requestId: f.str('requestId', 64), payloadHash: f.str('payloadHash', 64), approval: sig('approval') };
      break;
    case 'veto':
      event = { type, atMs, requestId: f.str('requestId', 64), payloadHash: f.str('payloadHash', 64), reason: f.str('reason', VETO_REASON_MAX), guardian: sig('guardian') };
      break;
    case 'cancel':
      event = { type, atMs, requestId: f.str('requestId', 64), signatures: decodeSignatures(f.arr('signatures', CANCEL_SIGNATURES_MAX), 'event.signatures') };
      break;
    case 'execute':
      event = { type, atMs, requestId: f.str('requestId', 64), payload: f.raw('payload') };
      break;
    default:
      throw new CustodianError('E_FIELD_INVALID', `event.type ${type.slice(0, 16)} is not request, approve, veto, cancel or execute`, {});
  }
  f.done();
  return event;
}
