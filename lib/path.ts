/** Reading dotted paths (`requestParameters.ipPermissions.items.cidrIp`) out of untrusted JSON. */

/**
 * Every value at a dotted path, descending into arrays (each element) on the way and flattening an
 * array found at the end. Own properties only, so `__proto__` or `constructor` in a record resolve to
 * nothing rather than to Object.prototype.
 *
 * @example valuesAt({ a: [{ b: 1 }, { b: 2 }] }, 'a.b') // [1, 2]
 */
export function valuesAt(root: unknown, path: string): unknown[] {
  let current: unknown[] = [root];
  for (const key of path.split('.')) {
    const next: unknown[] = [];
    for (const v of current) {
      if (Array.isArray(v)) {
        for (const el of v) pushOwn(next, el, key);
      } else pushOwn(next, v, key);
    }
    if (next.length === 0) return next;
    current = next;
  }
  return current.flatMap((v) => (Array.isArray(v) ? v : [v]));
}

function pushOwn(out: unknown[], v: unknown, key: string): void {
  if (v !== null && typeof v === 'object' && !Array.isArray(v) && Object.hasOwn(v, key)) {
    out.push((v as Record<string, unknown>)[key]);
  }
}

/** The first string-ish value at a path, or undefined. */
export function stringAt(root: unknown, path: string): string | undefined {
  for (const v of valuesAt(root, path)) {
    if (typeof v === 'string' && v !== '') return v;
    if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  }
  return undefined;
}
