/**
 * Root-of-trust throughput (issue 7 §9): signatures and key wraps/unwraps per
 * second through PKCS#11 on a SoftHSM2 token created in a temporary
 * directory, against the software root and in-process signing (the enclave's
 * hot path) in the same run; and the key broker's release round trip (nonce,
 * appraisal, HSM unwrap of the sealing master, HKDF, HPKE to the enclave,
 * credential signature, audit, enclave-side open) on each root.
 *
 *   node --import tsx bench/hsm.bench.ts [--quick] [--json]
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { createPrivateKey, generateKeyPairSync, sign as nodeSign, createHash } from 'node:crypto';
import { ed25519 } from '@noble/curves/ed25519.js';
import { ManualClock, systemRandom } from '@custodian/core/clock';
import { Secret } from '@custodian/core/secret';
import { createSoftHsmStore, initSoftHsmToken } from '@custodian/kbs/hsm/softhsm-token';
import { openPkcs11Root } from '@custodian/kbs/hsm/pkcs11-root';
import { openSoftwareRoot } from '@custodian/kbs/hsm/software-root';
import type { RootOfTrust } from '@custodian/kbs/hsm/root-of-trust';
import { KeyBroker } from '@custodian/kbs/key-broker';
import { NonceStore } from '@custodian/kbs/nonce-store';
import { MeasurementRegistry } from '@custodian/kbs/measurement-approvals';
import { MemoryAuditSink } from '@custodian/kbs/audit-sink';
import { createWrappedSealingMaster } from '@custodian/kbs/sealing-keys';
import { generateHpkeKeyPair } from '@custodian/core/hpke-seal';
import { openKeyRelease } from '@custodian/protocol/key-release';
import { fakeAppraise, fakeEvidence, makeQuorum, signedChange } from '@custodian/kbs/test-fixtures';

const quick = process.argv.includes('--quick');
const asJson = process.argv.includes('--json');
const WINDOW_MS = quick ? 300 : 1500;
const RUNS = quick ? 1 : 3;
const MEASUREMENT = 'ab'.repeat(48);

/** Operations per second over a time window, median of RUNS windows. */
async function rate(fn: () => Promise<unknown> | unknown): Promise<number> {
  for (let i = 0; i < 20; i++) await fn();
  const rates: number[] = [];
  for (let r = 0; r < RUNS; r++) {
    let n = 0;
    const t0 = performance.now();
    while (performance.now() - t0 < WINDOW_MS) {
      await fn();
      n++;
    }
    rates.push((n * 1000) / (performance.now() - t0));
  }
  rates.sort((a, b) => a - b);
  return Math.round(rates[Math.floor(rates.length / 2)]!);
}

async function brokerFor(root: RootOfTrust): Promise<KeyBroker> {
  const clock = new ManualClock(Date.now());
  const { quorum, secrets } = makeQuorum(1, 1);
  const measurements = new MeasurementRegistry(quorum);
  measurements.approve(signedChange({ measurement: MEASUREMENT, previous: null, approvedAtMs: clock.nowMs(), reason: 'bench' }, secrets, ['member-0']));
  return new KeyBroker({ root, wrappedMaster: await createWrappedSealingMaster(root), nonces: new NonceStore(clock, systemRandom), measurements, appraise: fakeAppraise, audit: new MemoryAuditSink(), clock });
}

async function releaseRoundTrip(broker: KeyBroker): Promise<void> {
  const { nonce } = broker.issueNonce();
  const kp = await generateHpkeKeyPair();
  const rel = await broker.release({ nonce, evidence: fakeEvidence({ measurement: MEASUREMENT, nonce, publicKey: kp.publicKey }), publicKey: kp.publicKey });
  (await openKeyRelease(rel, kp.privateKey, { measurement: MEASUREMENT, nonce })).zeroise();
}

async function measureRoot(root: RootOfTrust): Promise<Record<string, number>> {
  const key = new Secret(new Uint8Array(32).fill(1));
  const wrapped = await root.wrapKey(key);
  const msg = new Uint8Array(64).fill(2);
  const broker = await brokerFor(root);
  return {
    signsPerS: await rate(() => root.sign(msg)),
    wrapsPerS: await rate(() => root.wrapKey(key)),
    unwrapsPerS: await rate(() => root.unwrapKey(wrapped)),
    releasesPerS: await rate(() => releaseRoundTrip(broker)),
  };
}

async function main(): Promise<void> {
  const store = createSoftHsmStore(mkdtempSync(join(tmpdir(), 'bench-hsm-')));
  initSoftHsmToken(store, 'bench', '1234', '12345678');
  process.env['SOFTHSM2_CONF'] = store.confPath;
  const pkcs11 = await openPkcs11Root({ modulePath: store.modulePath, tokenLabel: 'bench', pin: new Secret('1234') }, { provision: true });
  const software = await openSoftwareRoot({ warn: () => undefined });

  const p256 = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
  const p256Der = createPrivateKey(p256.export({ format: 'pem', type: 'pkcs8' }));
  const edSk = ed25519.utils.randomSecretKey();
  const msg = new Uint8Array(64).fill(2);
  const enclaveHotPath = {
    nodeP256SignsPerS: await rate(() => nodeSign('sha256', msg, { key: p256Der, dsaEncoding: 'ieee-p1363' })),
    nobleEd25519SignsPerS: await rate(() => ed25519.sign(msg, edSk)),
    sha256PerS: await rate(() => createHash('sha256').update(msg).digest()),
  };
  const result = {
    bench: 'hsm',
    quick,
    windowMs: WINDOW_MS,
    runs: RUNS,
    softhsm2Pkcs11: await measureRoot(pkcs11),
    softwareRoot: await measureRoot(software),
    enclaveHotPath,
  };
  await pkcs11.close();
  await software.close();
  if (asJson) process.stdout.write(JSON.stringify(result) + '\n');
  else {
    process.stdout.write(`HSM bench (${quick ? 'quick' : `median of ${RUNS} × ${WINDOW_MS} ms`})\n`);
    for (const [k, v] of Object.entries(result)) if (typeof v === 'object') process.stdout.write(`${k}: ${JSON.stringify(v)}\n`);
  }
}

await main();
