/**
 * Reading an untrusted HTTP response body under a byte bound: Content-Length
 * is a hint only; the body is counted as it streams and the read stops at
 * the bound, so a peer cannot make us buffer more than `max` bytes.
 */

/** The response body, or the error of `tooLarge()` once it (or its declared length) exceeds `max` bytes. */
export async function readBoundedBody(res: Response, max: number, tooLarge: () => Error): Promise<Uint8Array> {
  const declared = Number(res.headers.get('content-length') ?? '0');
  if (declared > max) throw tooLarge();
  if (res.body === null) return new Uint8Array(0);
  const chunks: Uint8Array[] = [];
  let total = 0;
  const reader = res.body.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.length;
    if (total > max) {
      await reader.cancel();
      throw tooLarge();
    }
    chunks.push(value);
  }
  const out = new Uint8Array(total);
  let off = 0;
  for (const c of chunks) {
    out.set(c, off);
    off += c.length;
  }
  return out;
}
