/**
 * Synthetic Sigma rules for the rule-scaling benchmark: real event sources and names from the corpus,
 * with the shapes real rules have (a request-parameter substring, a user-agent list, denied calls but
 * not a service's, a wildcard value, a CIDR), as selective as real detection rules (a call of the name
 * rarely matches), compiled by the real loader. One rule in a hundred pins only the
 * event source (`eventName|startswith`), so the index must also cope with rules it cannot narrow by name.
 */
import type { CloudTrailRecord } from '../cloudtrail/record.js';
import { checkRuleSources } from '../rules/loader.js';
import type { RuleSet } from '../rules/types.js';
import type { Corpus } from './inputs.js';
import { prng } from './inputs.js';

interface EventShape {
  source: string;
  name: string;
  /** Top-level string request parameters seen for this call: key → a value. */
  params: [string, string][];
}

const SAFE_KEY = /^[A-Za-z][A-Za-z0-9_]*$/;
const SAFE_VALUE = /^[A-Za-z0-9._:/-]{4,}$/;

function shapesOf(records: readonly CloudTrailRecord[]): EventShape[] {
  const byCall = new Map<string, EventShape>();
  for (const r of records) {
    const key = `${r.eventSource}\u0000${r.eventName}`;
    let shape = byCall.get(key);
    if (!shape) {
      shape = { source: r.eventSource, name: r.eventName, params: [] };
      byCall.set(key, shape);
    }
    const rp = r.requestParameters;
    if (rp && typeof rp === 'object' && shape.params.length < 8) {
      for (const [k, v] of Object.entries(rp)) {
        if (typeof v === 'string' && SAFE_KEY.test(k) && SAFE_VALUE.test(v)) shape.params.push([k, v]);
      }
    }
  }
  return [...byCall.values()].sort((a, b) => (a.source + a.name < b.source + b.name ? -1 : 1));
}

const q = (s: string) => JSON.stringify(s);

function ruleText(i: number, e: EventShape, other: EventShape, rand: () => number): string {
  // A parameter of this call, looked for with a value seen in another call's parameters: what a rule
  // watching for one particular resource looks like (it rarely matches, as real ones rarely do).
  const key = e.params.length > 0 ? e.params[Math.floor(rand() * e.params.length)]?.[0] : undefined;
  const value =
    other.params.length > 0 ? other.params[Math.floor(rand() * other.params.length)]?.[1] : undefined;
  const param: [string, string] | undefined = key && value ? [key, value] : undefined;
  const frag = (v: string) => {
    const len = Math.min(v.length, 4 + Math.floor(rand() * 5));
    const start = Math.floor(rand() * (v.length - len + 1));
    return v.slice(start, start + len).replace(/[*?\\]/g, '');
  };
  const lines = [
    `title: Synthetic rule ${i} on ${e.name}`,
    `id: synthetic-${i}`,
    'status: stable',
    `level: ${(['low', 'medium', 'high'] as const)[i % 3]}`,
    'logsource: { product: aws, service: cloudtrail }',
    'detection:',
    '  selection:',
    `    eventSource: ${q(e.source)}`,
  ];
  if (i % 100 === 99) {
    // Pins the source only: a name prefix cannot go in the name index.
    lines.push(`    eventName|startswith: ${q(e.name.slice(0, Math.max(3, e.name.length - 4)))}`);
  } else {
    lines.push(`    eventName: ${q(e.name)}`);
  }
  let condition = 'selection';
  // As selective as real detection rules: most calls of the name do not match.
  switch (i % 5) {
    case 0:
      if (param) lines.push(`    requestParameters.${param[0]}|contains: ${q(frag(param[1]))}`);
      else lines.push(`    userAgent|contains: ${q('Pacu')}`);
      break;
    case 1:
      lines.push(
        '    userAgent|contains:',
        '      - kali',
        '      - parrot',
        '      - Pacu',
        '      - TruffleHog',
      );
      break;
    case 2:
      lines.push(
        '  denied:',
        '    errorCode:',
        '      - AccessDenied',
        '      - Client.UnauthorizedOperation',
        '  filter:',
        '    userIdentity.type: AWSService',
      );
      condition = 'selection and denied and not filter';
      break;
    case 3:
      if (param) lines.push(`    requestParameters.${param[0]}: ${q(`*${frag(param[1])}*`)}`);
      else lines.push(`    userAgent: ${q('*sqlmap*')}`);
      break;
    case 4:
      lines.push('    sourceIPAddress|cidr:', '      - 198.51.100.0/24', '      - 203.0.113.0/24');
      break;
  }
  lines.push(`  condition: ${condition}`);
  return `${lines.join('\n')}\n`;
}

/** The text of `n` synthetic rules over the corpus's event names (each name once before any twice). */
export function syntheticRuleSources(
  corpus: Corpus,
  n: number,
  seed: number,
): { file: string; text: string }[] {
  const rand = prng(seed);
  const shapes = shapesOf(corpus.records);
  // A seeded shuffle, so 10 rules are not all on the alphabetically first service.
  for (let i = shapes.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [shapes[i], shapes[j]] = [shapes[j] as EventShape, shapes[i] as EventShape];
  }
  return Array.from({ length: n }, (_, i) => ({
    file: `synthetic-${i}.yml`,
    text: ruleText(
      i,
      shapes[i % shapes.length] as EventShape,
      shapes[(i * 7 + 3) % shapes.length] as EventShape,
      rand,
    ),
  }));
}

/** `n` synthetic rules compiled into a RuleSet. Throws if any rule does not compile. */
export function syntheticRuleSet(
  corpus: Corpus,
  n: number,
  seed: number,
): { ruleSet: RuleSet; names: number } {
  const { ruleSet, issues } = checkRuleSources(syntheticRuleSources(corpus, n, seed));
  const errors = issues.filter((x) => x.severity === 'error');
  if (errors.length > 0) {
    throw new Error(
      `synthetic rules do not compile: ${errors
        .slice(0, 3)
        .map((e) => `${e.file}: ${e.message}`)
        .join('; ')}`,
    );
  }
  return { ruleSet, names: new Set(ruleSet.rules.flatMap((r) => r.eventNames ?? [])).size };
}
