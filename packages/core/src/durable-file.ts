/**
 * Writing a file atomically and durably: a temporary file written and
 * fsynced, renamed over the target, then the directory fsynced so the rename
 * itself survives a power loss. For the host and the key broker (files of
 * state that must not come back older after a crash); the enclave never
 * writes files. Synchronous, for callers that persist inside a step they
 * must not interleave; `@custodian/audit/durable-file` has the async one for
 * the log's tiles.
 */
import { closeSync, fsyncSync, mkdirSync, openSync, renameSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';

/** Replaces `path` with `data` (mode 0600), atomically and durably. */
export function writeFileDurableSync(path: string, data: Uint8Array | string): void {
  mkdirSync(dirname(path), { recursive: true });
  const tmp = `${path}.tmp`;
  const fd = openSync(tmp, 'w', 0o600);
  try {
    writeSync(fd, typeof data === 'string' ? Buffer.from(data, 'utf8') : data);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, path);
  const dfd = openSync(dirname(path), 'r');
  try {
    fsyncSync(dfd);
  } finally {
    closeSync(dfd);
  }
}
