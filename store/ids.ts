/** Sortable ids: a prefix, 10 Crockford base32 digits of the creation time (ms), 16 random ones. */
import { randomBytes } from 'node:crypto';

const ALPHABET = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';

/**
 * A new id that sorts by creation time, ULID-style.
 *
 * @example newId('v_', new Date()) // 'v_01JDX3M4K8ZQ7W2R9T5YB6C1DE'
 */
export function newId(prefix: string, now: Date = new Date()): string {
  let time = now.getTime();
  let head = '';
  for (let i = 0; i < 10; i++) {
    head = ALPHABET[time % 32] + head;
    time = Math.floor(time / 32);
  }
  const bytes = randomBytes(16);
  let tail = '';
  for (const b of bytes) tail += ALPHABET[b % 32];
  return `${prefix}${head}${tail}`;
}
