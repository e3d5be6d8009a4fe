/**
 * `checkpoint.sign` in-process: the signer signs and cosigns an audit-log
 * checkpoint under the note keys it published in `hello`, only as an
 * append-only extension of the last one it signed (kept sealed across a
 * restart): a fork, another origin or a wrong proof base is refused.
 * `checkpoint.sync`: a signer behind its peers adopts their cosigned
 * checkpoint only with a consistency proof, then never signs a fork of it.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import type { Json } from '@custodian/core/canonical-json';
import { bytesToHex, hexToBytes } from '@custodian/core/bytes';
import { AUDIT_LOG_ORIGIN } from '@custodian/protocol/audit-log';
import { decodeEnclaveSigned } from '@custodian/protocol/enclave-signed';
import { encodeCheckpoint } from '@custodian/audit/checkpoint';
import { encodeNote, openNote } from '@custodian/audit/note';
import { noteVerifierFromKey } from '@custodian/audit/ed25519-note-key';
import { Enclave } from './enclave.js';
import { MemoryTree } from '@custodian/audit/memory-tree';
import { hashLeaf } from '@custodian/audit/hash';
import { proveConsistency } from '@custodian/audit/consistency-proof';
import { bootSigners, memoryPlatform, orgKeys, orgManifest, RecordingHost, rejectsWith, simHardware } from './test-signers.js';

type R = Record<string, Json>;
const hw = simHardware();
const host = new RecordingHost();
const checkpoint = (size: number, root: Uint8Array, origin = AUDIT_LOG_ORIGIN): string => encodeCheckpoint({ origin, size, rootHash: root, extensions: [] });

test('checkpoint.sign: signatures verify under the published note keys; forks, other origins and wrong bases are refused, also after a restart', async () => {
  const platform = memoryPlatform(hw);
  await rejectsWith(new Enclave(platform, 'signer-1').handle('checkpoint.sign', { text: checkpoint(1, new Uint8Array(32)), oldSize: 0, proof: [] }, host.peer), 'E_SIGNER_NOT_READY');
  const enclave = new Enclave(platform, 'signer-1');
  await enclave.boot();
  const hello = (await enclave.handle('hello', { nonce: bytesToHex(randomBytes(32)) }, host.peer)) as R;
  const keys = decodeEnclaveSigned(hello['noteKeys']!, 'noteKeys').statement as R;
  const verifiers = [noteVerifierFromKey(String(keys['log'])), noteVerifierFromKey(String(keys['cosign']))];

  const root = new Uint8Array(randomBytes(32));
  const text = checkpoint(1, root);
  const out = (await enclave.handle('checkpoint.sign', { text, oldSize: 0, proof: [] }, host.peer)) as Record<string, R>;
  const sig = (k: string): { name: string; keyId: number; signature: Uint8Array } => ({ name: String(out[k]!['name']), keyId: Number(out[k]!['keyId']), signature: hexToBytes(String(out[k]!['signature'])) });
  const opened = openNote(encodeNote(text, [sig('log'), sig('cosign')]), verifiers);
  assert.equal(opened.verified.length, 2);
  assert.equal(opened.verified.filter((v) => v.timestamp !== null).length, 1, 'one plain signature, one timestamped cosignature');

  // The same view again is fine; another root at the same size is a fork.
  await enclave.handle('checkpoint.sign', { text, oldSize: 1, proof: [] }, host.peer);
  await rejectsWith(enclave.handle('checkpoint.sign', { text: checkpoint(1, new Uint8Array(randomBytes(32))), oldSize: 1, proof: [] }, host.peer), 'E_CHECKPOINT_FORK');
  await rejectsWith(enclave.handle('checkpoint.sign', { text: checkpoint(2, new Uint8Array(32), 'example.com/other-log'), oldSize: 1, proof: [] }, host.peer), 'E_CHECKPOINT_ORIGIN');
  await assert.rejects(enclave.handle('checkpoint.sign', { text: checkpoint(2, new Uint8Array(32)), oldSize: 0, proof: [] }, host.peer), (e: unknown) => {
    assert.equal((e as { code?: string }).code, 'E_CHECKPOINT_PROOF_BASE');
    assert.equal((e as { detail: R }).detail['size'], 1);
    return true;
  });

  // The last signed checkpoint is sealed: a restarted signer still refuses the fork.
  const restarted = new Enclave(platform, 'signer-1');
  await restarted.boot();
  await rejectsWith(restarted.handle('checkpoint.sign', { text: checkpoint(1, new Uint8Array(randomBytes(32))), oldSize: 1, proof: [] }, host.peer), 'E_CHECKPOINT_FORK');
});

test('checkpoint.sync: a signer behind its peers adopts their cosigned checkpoint (with a consistency proof) and then refuses to sign a fork of it; forged or unproven checkpoints are refused', async () => {
  const ids = ['signer-1', 'signer-2', 'signer-3'];
  const hw2 = simHardware();
  const h = new RecordingHost();
  const platforms = new Map(ids.map((id) => [id, memoryPlatform(hw2)]));
  const enclaves = await bootSigners(ids, platforms, orgManifest(hw2, orgKeys()), h);
  const tree = new MemoryTree();
  const grow = (n: number): void => {
    for (let i = 0; i < n; i++) tree.appendLeafHash(hashLeaf(new Uint8Array(randomBytes(16))));
  };
  const sign = async (id: string, text: string, oldSize: number): Promise<{ name: string; keyId: number; signature: Uint8Array }[]> => {
    const proof = oldSize === 0 ? [] : proveConsistency(tree, oldSize, decodeSize(text)).map(bytesToHex);
    const out = (await enclaves.get(id)!.handle('checkpoint.sign', { text, oldSize, proof }, h.peer)) as Record<string, R>;
    return ['log', 'cosign'].map((k) => ({ name: String(out[k]!['name']), keyId: Number(out[k]!['keyId']), signature: hexToBytes(String(out[k]!['signature'])) }));
  };
  const noteKeys = async (id: string): Promise<Json> => ((await enclaves.get(id)!.handle('hello', { nonce: bytesToHex(randomBytes(32)) }, h.peer)) as R)['noteKeys']!;
  // signer-3 saw size 2; signers 1 and 2 went on to size 5.
  grow(2);
  const at2 = checkpoint(2, tree.root());
  for (const id of ids) await sign(id, at2, 0);
  grow(3);
  const at5 = checkpoint(5, tree.root());
  const sigs = [...(await sign('signer-1', at5, 2)), ...(await sign('signer-2', at5, 2))];
  const note = new TextDecoder().decode(encodeNote(at5, sigs));
  const keys = [await noteKeys('signer-1'), await noteKeys('signer-2')];
  const s3 = enclaves.get('signer-3')!;

  // No proof from what signer-3 signed: refused. A note signed by nobody it knows: refused.
  await rejectsWith(s3.handle('checkpoint.sync', { note, noteKeys: keys, oldSize: 2, proof: [] }, h.peer), 'E_CHECKPOINT_INCONSISTENT');
  const own = await sign('signer-3', at2, 2);
  await rejectsWith(s3.handle('checkpoint.sync', { note: new TextDecoder().decode(encodeNote(at5, own)), noteKeys: keys, oldSize: 2, proof: [] }, h.peer), 'E_CHECKPOINT_UNVERIFIED');
  const tampered = note.replace(/^(\S+\n)5\n/, '$16\n');
  await rejectsWith(s3.handle('checkpoint.sync', { note: tampered, noteKeys: keys, oldSize: 2, proof: [] }, h.peer), 'E_CHECKPOINT_UNVERIFIED');

  const out = (await s3.handle('checkpoint.sync', { note, noteKeys: keys, oldSize: 2, proof: proveConsistency(tree, 2, 5).map(bytesToHex) }, h.peer)) as R;
  assert.deepEqual(out, { adopted: true, size: 5, peers: ['signer-1', 'signer-2'] });
  assert.equal(h.of('checkpoint.synced').length, 1);
  // From now on signer-3 extends size 5: a checkpoint of size 4 (a rollback) or another root at 5 (a fork) is refused.
  await rejectsWith(s3.handle('checkpoint.sign', { text: checkpoint(5, new Uint8Array(randomBytes(32))), oldSize: 5, proof: [] }, h.peer), 'E_CHECKPOINT_FORK');
  await assert.rejects(s3.handle('checkpoint.sign', { text: checkpoint(4, tree.root(4)), oldSize: 2, proof: [] }, h.peer), (e: unknown) => (e as { code?: string }).code === 'E_CHECKPOINT_PROOF_BASE');
  // Synced again with the same checkpoint: nothing to adopt.
  assert.equal(((await s3.handle('checkpoint.sync', { note, noteKeys: keys, oldSize: 5, proof: [] }, h.peer)) as R)['adopted'], false);
});

function decodeSize(text: string): number {
  return Number(text.split('\n')[1]);
}
