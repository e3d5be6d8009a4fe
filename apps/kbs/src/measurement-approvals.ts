/**
 * Measurements the broker may release sealing keys for. A measurement is
 * approved only by a quorum-signed record (DESIGN.md flow 6: "a new enclave
 * measurement is a manifest change approved by the quorum"); an upgrade names
 * the measurement it replaces, which must itself be approved.
 */
import { CustodianError } from '@custodian/core/errors';
import { bytesToHex } from '@custodian/core/bytes';
import { Fields } from '@custodian/core/fields';
import type { Json } from '@custodian/core/canonical-json';
import { assertQuorum, decodeSignatures, type MemberSignature, type Quorum } from './quorum.js';

/** Domain string of measurement-change statements. */
export const MEASUREMENT_CHANGE_DOMAIN = 'custodian/kbs/measurement-change/v1';
/** Measurements are lower-case hex digests (SHA-384 sim bundle, PCR0, MRTD, MEASUREMENT ...). */
export const MEASUREMENT_RE = /^[0-9a-f]{32,192}$/;
/** Most signatures carried by one record. */
export const MEASUREMENT_SIGNATURES_MAX = 64;

/** What the quorum signs. */
export interface MeasurementChange {
  readonly measurement: string;
  /** The measurement this one succeeds, or null for a first one (genesis, or a new TEE platform). */
  readonly previous: string | null;
  readonly approvedAtMs: number;
  readonly reason: string;
}

/** A measurement change with the members' signatures. */
export interface MeasurementChangeRecord {
  readonly change: MeasurementChange;
  readonly signatures: readonly MemberSignature[];
}

/** The canonical-JSON body of a change (what is signed). */
export function measurementChangeBody(c: MeasurementChange): Json {
  return { measurement: c.measurement, previous: c.previous, approvedAtMs: c.approvedAtMs, reason: c.reason };
}

/** Decodes a record from JSON `{ change: {...}, signatures: [...] }`. */
export function decodeMeasurementChangeRecord(json: Json): MeasurementChangeRecord {
  const f = new Fields(json, 'record');
  const c = f.obj('change');
  const measurement = c.str('measurement', 192, MEASUREMENT_RE);
  const prevRaw = c.raw('previous');
  const previous = prevRaw === null ? null : c.str('previous', 192, MEASUREMENT_RE);
  const change = { measurement, previous, approvedAtMs: c.int('approvedAtMs'), reason: c.str('reason', 1024) };
  c.done();
  const signatures = decodeSignatures(f.arr('signatures', MEASUREMENT_SIGNATURES_MAX), 'record.signatures');
  f.done();
  return { change, signatures };
}

/** Encodes a record as JSON (for storage and the wire). */
export function encodeMeasurementChangeRecord(r: MeasurementChangeRecord): Json {
  return { change: measurementChangeBody(r.change), signatures: r.signatures.map((s) => ({ memberId: s.memberId, signature: bytesToHex(s.signature) })) };
}

/** The approved measurements, built only from quorum-signed records. */
export class MeasurementRegistry {
  readonly #approved = new Map<string, MeasurementChangeRecord>();

  constructor(private readonly quorum: Quorum) {}

  /** True when `measurement` was approved by the quorum. */
  isApproved(measurement: string): boolean {
    return this.#approved.has(measurement);
  }

  /** Every approved record, in approval order. */
  records(): MeasurementChangeRecord[] {
    return [...this.#approved.values()];
  }

  /**
   * Verifies and applies a record: E_QUORUM_NOT_MET without enough valid
   * signatures, E_MEASUREMENT_CHANGE_INVALID when it succeeds an unapproved
   * measurement. Re-applying an approved record is a no-op.
   */
  approve(record: MeasurementChangeRecord): readonly string[] {
    const signers = this.check(record);
    if (!this.#approved.has(record.change.measurement)) this.#approved.set(record.change.measurement, record);
    return signers;
  }

  /** Runs every check of `approve` without applying it (the broker audits in between): the signers, or the refusal. */
  check(record: MeasurementChangeRecord): readonly string[] {
    const { change } = record;
    const signers = assertQuorum(this.quorum, MEASUREMENT_CHANGE_DOMAIN, measurementChangeBody(change), record.signatures, `the approval of measurement ${change.measurement.slice(0, 16)}…`);
    if (this.#approved.has(change.measurement)) return signers;
    if (change.previous !== null && !this.#approved.has(change.previous)) {
      throw new CustodianError('E_MEASUREMENT_CHANGE_INVALID', `the change succeeds measurement ${change.previous.slice(0, 16)}…, which is not approved`, { previous: change.previous });
    }
    return signers;
  }
}
