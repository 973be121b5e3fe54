/**
 * Plain JS values ⇄ DynamoDB AttributeValues, and a builder for expression placeholders.
 * (The low-level client only; lib-dynamodb is not a dependency.) Dates are stored as ISO strings.
 */
import type { AttributeValue } from '@aws-sdk/client-dynamodb';

export type Item = Record<string, AttributeValue>;

/** Marshal one value. `undefined` gives `undefined` (the caller leaves the attribute out). */
export function toAttr(value: unknown): AttributeValue | undefined {
  if (value === undefined) return undefined;
  if (value === null) return { NULL: true };
  if (typeof value === 'string') return { S: value };
  if (typeof value === 'boolean') return { BOOL: value };
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw new TypeError(`cannot store non-finite number ${value}`);
    return { N: String(value) };
  }
  if (value instanceof Date) return { S: value.toISOString() };
  if (Array.isArray(value)) return { L: value.map((v) => toAttr(v) ?? { NULL: true }) };
  if (typeof value === 'object') return { M: toItem(value as Record<string, unknown>) };
  throw new TypeError(`cannot store a ${typeof value}`);
}

/** Marshal an object's own enumerable properties, leaving out `undefined` ones. */
export function toItem(obj: Record<string, unknown>): Item {
  const out: Item = {};
  for (const [k, v] of Object.entries(obj)) {
    const av = toAttr(v);
    if (av !== undefined) out[k] = av;
  }
  return out;
}

/** Unmarshal one value (numbers become JS numbers; secbot stores no integers beyond 2^53). */
export function fromAttr(av: AttributeValue): unknown {
  if (av.S !== undefined) return av.S;
  if (av.N !== undefined) return Number(av.N);
  if (av.BOOL !== undefined) return av.BOOL;
  if (av.NULL !== undefined) return null;
  if (av.L !== undefined) return av.L.map(fromAttr);
  if (av.M !== undefined) return fromItem(av.M);
  if (av.SS !== undefined) return [...av.SS];
  if (av.NS !== undefined) return av.NS.map(Number);
  if (av.B !== undefined) return av.B;
  throw new TypeError(`unsupported attribute value ${JSON.stringify(av)}`);
}

export function fromItem(item: Item): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(item)) out[k] = fromAttr(v);
  return out;
}

/**
 * Collects `#name` and `:value` placeholders for one request, so attribute names never clash with
 * DynamoDB's reserved words and values are marshalled in one place.
 *
 * @example
 * const x = new Expr();
 * const cond = `${x.name('state')} = ${x.value('OPEN')}`;
 * // { ConditionExpression: cond, ...x.params() }
 */
export class Expr {
  private readonly names = new Map<string, string>();
  private readonly values: Item = {};
  private valueCount = 0;

  /** A placeholder for a top-level attribute name. */
  name(attr: string): string {
    let p = this.names.get(attr);
    if (!p) {
      p = `#n${this.names.size}`;
      this.names.set(attr, p);
    }
    return p;
  }

  /** A placeholder for a nested path, e.g. `path('joined', eventId)` → `#n3.#n4`. */
  path(...segments: string[]): string {
    return segments.map((s) => this.name(s)).join('.');
  }

  /** A placeholder for a value. */
  value(v: unknown): string {
    const av = toAttr(v);
    if (av === undefined) throw new TypeError('an expression value cannot be undefined');
    const p = `:v${this.valueCount++}`;
    this.values[p] = av;
    return p;
  }

  /** `#state IN (:a, :b)` */
  oneOf(attr: string, values: readonly unknown[]): string {
    if (values.length === 0) throw new TypeError(`no values given for ${attr}`);
    return `${this.name(attr)} IN (${values.map((v) => this.value(v)).join(', ')})`;
  }

  params(): { ExpressionAttributeNames?: Record<string, string>; ExpressionAttributeValues?: Item } {
    const out: { ExpressionAttributeNames?: Record<string, string>; ExpressionAttributeValues?: Item } = {};
    if (this.names.size > 0)
      out.ExpressionAttributeNames = Object.fromEntries([...this.names].map(([a, p]) => [p, a]));
    if (this.valueCount > 0) out.ExpressionAttributeValues = this.values;
    return out;
  }
}

/** Builds an UpdateExpression from SET / ADD / REMOVE clauses. */
export class Update {
  readonly set: string[] = [];
  readonly add: string[] = [];
  readonly remove: string[] = [];

  constructor(readonly x: Expr) {}

  /** `SET attr = :value` for each defined property (`undefined` is skipped; `null` removes). */
  assign(fields: Record<string, unknown>): this {
    for (const [k, v] of Object.entries(fields)) {
      if (v === undefined) continue;
      if (v === null) this.remove.push(this.x.name(k));
      else this.set.push(`${this.x.name(k)} = ${this.x.value(v)}`);
    }
    return this;
  }

  toString(): string {
    const parts: string[] = [];
    if (this.set.length) parts.push(`SET ${this.set.join(', ')}`);
    if (this.add.length) parts.push(`ADD ${this.add.join(', ')}`);
    if (this.remove.length) parts.push(`REMOVE ${this.remove.join(', ')}`);
    return parts.join(' ');
  }
}
