/**
 * Splits an EventBridge event pattern that is too long for one rule into several patterns whose union
 * delivers at least the same events, so the collector deploys one EventBridge rule per pattern.
 *
 * Why: a rule's pattern is limited to 2,048 characters by default (a quota that can be raised to 4,096),
 * and the pattern generated from the bundled rules is several times that.
 */

/** EventBridge's default limit on the length of one rule's event pattern. */
export const EVENT_PATTERN_MAX_CHARS = 2048;

type Pattern = Record<string, unknown>;

const isObject = (v: unknown): v is Pattern => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * The length EventBridge sees once Terraform has sent the pattern: compact JSON, where Terraform's
 * `jsonencode` writes `<`, `>`, `&`, U+2028 and U+2029 as six-character `\uXXXX` escapes.
 */
export function eventPatternLength(pattern: unknown): number {
  const json = JSON.stringify(pattern);
  return json.length + 5 * (json.match(/[<>&\u2028\u2029]/g)?.length ?? 0);
}

/**
 * Split `pattern` into patterns of at most `maxChars` characters each (see `eventPatternLength`).
 *
 * A pattern that fits comes back alone and unchanged. Otherwise the branches of `detail.$or` (or the
 * whole `detail`, if it has no `$or`) are packed in order into as few patterns as fit, each keeping the
 * pattern's other top-level fields (`detail-type`, …) and the rest of `detail`. A branch that does not
 * fit on its own is cut along its longest value list (e.g. `eventName`), which keeps its meaning: a list
 * is an "any of", so the halves together match what the whole did. The top-level `source` list is
 * dropped from split patterns: every branch then carries its own `detail.eventSource`, which names the
 * same service for CloudTrail events, and dropping a condition can only widen a pattern, never narrow
 * it — the union of the parts delivers every event the original pattern did.
 *
 * Throws when one branch cannot be made to fit (no list left to cut).
 *
 * @example
 * const parts = splitEventPattern(buildEventBridgePattern(ruleSet).pattern, 2048);
 * // → [{ 'detail-type': [...], detail: { $or: [ …some branches… ] } }, …]
 */
export function splitEventPattern(pattern: Pattern, maxChars: number = EVENT_PATTERN_MAX_CHARS): Pattern[] {
  if (!Number.isInteger(maxChars) || maxChars < 1)
    throw new RangeError(`maxChars must be a positive integer`);
  if (eventPatternLength(pattern) <= maxChars) return [pattern];

  const { detail, source: _source, ...base } = pattern;
  if (detail !== undefined && !isObject(detail)) {
    throw new Error('cannot split an event pattern whose "detail" is not an object');
  }
  const { $or, ...detailRest } = detail ?? {};
  const branches: Pattern[] = Array.isArray($or) ? $or.filter(isObject) : [detailRest];
  const shared = Array.isArray($or) ? detailRest : {};

  const build = (chunk: Pattern[]): Pattern => {
    const d: Pattern =
      chunk.length === 1 && Object.keys(shared).length === 0
        ? (chunk[0] as Pattern)
        : { ...shared, ...(chunk.length === 1 ? (chunk[0] as Pattern) : { $or: chunk }) };
    return { ...base, detail: d };
  };
  const fits = (chunk: Pattern[]) => eventPatternLength(build(chunk)) <= maxChars;

  const pieces: Pattern[] = [];
  for (const branch of branches) pieces.push(...cutToFit(branch, (b) => fits([b])));

  const out: Pattern[] = [];
  let current: Pattern[] = [];
  for (const piece of pieces) {
    if (current.length > 0 && !fits([...current, piece])) {
      out.push(build(current));
      current = [];
    }
    current.push(piece);
  }
  if (current.length > 0) out.push(build(current));
  return out;
}

/** Cut `branch` along its longest list until every piece fits; pieces in order. */
function cutToFit(branch: Pattern, fits: (b: Pattern) => boolean): Pattern[] {
  if (fits(branch)) return [branch];
  const path = longestList(branch);
  const list = path ? (get(branch, path) as unknown[]) : undefined;
  if (!path || !list || list.length < 2) {
    throw new Error(
      `an event pattern branch is too long for one rule even on its own and has no list left to cut: ${JSON.stringify(branch).slice(0, 200)}…`,
    );
  }
  const half = Math.ceil(list.length / 2);
  return [
    ...cutToFit(set(branch, path, list.slice(0, half)), fits),
    ...cutToFit(set(branch, path, list.slice(half)), fits),
  ];
}

/** The path of the longest (in characters) list of values inside `branch`, outside `$or`s. */
function longestList(branch: Pattern): string[] | undefined {
  let best: { path: string[]; size: number } | undefined;
  const walk = (node: Pattern, path: string[]) => {
    for (const [k, v] of Object.entries(node)) {
      if (k === '$or') continue;
      if (Array.isArray(v)) {
        const size = JSON.stringify(v).length;
        if (v.length >= 2 && (!best || size > best.size)) best = { path: [...path, k], size };
      } else if (isObject(v)) walk(v, [...path, k]);
    }
  };
  walk(branch, []);
  return best?.path;
}

function get(node: Pattern, path: string[]): unknown {
  let cur: unknown = node;
  for (const k of path) cur = isObject(cur) ? cur[k] : undefined;
  return cur;
}

function set(node: Pattern, path: string[], value: unknown): Pattern {
  const [head, ...rest] = path;
  if (head === undefined) return node;
  const child = node[head];
  return { ...node, [head]: rest.length === 0 ? value : set(isObject(child) ? child : {}, rest, value) };
}
