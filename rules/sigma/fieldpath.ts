/**
 * Field-path resolution: `requestParameters.ipPermissions.items.ipRanges.items.cidrIp` walks nested
 * objects, fanning out over every array element on the way ("any element matches"). Only own
 * properties are read, so keys such as `__proto__` or `constructor` never reach Object.prototype.
 */

/**
 * A test on one value found at a path. `undefined` stands for "the field is missing" (absent key,
 * empty array); `root` is the whole record, for modifiers that look at another field.
 */
export type LeafPred = (value: unknown, root: unknown) => boolean;

/** Deepest nesting followed; deeper data is treated as absent (records are depth-checked upstream). */
export const MAX_DEPTH = 64;

const hasOwn = Object.hasOwn;

/**
 * `key` as the engine's own internalized string, the form property names take. Keys made at load
 * (`split`, `join`) are not: reading a property with one makes V8 look it up in its string table on
 * every read, and a dotted key no record holds is looked up in vain each time.
 */
export function internKey(key: string): string {
  for (const k in { [key]: true }) return k;
  return key;
}

/** Checks a field name: dotted segments, none empty. Returns a problem description or undefined. */
export function fieldNameProblem(name: string): string | undefined {
  if (name === '') return 'empty field name';
  if (name.split('.').some((s) => s === '')) return `field name '${name}' has an empty path segment`;
  return undefined;
}

export class FieldPath {
  readonly name: string;
  private readonly segs: readonly string[];
  /** joined[i][j - i] = segs[i..j] joined with '.', so literal dotted keys can be tried too. */
  private readonly joined: readonly (readonly string[])[];
  private readonly single: string | undefined;

  constructor(name: string) {
    this.name = name;
    this.segs = name.split('.').map(internKey);
    const n = this.segs.length;
    this.joined = this.segs.map((_, i) => {
      const row: string[] = [];
      for (let j = i; j < n; j++) row.push(internKey(this.segs.slice(i, j + 1).join('.')));
      return row;
    });
    this.single = n === 1 ? this.segs[0] : undefined;
  }

  /**
   * True when `pred` holds for some value at this path under `scope`. Arrays met on the way (and at
   * the end) are expanded element by element; a missing field calls `pred(undefined)` once per
   * branch that ends early.
   */
  some(scope: unknown, pred: LeafPred, root: unknown): boolean {
    const key = this.single;
    if (key !== undefined && typeof scope === 'object' && scope !== null && !Array.isArray(scope)) {
      return leaf(hasOwn(scope, key) ? (scope as Record<string, unknown>)[key] : undefined, pred, root, 0);
    }
    return this.step(scope, 0, pred, root, 0);
  }

  private step(v: unknown, i: number, pred: LeafPred, root: unknown, depth: number): boolean {
    if (depth > MAX_DEPTH) return false;
    if (i === this.segs.length) return leaf(v, pred, root, depth);
    if (Array.isArray(v)) {
      if (v.length === 0) return pred(undefined, root);
      for (let k = 0; k < v.length; k++) if (this.step(v[k], i, pred, root, depth + 1)) return true;
      return false;
    }
    if (typeof v !== 'object' || v === null) return pred(undefined, root);
    const row = this.joined[i] as readonly string[];
    let found = false;
    for (let k = 0; k < row.length; k++) {
      const key = row[k] as string;
      if (hasOwn(v, key)) {
        found = true;
        if (this.step((v as Record<string, unknown>)[key], i + k + 1, pred, root, depth + 1)) return true;
      }
    }
    return found ? false : pred(undefined, root);
  }

  /** Every value at this path (arrays expanded, missing omitted), in document order. Allocates: not for the hot path. */
  values(scope: unknown): unknown[] {
    const out: unknown[] = [];
    this.some(
      scope,
      (v) => {
        if (v !== undefined) out.push(v);
        return false;
      },
      scope,
    );
    return out;
  }
}

function leaf(v: unknown, pred: LeafPred, root: unknown, depth: number): boolean {
  if (Array.isArray(v)) {
    if (depth > MAX_DEPTH) return false;
    if (v.length === 0) return pred(undefined, root);
    for (let k = 0; k < v.length; k++) if (leaf(v[k], pred, root, depth + 1)) return true;
    return false;
  }
  return pred(v, root);
}

/**
 * True when `test` holds for some scalar (string, number, boolean, null) anywhere inside `v`
 * (object values and array elements, recursively; keys are not searched).
 */
export function someScalar(v: unknown, test: (s: unknown) => boolean, depth = 0): boolean {
  if (typeof v !== 'object' || v === null) return test(v);
  if (depth > MAX_DEPTH) return false;
  if (Array.isArray(v)) {
    for (let k = 0; k < v.length; k++) if (someScalar(v[k], test, depth + 1)) return true;
    return false;
  }
  for (const key in v) {
    if (hasOwn(v, key) && someScalar((v as Record<string, unknown>)[key], test, depth + 1)) return true;
  }
  return false;
}
