/** Renders a rule's `secbot.reason` template against a record: "{eventName} grants {requestParameters.policyDocument|grants}". */
import { summarizeGrants } from './policy-document.js';
import { internKey } from './sigma/fieldpath.js';

const MAX_VALUE = 120;
const PLACEHOLDER = /\{([A-Za-z0-9_.$@-]+)(?:\|([a-z_]+))?\}/g;

/** Filters a placeholder may name after `|`. */
export const REASON_FILTERS = ['grants', 'count', 'first'] as const;

function show(v: unknown): string {
  const s = typeof v === 'string' ? v : JSON.stringify(v);
  return s.length > MAX_VALUE ? `${s.slice(0, MAX_VALUE - 1)}…` : s;
}

const hasOwn = Object.hasOwn;

/**
 * Collects the non-empty values at `segs[i..]` under `v` (own properties only; arrays are descended
 * element by element on the way and flattened at the end), like lib/path.ts `valuesAt`.
 */
function collect(v: unknown, segs: readonly string[], i: number, out: unknown[]): void {
  if (i === segs.length) {
    if (Array.isArray(v)) {
      for (const el of v) if (el !== null && el !== undefined && el !== '') out.push(el);
    } else if (v !== null && v !== undefined && v !== '') out.push(v);
    return;
  }
  if (Array.isArray(v)) {
    for (const el of v) {
      if (el !== null && typeof el === 'object' && !Array.isArray(el) && hasOwn(el, segs[i] as string)) {
        collect((el as Record<string, unknown>)[segs[i] as string], segs, i + 1, out);
      }
    }
    return;
  }
  if (v !== null && typeof v === 'object' && hasOwn(v, segs[i] as string)) {
    collect((v as Record<string, unknown>)[segs[i] as string], segs, i + 1, out);
  }
}

type Piece = string | ((record: unknown) => string);

/** What {@link walk} returns when it meets an array: the values are collected the general way. */
const SEVERAL: unique symbol = Symbol('several values');

/**
 * The one value at `segs` under `v` when no array is on the way (what records mostly hold), read as
 * {@link collect} reads it: own properties only, and undefined when it gathers nothing (a missing
 * field, null, ''). {@link SEVERAL} when an array is met, where collect fans out.
 */
function walk(v: unknown, segs: readonly string[]): unknown {
  for (let i = 0; i < segs.length; i++) {
    if (v === null || typeof v !== 'object') return undefined;
    if (Array.isArray(v)) return SEVERAL;
    const key = segs[i] as string;
    // A plain read first: an absent key (or an own undefined, which collect also passes over) needs no
    // own-property check; a value found does (never an inherited one).
    const next = (v as Record<string, unknown>)[key];
    if (next === undefined || !hasOwn(v, key)) return undefined;
    v = next;
  }
  if (Array.isArray(v)) return SEVERAL;
  return v === null || v === '' ? undefined : v;
}

function placeholder(path: string, filter: string | undefined): (record: unknown) => string {
  const segs = path.split('.').map(internKey);
  // renderValues of what collect gathers, without the list when there is at most one value.
  return (record) => {
    const v = walk(record, segs);
    if (v === SEVERAL) {
      const values: unknown[] = [];
      collect(record, segs, 0, values);
      return renderValues(values, filter);
    }
    if (v === undefined) return filter === 'count' ? '0' : '?';
    if (filter === 'count') return '1';
    if (filter === 'grants') return summarizeGrants(v) ?? show(v);
    return show(v);
  };
}

function renderValues(values: unknown[], filter: string | undefined): string {
  if (filter === 'count') return String(values.length);
  if (values.length === 0) return '?';
  if (filter === 'grants') return summarizeGrants(values[0]) ?? show(values[0]);
  if (filter === 'first' || values.length === 1) return show(values[0]);
  const distinct = [...new Set(values.map(show))];
  return distinct.length > 3
    ? `${distinct.slice(0, 3).join(', ')} and ${distinct.length - 3} more`
    : distinct.join(', ');
}

/**
 * Compiles a reason template once (placeholders parsed, paths split) into a function of the record.
 * Rules compile theirs at load; rendering then costs one pass over the pieces.
 */
export function compileReason(template: string): (record: unknown) => string {
  const pieces: Piece[] = [];
  let last = 0;
  for (const m of template.matchAll(PLACEHOLDER)) {
    const at = m.index ?? 0;
    if (at > last) pieces.push(template.slice(last, at));
    pieces.push(placeholder(m[1] as string, m[2]));
    last = at + m[0].length;
  }
  if (last < template.length) pieces.push(template.slice(last));
  if (pieces.length === 0) return () => '';
  if (pieces.length === 1) {
    const only = pieces[0] as Piece;
    return typeof only === 'string' ? () => only : only;
  }
  return (record) => {
    let out = '';
    for (let k = 0; k < pieces.length; k++) {
      const p = pieces[k] as Piece;
      out += typeof p === 'string' ? p : p(record);
    }
    return out;
  };
}

const compiled = new Map<string, (record: unknown) => string>();

/**
 * Fill `{path}` placeholders with the record's values (distinct values joined by ", "; "?" when absent).
 * Filters: `grants` summarises a policy document, `count` counts values, `first` keeps the first.
 * The result is plain text: whoever shows it in Slack escapes it. Templates are compiled once.
 *
 * @example renderReason('{eventName} by {userIdentity.userName}', record) // "CreateUser by alice"
 */
export function renderReason(template: string, record: unknown): string {
  let fn = compiled.get(template);
  if (!fn) {
    fn = compileReason(template);
    if (compiled.size < 10_000) compiled.set(template, fn);
  }
  return fn(record);
}

/** Placeholders of a template whose filter is unknown (for the rule checker). */
export function unknownReasonFilters(template: string): string[] {
  return [...template.matchAll(PLACEHOLDER)]
    .map((m) => m[2])
    .filter((f): f is string => f !== undefined && !(REASON_FILTERS as readonly string[]).includes(f));
}
