/**
 * `checkpoint.sign` in-process: the signer signs and cosigns an audit-log
 * checkpoint under the note keys it published in `hello`, only as an
 * append-only extension of the last one it signed (kept sealed across a
 * restart): a fork, another origin or a wrong proof base is refused.
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
import { memoryPlatform, RecordingHost, rejectsWith, simHardware } from './test-signers.js';

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
