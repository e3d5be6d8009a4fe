/**
 * The `sim` attester: Custodian's development stand-in for TEE hardware,
 * behind the same `collect(reportData)` interface as configfs-tsm and the
 * Nitro NSM. It signs with a sim root (src/sim/sim-evidence.ts), so what it
 * produces is always marked insecure and refused by any policy that does not
 * allow simulated evidence (THREATS.md B20b).
 */
import { CustodianError } from '@custodian/core/errors';
import type { Clock } from '@custodian/core/clock';
import { issueSimEvidence, SIM_MEASUREMENT_BYTES, SIM_REPORT_DATA_BYTES, type SimRoot } from '../sim/sim-evidence.js';
import type { Attester, CollectedEvidence } from './configfs-tsm.js';

/** Issues sim evidence for a fixed measurement (the launcher's SHA-384 of the enclave bundle). */
export class SimAttester implements Attester {
  constructor(
    private readonly root: SimRoot,
    private readonly measurement: Uint8Array,
    private readonly clock: Clock,
  ) {
    if (measurement.length !== SIM_MEASUREMENT_BYTES) throw new CustodianError('E_ATTEST_INPUT', `sim measurement must be ${SIM_MEASUREMENT_BYTES} bytes`, { length: measurement.length });
  }

  /** Collects sim evidence binding `reportData` (1..64 bytes, zero-padded to 64 as configfs-tsm does). */
  async collect(reportData: Uint8Array): Promise<CollectedEvidence> {
    if (reportData.length === 0 || reportData.length > SIM_REPORT_DATA_BYTES) {
      throw new CustodianError('E_ATTEST_INPUT', `report data must be 1..${SIM_REPORT_DATA_BYTES} bytes`, { length: reportData.length });
    }
    const padded = new Uint8Array(SIM_REPORT_DATA_BYTES);
    padded.set(reportData);
    return { format: 'sim', provider: 'custodian_sim', evidence: issueSimEvidence(this.root, this.measurement, padded, this.clock.nowMs()) };
  }
}
