/**
 * `custodian wallet create|list`, `custodian tx propose|approve|status|list`,
 * `custodian audit list`: the custody path, step by step.
 */
import { CustodianError } from '@custodian/core/errors';
import type { Json } from '@custodian/core/canonical-json';
import { bytesTo0x, hexToBytes } from '@custodian/core/bytes';
import { decodeBase64Strict } from '@custodian/core/base64';
import { RAW_TX_BYTES_MAX } from '@custodian/core/limits';
import { chainOfScheme, type WalletScheme } from '@custodian/protocol/payloads';
import { decodeEnclaveSigned, verifyAuditChain, type EnclaveSigned } from '@custodian/protocol/enclave-signed';
import { readKeyFile } from '../key-file.js';
import { HostClient } from '../host-client.js';
import { approveRequest, buildTransfer, createWallet, proposeTx, refreshWallet, THRESHOLD_SCHEMES, verifyAnyWallet, verifyThresholdWallet, walletRow, walletSignerIds, type Actor } from '../operations.js';
import { verifyOrg, verifyWallet } from '../verify-org.js';
import { emit, parseArgs, UsageError } from '../output.js';

function req(values: Map<string, string[]>, name: string): string {
  const v = values.get(name)?.[0];
  if (v === undefined) throw new UsageError(`--${name} is required`);
  return v;
}

function actor(values: Map<string, string[]>): Actor {
  return { operatorId: req(values, 'operator'), key: readKeyFile(req(values, 'key')) };
}

type R = Record<string, Json>;

function describe(r: R): string {
  const approvals = (r['approvals'] as R[]).map((a) => `${String(a['operatorId'])}${a['accepted'] ? '' : ` (rejected: ${String(a['code'])})`}`).join(', ');
  const summary = (r['summary'] as R)['statement'] as R;
  return [
    `request ${String(r['requestId'])}`,
    `  ${String(summary['text'])}`,
    `  status: ${String(r['status'])}; approvals: ${approvals || 'none'} (${String(r['approvalsNeeded'])} needed)`,
    ...(r['txHash'] ? [`  tx hash: ${String(r['txHash'])}${r['receiptStatus'] ? ` (${String(r['receiptStatus'])})` : ''}`] : []),
  ].join('\n');
}

/** `custodian wallet ...` */
export async function walletCommand(args: readonly string[], json: boolean, hostUrl: string): Promise<number> {
  const [sub, ...rest] = args;
  const client = new HostClient(hostUrl);
  if (sub === 'create') {
    const { values } = parseArgs(rest, { strings: ['id', 'signer', 'signers', 'threshold', 'key', 'operator', 'scheme'] });
    const scheme = values.get('scheme')?.[0] ?? 'single';
    const org = await verifyOrg(client);
    const walletId = req(values, 'id');
    const thresholdScheme = THRESHOLD_SCHEMES.find((x) => x === scheme);
    if (thresholdScheme !== undefined) {
      const signers = req(values, 'signers').split(',').filter((x) => x !== '');
      const threshold = Number(req(values, 'threshold'));
      if (!Number.isSafeInteger(threshold) || threshold < 2 || threshold > signers.length) throw new UsageError(`--threshold must be between 2 and the number of --signers (${signers.length})`);
      const w = verifyThresholdWallet(org, await createWallet(client, actor(values), { orgId: org.manifest.orgId, walletId, scheme: thresholdScheme, threshold, signers }));
      emit(json, w, `wallet ${w.walletId} (${w.scheme} ${w.threshold}-of-${w.signers.length} across ${w.signers.join(', ')}, attested by each): ${w.address}`);
      return 0;
    }
    if (scheme !== 'single') throw new CustodianError('E_SCHEME_UNSUPPORTED', `wallet scheme ${scheme} is not supported (single, ${THRESHOLD_SCHEMES.join(', ')})`);
    const w = verifyWallet(org, await createWallet(client, actor(values), { orgId: org.manifest.orgId, walletId, signerId: req(values, 'signer'), scheme }));
    emit(json, w, `wallet ${w.walletId} (${w.scheme} on ${w.signerId}, attested): ${w.address}`);
    return 0;
  }
  if (sub === 'refresh') {
    const { values } = parseArgs(rest, { strings: ['wallet', 'key', 'operator'] });
    const org = await verifyOrg(client);
    const r = (await refreshWallet(client, actor(values), { orgId: org.manifest.orgId, walletId: req(values, 'wallet') })) as R;
    // The key did not change: the wallet as listed still verifies against every signer.
    const row = ((await client.get('/v1/wallets')) as Json[]).find((w) => (w as R)['walletId'] === r['walletId']);
    if (!row) throw new CustodianError('E_WALLET_UNKNOWN', `wallet ${String(r['walletId'])} is no longer listed`);
    const w = verifyThresholdWallet(await verifyOrg(client, walletSignerIds(row)), row);
    emit(json, { ...r, address: w.address }, `wallet ${w.walletId}: shares refreshed by ${(r['parties'] as string[]).join(', ')} in ${String(r['refreshedInMs'])} ms; same key, same address ${w.address}`);
    return 0;
  }
  if (sub === 'list') {
    const org = await verifyOrg(client);
    const ws = ((await client.get('/v1/wallets')) as Json[]).map((w) => verifyAnyWallet(org, w));
    emit(json, { wallets: ws }, ws.map((w) => `${w.walletId}\t${w.scheme}\t${w.signerId}\t${w.address}`).join('\n') || 'no wallets');
    return 0;
  }
  throw new UsageError('usage: custodian wallet create|refresh|list');
}

/** Strict standard base64 (padded, canonical), bounded to a raw transaction's size; a malformed argument is a usage error. */
function base64Decode(text: string, what: string): Uint8Array {
  if (text.length > Math.ceil(RAW_TX_BYTES_MAX / 3) * 4) throw new UsageError(`${what} is longer than a raw transaction can be`);
  try {
    return decodeBase64Strict(text, what);
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
}

/** `custodian tx ...` */
export async function txCommand(args: readonly string[], json: boolean, hostUrl: string): Promise<number> {
  const [sub, ...rest] = args;
  const client = new HostClient(hostUrl);
  if (sub === 'propose') {
    const { values } = parseArgs(rest, { strings: ['wallet', 'to', 'value-wei', 'nonce', 'raw', 'raw-base64', 'key', 'operator'] });
    const walletId = req(values, 'wallet');
    const b64 = values.get('raw-base64')?.[0];
    // A Solana message or a PSBT is usually passed around as base64.
    let raw = values.get('raw')?.[0] ?? (b64 === undefined ? undefined : bytesTo0x(base64Decode(b64, '--raw-base64')));
    const row = await walletRow(client, walletId);
    const org = await verifyOrg(client, walletSignerIds(row));
    const wallet = verifyAnyWallet(org, row);
    const chain = chainOfScheme(wallet.scheme as WalletScheme);
    if (!raw && chain !== 'eth') throw new UsageError(`a ${wallet.scheme} wallet signs ${chain} transactions: pass the unsigned ${chain === 'sol' ? 'Solana message' : 'PSBT'} with --raw HEX or --raw-base64 B64`);
    if (!raw) {
      const nonce = values.get('nonce')?.[0];
      raw = await buildTransfer(client, wallet.address, req(values, 'to'), BigInt(req(values, 'value-wei')), nonce === undefined ? undefined : BigInt(nonce));
    }
    hexToBytes(raw, '--raw');
    const r = (await proposeTx(client, actor(values), { orgId: org.manifest.orgId, walletId, rawTx: raw, chain })) as R;
    emit(json, r, describe(r));
    return r['status'] === 'denied' ? 1 : 0;
  }
  if (sub === 'approve') {
    const { values } = parseArgs(rest, { strings: ['request', 'key', 'operator', 'ttl-seconds'] });
    const ttl = Number(values.get('ttl-seconds')?.[0] ?? '3600');
    const { check, result } = await approveRequest(client, actor(values), req(values, 'request'), ttl * 1000);
    emit(json, result, `approved after checking the enclave-signed summary:\n  ${check.text}\n${describe(result as R)}`);
    return 0;
  }
  if (sub === 'status') {
    const { values } = parseArgs(rest, { strings: ['request'] });
    const r = (await client.get(`/v1/requests/${req(values, 'request')}`)) as R;
    emit(json, r, describe(r));
    return 0;
  }
  if (sub === 'list') {
    const rs = (await client.get('/v1/requests')) as R[];
    emit(json, { requests: rs }, rs.map(describe).join('\n') || 'no requests');
    return 0;
  }
  throw new UsageError('usage: custodian tx propose|approve|status|list');
}

/** `custodian audit list [--request ID]`: entries, with each signer's chain verified. */
export async function auditListCommand(args: readonly string[], json: boolean, hostUrl: string): Promise<number> {
  const { values } = parseArgs(args, { strings: ['request'] });
  const client = new HostClient(hostUrl);
  const org = await verifyOrg(client);
  const all = (await client.get('/v1/audit')) as R[];
  const bySigner = new Map<string, EnclaveSigned[]>();
  for (const row of all) {
    const list = bySigner.get(String(row['signerId'])) ?? [];
    list.push(decodeEnclaveSigned(row['entry'] as Json, 'entry'));
    bySigner.set(String(row['signerId']), list);
  }
  const chains: R = {};
  let ok = true;
  for (const [signerId, entries] of bySigner) {
    const key = org.identityKeys.get(signerId);
    const bad = key ? verifyAuditChain(entries, key) : 0;
    chains[signerId] = { entries: entries.length, verified: bad === -1, ...(bad >= 0 ? { firstBadSeq: bad } : {}) };
    if (bad !== -1) ok = false;
  }
  const requestId = values.get('request')?.[0];
  const shown = all
    .filter((r) => !requestId || r['requestId'] === requestId)
    .map((r) => ({ signerId: r['signerId'], seq: r['seq'], kind: r['kind'], requestId: r['requestId'], timeMs: r['timeMs'], data: ((r['entry'] as R)['statement'] as R)['data'] as Json }));
  const human = [
    ...Object.entries(chains).map(([s, c]) => `chain ${s}: ${String((c as R)['entries'])} entries, ${(c as R)['verified'] ? 'signatures and links verified' : 'BROKEN at seq ' + String((c as R)['firstBadSeq'])}`),
    ...shown.map((e) => `${String(e.signerId)}#${String(e.seq)}\t${new Date(Number(e.timeMs)).toISOString()}\t${String(e.kind)}\t${JSON.stringify(e.data)}`),
  ].join('\n');
  emit(json, { ok, chains, entries: shown }, human);
  return ok ? 0 : 1;
}
