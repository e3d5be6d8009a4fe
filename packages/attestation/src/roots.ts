/**
 * Pinned vendor roots (packages/attestation/roots/, see its README for
 * provenance). Each file's DER SHA-256 is pinned here; a swapped file is
 * refused. Parsed certificates are cached (DESIGN.md: cache parsed certs).
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { AssertionFailure } from '@custodian/core/errors';
import { parseCertificate, pemBlocks, type Certificate } from './x509.js';

/** The pinned files and their DER SHA-256. */
export const PINNED_ROOTS = {
  'aws-nitro-root-g1': '641a0321a3e244efe456463195d606317ed7cdcc3c1756e09893f3c68f79bb5b',
  'amd-milan-ark': '69d063b45344d26a2e94e1f4210de49ef555308287d4c174445c95639a540bcd',
  'amd-milan-ask': '67d303bd3905fd38db8b20e0793699870e7fa612eaad5dec358293fd8c0bac1b',
  'amd-milan-asvk': 'c5e081f59b7efab1fe2f8b505e159704e72f29cab7ef7cf628a05a42439082f5',
  'amd-genoa-ark': '4c6598d19c18719c5dfd4a7d335f674e5bfe1d8f800cea2cf270c10d103db2f1',
  'amd-genoa-ask': '5464738c1546aed5f2cecf1dc98c5c960a92e8913238a61711bc90ec6e828521',
  'amd-genoa-asvk': '197e610743a917d6b9bb982a5a9226ccc0a15b611be0619e626aca9151457372',
  'amd-turin-ark': '1f084161a44bb6d93778a904877d4819cafa5d05ef4193b2ded9dd9c73dd3f6a',
  'amd-turin-ask': '5b77ef5fe7a7a004fd9032668fba9d0fda22f88c4442069a479636a6ae3b3185',
  'amd-turin-asvk': '104e10a8bd060a3c20a434261a57d0588fd65a88915b4f65b08bdecaf8df1a3c',
  'intel-sgx-root-ca': '44a0196b2b99f889b8e149e95b807a350e7424964399e885a7cbb8ccfab674d3',
  'google-tpm-ek-root-1': '9bd5285f8fb18502a7947e621ffd470266f49fcd3b73e19a190f690ad32a7caf',
  'google-tpm-ek-intermediate-2': '5d8dbcf8c8053dd8ffad711b6219355032b7122c34cac0f90ccb49def69ec504',
  'google-tpm-ek-intermediate-3': '7132b6ea71101f6c51bb58f98c3798c19b65be510eca0344318900510b593178',
} as const;

/** Name of a pinned root or intermediate file. */
export type PinnedRootName = keyof typeof PINNED_ROOTS;

const cache = new Map<PinnedRootName, Certificate>();

/** Loads a pinned certificate, checking its SHA-256 against the pin. */
export function pinnedRoot(name: PinnedRootName): Certificate {
  const hit = cache.get(name);
  if (hit) return hit;
  const text = readFileSync(fileURLToPath(new URL(`../roots/${name}.pem`, import.meta.url)), 'utf8');
  const [der, ...rest] = pemBlocks(text);
  if (!der || rest.length > 0) throw new AssertionFailure(`pinned root file ${name}.pem must hold exactly one certificate`);
  const cert = parseCertificate(der);
  if (cert.sha256 !== PINNED_ROOTS[name]) throw new AssertionFailure(`pinned root file ${name}.pem does not match its pinned SHA-256`);
  cache.set(name, cert);
  return cert;
}
