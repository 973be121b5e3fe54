/**
 * The EventBridge event pattern that delivers every call the rules can match: the rule files are the
 * single source of truth, and the collection side deploys what this prints.
 *
 * A rule that pins its event sources and names contributes them; a rule that cannot (root use, a
 * user agent) carries a hand-written `secbot.eventbridge` pattern for `detail`; a rule with neither
 * is reported, because it forces delivery of every CloudTrail event. `matchesPattern` evaluates the
 * subset of EventBridge's pattern language used here, so tests prove that each rule's positive test
 * records would actually be delivered.
 */
import type { RuleSet } from './types.js';

/** CloudTrail's EventBridge detail types. */
export const CLOUDTRAIL_DETAIL_TYPES = [
  'AWS API Call via CloudTrail',
  'AWS Console Sign In via CloudTrail',
  'AWS Console Action via CloudTrail',
  'AWS Service Event via CloudTrail',
];

export interface PatternResult {
  pattern: Record<string, unknown>;
  /** Rules that pin no event name and give no `secbot.eventbridge` (their source, or everything, is delivered whole). */
  broadRules: { ruleId: string; file: string; scope: string }[];
}

/**
 * Build the pattern. Names are grouped per event source; a rule that pins a source but no name
 * delivers that whole source; `secbot.eventbridge` patterns are added as they are; a rule that pins
 * nothing delivers every CloudTrail event.
 *
 * @example buildEventBridgePattern(ruleSet).pattern
 * // { "detail-type": [...], "detail": { "$or": [{ "eventSource": ["iam.amazonaws.com"], "eventName": ["CreateUser", …] }, …] } }
 */
export function buildEventBridgePattern(ruleSet: RuleSet): PatternResult {
  const namesBySource = new Map<string, Set<string>>();
  const wholeSources = new Set<string>();
  const anySourceNames = new Set<string>();
  const custom = new Map<string, Record<string, unknown>>();
  const broadRules: PatternResult['broadRules'] = [];
  let everything = false;

  for (const rule of ruleSet.rules) {
    const { eventSources: sources, eventNames: names } = rule;
    if (!names && rule.eventbridge) {
      custom.set(JSON.stringify(rule.eventbridge), rule.eventbridge);
    } else if (!sources && !names) {
      everything = true;
      broadRules.push({ ruleId: rule.id, file: rule.file, scope: 'any event source and any event name' });
    } else if (sources && !names) {
      for (const s of sources) wholeSources.add(s);
      broadRules.push({ ruleId: rule.id, file: rule.file, scope: `any event name of ${sources.join(', ')}` });
    } else if (!sources && names) {
      for (const n of names) anySourceNames.add(n);
    } else if (sources && names) {
      for (const s of sources) {
        const set = namesBySource.get(s) ?? new Set<string>();
        for (const n of names) set.add(n);
        namesBySource.set(s, set);
      }
    }
  }

  const base: Record<string, unknown> = { 'detail-type': [...CLOUDTRAIL_DETAIL_TYPES] };
  if (everything) return { pattern: base, broadRules };

  const branches: Record<string, unknown>[] = [];
  for (const s of [...namesBySource.keys()].sort()) {
    if (wholeSources.has(s)) continue;
    branches.push({ eventSource: [s], eventName: [...(namesBySource.get(s) ?? [])].sort() });
  }
  if (wholeSources.size > 0) branches.push({ eventSource: [...wholeSources].sort() });
  if (anySourceNames.size > 0) branches.push({ eventName: [...anySourceNames].sort() });
  for (const key of [...custom.keys()].sort()) branches.push(custom.get(key) as Record<string, unknown>);

  const pattern: Record<string, unknown> = {
    ...base,
    detail: branches.length === 1 ? branches[0] : { $or: branches },
  };
  return { pattern, broadRules };
}

// --- a matcher for the pattern language used above -----------------------------------------------

const isObject = (v: unknown): v is Record<string, unknown> =>
  v !== null && typeof v === 'object' && !Array.isArray(v);

function wildcardMatches(pattern: string, value: string): boolean {
  const parts = pattern.split('*').map((p) => p.replace(/[.+?^${}()|[\]\\]/g, '\\$&'));
  return new RegExp(`^${parts.join('.*')}$`, 's').test(value);
}

/** One value against one pattern element (a literal or a content filter). */
function elementMatches(element: unknown, value: unknown, present: boolean): boolean {
  if (!isObject(element)) return present && element === value;
  if ('exists' in element) return element.exists === present;
  if (!present) return false;
  if (typeof element.prefix === 'string')
    return typeof value === 'string' && value.startsWith(element.prefix);
  if (typeof element.suffix === 'string') return typeof value === 'string' && value.endsWith(element.suffix);
  if (typeof element.wildcard === 'string')
    return typeof value === 'string' && wildcardMatches(element.wildcard, value);
  if (typeof element['equals-ignore-case'] === 'string')
    return (
      typeof value === 'string' && value.toLowerCase() === String(element['equals-ignore-case']).toLowerCase()
    );
  if ('anything-but' in element) {
    const but = element['anything-but'];
    return !(Array.isArray(but) ? but : [but]).includes(value);
  }
  throw new Error(`unsupported EventBridge content filter ${JSON.stringify(element)}`);
}

/**
 * Whether an event matches an EventBridge pattern (exact values, prefix, suffix, wildcard,
 * equals-ignore-case, anything-but, exists, `$or`; arrays in the event match when any element does).
 */
export function matchesPattern(pattern: Record<string, unknown>, event: unknown): boolean {
  for (const [key, expected] of Object.entries(pattern)) {
    if (key === '$or') {
      if (!Array.isArray(expected) || !expected.some((b) => isObject(b) && matchesPattern(b, event)))
        return false;
      continue;
    }
    const present = isObject(event) && Object.hasOwn(event, key);
    const value = present ? (event as Record<string, unknown>)[key] : undefined;
    if (isObject(expected)) {
      if (!matchesPattern(expected, present ? value : {})) return false;
      continue;
    }
    if (!Array.isArray(expected)) throw new Error(`pattern field ${key} must be an array or an object`);
    const values = Array.isArray(value) ? value : [value];
    if (!expected.some((el) => values.some((v) => elementMatches(el, v, present && v !== undefined))))
      return false;
  }
  return true;
}
