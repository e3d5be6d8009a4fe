/** Helpers shared by the integration tests. */
import assert from 'node:assert/strict';
import { isCustodianError, type CustodianError } from '@custodian/core/errors';
import type { Json } from '@custodian/core/canonical-json';
import { encodeSignedRequest, signRequest } from '@custodian/protocol/operator-request';
import { APPROVAL_TYPE } from '@custodian/protocol/payloads';
import { newNonce } from '../../apps/cli/src/operations.js';
import { DEMO_ORG, type Deployment, type ExternalKbs } from '../../scripts/lib/deployment.js';
import { CLI } from '../../scripts/lib/processes.js';
import { join } from 'node:path';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { systemClock } from '@custodian/core/clock';
import { REPO_ROOT } from '@custodian/core/vectors';
import { openKbs } from '@custodian/kbs/kbs-runtime';
import { createKbsServer, listenKbs } from '@custodian/kbs/server';
import { attestationAppraiser } from '@custodian/kbs/attestation-appraiser';
import { MemoryAuditSink } from '@custodian/kbs/audit-sink';
import type { QuorumMember } from '@custodian/kbs/quorum';
import type { BreakglassConfig } from '@custodian/kbs/breakglass/breakglass';
import { readSimRoot } from '../../apps/cli/src/commands/org.js';

const run = promisify(execFile);

type R = Record<string, Json>;

/** Asserts that `p` rejects with a CustodianError of `code`, and returns it. */
export async function refused(p: Promise<unknown>, code: string): Promise<CustodianError> {
  try {
    await p;
  } catch (e) {
    assert.ok(isCustodianError(e, code), `expected ${code}, got ${String((e as Error).message)} (${(e as { code?: string }).code})`);
    return e as CustodianError;
  }
  assert.fail(`expected ${code}, but it succeeded`);
}

/** The host's audit entries for a request: who wrote each, its kind and its statement's data. */
export async function auditEntries(d: Deployment, requestId: string): Promise<{ signerId: string; kind: string; data: R }[]> {
  const rows = (await d.client.get(`/v1/audit?requestId=${requestId}`)) as R[];
  return rows.map((r) => ({ signerId: String(r['signerId']), kind: String(r['kind']), data: (((r['entry'] as R)['statement'] as R)['data'] ?? {}) as R }));
}

/**
 * A signed approval of request `r` by `who`, made by the test itself (not
 * through the CLI); `over` replaces payload fields, as a careless or hostile
 * client could.
 */
export function signedApproval(d: Deployment, who: string, r: R, over: Partial<Record<string, Json>> = {}): Json {
  const payload = { type: APPROVAL_TYPE, orgId: DEMO_ORG, requestId: String(r['requestId']), txDigest: String(r['txDigest']), summaryHash: String(r['summaryHash']), expiresAtMs: Date.now() + 600_000, nonce: newNonce(), ...over };
  return encodeSignedRequest(signRequest(payload as { type: string } & Record<string, Json>, who, d.actors[who]!.key));
}

/**
 * A key broker run in the test's own process, for a deployment's signers to
 * reach over HTTP like a `custodian kbs serve`: software root, sim appraisal
 * of the deployment's sim root, the genesis manifest as anchor, root quorum
 * alice and bob, and the break-glass configuration `breakglass` builds from
 * the deployment's operators. Its trusted clock runs `aheadMs` in front of
 * the monotonic clock, so a test passes a time-lock by moving it, not by
 * waiting or moving the host's clock.
 */
export class InProcessKbs {
  readonly audit = new MemoryAuditSink();
  /** Added to the broker's monotonic clock. */
  aheadMs = 0;
  #url = '';

  constructor(private readonly breakglass: (member: (id: string) => QuorumMember) => BreakglassConfig) {}

  /** The broker's URL once the deployment started it. */
  get url(): string {
    if (this.#url === '') throw new Error('the in-process key broker has not started');
    return this.#url;
  }

  /** The deployment option (`startDeployment({ kbs: broker.start })`). */
  readonly start: ExternalKbs = async ({ dataDir, manifest, simRootFile, actors }) => {
    const member = (id: string): QuorumMember => ({ id, publicKey: actors[id]!.key.publicKey });
    const rt = await openKbs({
      dataDir: join(dataDir, 'kbs'),
      root: { kind: 'software' },
      quorum: { threshold: 2, members: [member('alice'), member('bob')] },
      appraise: attestationAppraiser({ policy: { version: 1, allowSimulated: true } as never, clock: systemClock, simRootPublicKey: readSimRoot(simRootFile).publicKey }),
      audit: this.audit,
      manifest,
      breakglass: this.breakglass(member),
      monotonic: () => performance.now() + this.aheadMs,
      warn: () => undefined,
    });
    const server = createKbsServer({ broker: rt.broker, root: rt.root, measurements: rt.measurements, manifests: rt.manifests, trustedClock: rt.trustedClock, ...(rt.breakglass ? { breakglass: rt.breakglass } : {}) });
    this.#url = await listenKbs(server, '127.0.0.1', 0);
    return {
      url: this.#url,
      hsm: 'software',
      dataDir: join(dataDir, 'kbs'),
      stop: async () => {
        await new Promise<void>((resolve) => server.close(() => resolve()));
        await rt.close();
      },
    };
  };
}

/** Runs the CLI against the deployment's host with `--json`; resolves with the last JSON line, or rejects with an Error whose `code` is the error line's code. */
export async function cliJson(d: Deployment, args: readonly string[]): Promise<R> {
  try {
    const { stdout } = await run(process.execPath, ['--import', 'tsx', CLI, ...args, '--host', String(d.host.ready['url']), '--json'], { cwd: REPO_ROOT, maxBuffer: 16 * 1024 * 1024 });
    return JSON.parse(stdout.trim().split('\n').pop()!) as R;
  } catch (e) {
    const out = String((e as { stdout?: string }).stdout ?? '').trim().split('\n').pop() ?? '';
    const err = (JSON.parse(out || '{}') as { error?: { code?: string; message?: string } }).error;
    throw Object.assign(new Error(`${err?.code ?? 'no code'}: ${err?.message ?? String(e)}`), { code: err?.code });
  }
}
