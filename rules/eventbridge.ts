/**
 * The EventBridge event pattern that delivers every call the rules can match: the rule files are the
 * single source of truth, and the collection side deploys what this prints.
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
  /** Rules that pin no event name (their source, or everything, is delivered whole). */
  broadRules: { ruleId: string; file: string; scope: string }[];
}

const sourceOf = (eventSource: string) => `aws.${eventSource.replace(/\.amazonaws\.com$/, '')}`;

/**
 * Build the pattern. Names are grouped per event source; a rule that pins a source but no name
 * delivers that whole source; a rule that pins neither delivers every CloudTrail event.
 *
 * @example buildEventBridgePattern(ruleSet).pattern
 * // { "detail-type": [...], "detail": { "$or": [{ "eventSource": ["iam.amazonaws.com"], "eventName": ["CreateUser", …] }, …] } }
 */
export function buildEventBridgePattern(ruleSet: RuleSet): PatternResult {
  const namesBySource = new Map<string, Set<string>>();
  const wholeSources = new Set<string>();
  const anySourceNames = new Set<string>();
  const broadRules: PatternResult['broadRules'] = [];
  let everything = false;

  for (const rule of ruleSet.rules) {
    const { eventSources: sources, eventNames: names } = rule;
    if (!sources && !names) {
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

  const sources = new Set([...namesBySource.keys(), ...wholeSources]);
  const pattern: Record<string, unknown> = {
    ...base,
    ...(anySourceNames.size === 0 ? { source: [...sources].map(sourceOf).sort() } : {}),
    detail: branches.length === 1 ? branches[0] : { $or: branches },
  };
  return { pattern, broadRules };
}
