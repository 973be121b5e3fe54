/**
 * A queue workload with an exact action mix: generated records (bench/inputs.ts) sorted by what the
 * default ruleset decides for them, notify calls dealt out evenly to the engineers, then shuffled.
 */
import type { CloudTrailRecord } from '../cloudtrail/record.js';
import { decide, defaultDecideContext } from '../handlers/decide.js';
import type { Action, RuleSet } from '../rules/types.js';
import { type Corpus, pick, prng, type Template, templatesOf, vary } from './inputs.js';

export interface Workload {
  records: CloudTrailRecord[];
  /** The action the default policy gives each record, by eventID. */
  actions: Map<string, Action>;
  /** Engineer of each notify record, by eventID. */
  engineerOf: Map<string, string>;
}

export interface MixOptions {
  counts: Record<Action, number>;
  engineers: readonly string[];
  seed: number;
  /** Event times are spread over the `spreadMs` before this. */
  anchorMs: number;
  spreadMs: number;
}

const canBeEngineer = (t: Template) => t.human !== undefined;

/** Records with exactly `counts` of each action (as decided at `anchorMs`), shuffled. */
export function mixedWorkload(corpus: Corpus, ruleSet: RuleSet, opts: MixOptions): Workload {
  const rand = prng(opts.seed);
  const ctx = defaultDecideContext({ now: new Date(opts.anchorMs) });
  const templates = templatesOf(corpus);
  // Each template's action with an engineer as caller (the engineer's name does not change it).
  const pools: Record<Action, Template[]> = { log: [], notify: [], alert: [] };
  for (const t of templates) {
    const r = vary(t, rand, { timeMs: opts.anchorMs - 60_000, engineer: opts.engineers[0] ?? 'alice' });
    const d = decide(r, ruleSet, ctx);
    if (d.action === 'notify' && !canBeEngineer(t)) continue;
    pools[d.action].push(t);
  }
  for (const a of ['log', 'notify', 'alert'] as const) {
    if (opts.counts[a] > 0 && pools[a].length === 0) throw new Error(`no corpus record decides ${a}`);
  }
  const records: CloudTrailRecord[] = [];
  const actions = new Map<string, Action>();
  const engineerOf = new Map<string, string>();
  for (const action of ['log', 'notify', 'alert'] as const) {
    for (let i = 0; i < opts.counts[action]; ) {
      const engineer =
        action === 'notify'
          ? (opts.engineers[i % opts.engineers.length] as string)
          : pick(rand, opts.engineers);
      const r = vary(pick(rand, pools[action]), rand, {
        timeMs: opts.anchorMs - Math.floor(rand() * opts.spreadMs),
        engineer,
      });
      if (decide(r, ruleSet, ctx).action !== action) continue; // rare: the variation changed it
      records.push(r);
      actions.set(r.eventID, action);
      if (action === 'notify') engineerOf.set(r.eventID, engineer);
      i++;
    }
  }
  for (let i = records.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [records[i], records[j]] = [records[j] as CloudTrailRecord, records[i] as CloudTrailRecord];
  }
  return { records, actions, engineerOf };
}
