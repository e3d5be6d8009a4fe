/**
 * Durable file writes: the durability contract the log relies on. A write
 * resolves only after the bytes and the directory entry are on stable
 * storage (write to a temporary name, fsync, rename, fsync the directory).
 */
import { open, rename, mkdir, unlink } from 'node:fs/promises';
import { dirname, join, basename } from 'node:path';
import { randomBytes } from 'node:crypto';

/** fsyncs a directory so a rename or create inside it survives power loss. */
export async function fsyncDirectory(dir: string): Promise<void> {
  const fh = await open(dir, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/**
 * Atomically replaces `path` with `bytes` and fsyncs the file (the caller
 * fsyncs the directory, once per batch, through `fsyncDirectory`).
 */
export async function writeFileAtomic(path: string, bytes: Uint8Array): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  const tmp = join(dirname(path), `.${basename(path)}.${randomBytes(6).toString('hex')}.tmp`);
  const fh = await open(tmp, 'wx');
  try {
    await fh.writeFile(bytes);
    await fh.sync();
  } catch (e) {
    await fh.close();
    await unlink(tmp).catch(() => undefined);
    throw e;
  }
  await fh.close();
  await rename(tmp, path);
}

/** writeFileAtomic followed by an fsync of the file's directory. */
export async function writeFileDurable(path: string, bytes: Uint8Array): Promise<void> {
  await writeFileAtomic(path, bytes);
  await fsyncDirectory(dirname(path));
}
