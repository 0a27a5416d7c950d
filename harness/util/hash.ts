import { createHash } from 'node:crypto';

/** A short, stable content hash of the parts that make up a cache key. */
export function hashParts(parts: readonly (string | Buffer)[]): string {
  const h = createHash('sha256');
  for (const p of parts) {
    h.update(String(Buffer.byteLength(p)));
    h.update(':');
    h.update(p);
  }
  return h.digest('hex').slice(0, 16);
}
