/**
 * 1. decide(): JSON.parse + decide() over generated lines, against JSON.parse alone (the floor), on one
 *    core (this thread). Also reported, without a bar: decodeMessage() + decide(), what the drain does
 *    per message (the decoder's own parse plus its shape checks).
 * 2. Rule scaling: the same loop with 10, 100 and 1,000 synthetic rules on real event names.
 * Variants run interleaved, 5,000 lines at a time, in several rounds; a variant's time is the sum over
 * chunks of each chunk's median round (timing.ts), so a chunk another process interrupted once does
 * not count.
 */
import { decodeMessage } from '../cloudtrail/decode.js';
import type { CloudTrailRecord } from '../cloudtrail/record.js';
import { type DecideContext, decide, defaultDecideContext } from '../handlers/decide.js';
import { BUNDLED_RULES_DIR, loadRuleDirs } from '../rules/loader.js';
import type { RuleSet } from '../rules/types.js';
import { generateLines } from './inputs.js';
import { type BenchResult, figure, perSecond, rate } from './report.js';
import { syntheticRuleSet } from './synthetic-rules.js';
import { type BenchContext, interleave, type Loop } from './timing.js';

/** Generated records are spread over the half hour before this; decisions are made a minute after. */
const ANCHOR_MS = Date.parse('2025-06-02T12:00:00Z');

function decideContext(): DecideContext {
  return defaultDecideContext({ now: new Date(ANCHOR_MS + 60_000) });
}

const parseLoop: Loop = (lines, from, to) => {
  let n = 0;
  for (let i = from; i < to; i++) {
    const value = JSON.parse(lines[i] as string) as { eventID?: unknown };
    if (value.eventID !== undefined) n++;
  }
  return n;
};

function decideLoop(ruleSet: RuleSet, ctx: DecideContext, counts?: Record<string, number>): Loop {
  return (lines, from, to) => {
    let n = 0;
    for (let i = from; i < to; i++) {
      const record = JSON.parse(lines[i] as string) as CloudTrailRecord;
      const d = decide(record, ruleSet, ctx);
      n += d.matches.length;
      if (counts) counts[d.action] = (counts[d.action] ?? 0) + 1;
    }
    return n;
  };
}

function decodeDecideLoop(ruleSet: RuleSet, ctx: DecideContext): Loop {
  return (lines, from, to) => {
    let n = 0;
    for (let i = from; i < to; i++) {
      const result = decodeMessage(lines[i] as string);
      if (!result.ok) continue;
      for (const record of result.records) n += decide(record, ruleSet, ctx).matches.length;
    }
    return n;
  };
}

export async function benchDecide(bc: BenchContext): Promise<BenchResult[]> {
  const n = bc.quick ? 30_000 : 300_000;
  bc.log(`decide: generating ${n.toLocaleString('en')} records from ${bc.corpus.source}`);
  const lines = generateLines(bc.corpus, n, { seed: bc.seed, anchorMs: ANCHOR_MS });
  const ruleSet = await loadRuleDirs([BUNDLED_RULES_DIR]);
  const ctx = decideContext();

  // Which actions the default ruleset reaches on these inputs (outside the timing).
  const mix: Record<string, number> = {};
  decideLoop(ruleSet, ctx, mix)(lines, 0, lines.length);

  // The barred figure is timed with its baseline alone beside it; decode+decide (no bar) afterwards,
  // against a parse baseline of its own. Interleaved with the other two, decode+decide's allocations
  // (its decode results, its heap) were paid in part by the decide+parse chunks: 0.71–0.77 against
  // 0.77–0.79 timed apart, in one process over the same 300,000 lines (bench/README.md).
  bc.log('decide: timing parse and decide+parse, interleaved');
  const rounds = bc.quick ? 3 : 5;
  const t = interleave(lines, { parse: parseLoop, decide: decideLoop(ruleSet, ctx) }, { rounds });
  bc.log('decide: timing parse and decode+decide, interleaved');
  const td = interleave(lines, { parse: parseLoop, decode: decodeDecideLoop(ruleSet, ctx) }, { rounds });
  const parseRate = perSecond(t.records, t.ms.parse ?? 0);
  const decideRate = perSecond(t.records, t.ms.decide ?? 0);
  const decodeParseRate = perSecond(td.records, td.ms.parse ?? 0);
  const decodeRate = perSecond(td.records, td.ms.decode ?? 0);
  const decideResult: BenchResult = {
    bench: 'decide',
    title: `decide() over ${n.toLocaleString('en')} records, default ruleset (${ruleSet.rules.length} rules), one core`,
    figures: [
      figure(
        'decide+parse / parse throughput',
        decideRate / parseRate,
        'ratio',
        `parse ${rate(parseRate)} rec/s; decide+parse ${rate(decideRate)} rec/s`,
        { op: '>=', value: 0.75 },
      ),
      figure(
        'decode+decide / parse throughput',
        decodeRate / decodeParseRate,
        'ratio',
        `decodeMessage (its own parse and checks) + decide ${rate(decodeRate)} rec/s; parse ${rate(decodeParseRate)} rec/s beside it (no bar)`,
      ),
    ],
    absolute: {
      records: n,
      rounds: t.rounds,
      parsePerSecond: Math.round(parseRate),
      decideParsePerSecond: Math.round(decideRate),
      decodeDecidePerSecond: Math.round(decodeRate),
      decodeParsePerSecond: Math.round(decodeParseRate),
      log: mix.log ?? 0,
      notify: mix.notify ?? 0,
      alert: mix.alert ?? 0,
    },
    notes: [
      `action mix on these inputs: ${mix.log ?? 0} log, ${mix.notify ?? 0} notify, ${mix.alert ?? 0} alert`,
      `unfiltered totals over ${t.rounds} rounds: decide+parse / parse ${((t.totalMs.parse ?? 0) / (t.totalMs.decide ?? 1)).toFixed(3)}`,
    ],
  };

  // Rule scaling.
  const sizes = [10, 100, 1_000];
  const sets = sizes.map((size) => syntheticRuleSet(bc.corpus, size, bc.seed + size));
  const scaleLines = bc.quick ? lines : lines.slice(0, 150_000);
  bc.log(`rules: timing decide+parse with ${sizes.join(', ')} synthetic rules, interleaved`);
  const scaled = interleave(
    scaleLines,
    Object.fromEntries(
      sizes.map((size, i) => [String(size), decideLoop((sets[i] as { ruleSet: RuleSet }).ruleSet, ctx)]),
    ),
    { rounds: bc.quick ? 3 : 5 },
  );
  const rates = sizes.map((size) => perSecond(scaled.records, scaled.ms[String(size)] ?? 0));
  const [r10, r100, r1000] = rates as [number, number, number];
  const rulesResult: BenchResult = {
    bench: 'rules',
    title: `decide+parse with 10, 100 and 1,000 synthetic rules over ${sets.at(-1)?.names ?? 0} real event names`,
    figures: [
      figure(
        '1,000 rules / 10 rules throughput',
        r1000 / r10,
        'ratio',
        `10 rules ${rate(r10)} rec/s; 1,000 rules ${rate(r1000)} rec/s`,
        {
          op: '>=',
          value: 0.8,
        },
      ),
      figure(
        '100 rules / 10 rules throughput',
        r100 / r10,
        'ratio',
        `100 rules ${rate(r100)} rec/s (no bar)`,
      ),
    ],
    absolute: {
      records: scaleLines.length,
      rules10PerSecond: Math.round(r10),
      rules100PerSecond: Math.round(r100),
      rules1000PerSecond: Math.round(r1000),
    },
    notes: [
      `unfiltered totals over ${scaled.rounds} rounds: 1,000 / 10 rules ${((scaled.totalMs['10'] ?? 0) / (scaled.totalMs['1000'] ?? 1)).toFixed(3)}`,
    ],
  };
  return [decideResult, rulesResult];
}
