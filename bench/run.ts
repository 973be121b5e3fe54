/**
 * `npm run bench [-- --quick] [-- --only decide,rules,triage,drain,latency] [-- --seed N]`
 *
 * Runs the benchmarks, prints one table and writes the same figures as JSON to
 * bench/results/<timestamp>.json and bench/results/latest.json. Every figure is a ratio to a baseline
 * measured in the same run (these machines are shared and noisy); absolute rates are reported beside.
 * Exit code 0 when every bar is met, 1 otherwise (2 on a usage error). See bench/README.md.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { DEFAULT_SEED, loadCorpus } from './inputs.js';
import { type BenchResult, machine, renderTable } from './report.js';
import type { BenchContext } from './timing.js';

export const BENCHES = ['decide', 'rules', 'triage', 'drain', 'latency'] as const;
export type BenchName = (typeof BENCHES)[number];

const RESULTS_DIR = fileURLToPath(new URL('./results/', import.meta.url));
// The SDK's notice about future Node versions says nothing about the figures (and runs in children too).
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

export interface RunOptions {
  quick: boolean;
  only: BenchName[];
  seed: number;
  /** Where to write the JSON (default bench/results). */
  resultsDir?: string;
  log?: (line: string) => void;
}

export interface RunReport {
  startedAt: string;
  durationMs: number;
  quick: boolean;
  seed: number;
  corpus: string;
  machine: ReturnType<typeof machine>;
  results: BenchResult[];
  allOk: boolean;
}

export async function runBenchmarks(
  opts: RunOptions,
): Promise<{ report: RunReport; file: string; table: string }> {
  const started = new Date();
  const log = opts.log ?? ((l: string) => process.stderr.write(`${l}\n`));
  const corpus = loadCorpus();
  const bc: BenchContext = { quick: opts.quick, seed: opts.seed, corpus, log };
  const results: BenchResult[] = [];
  const want = (b: BenchName) => opts.only.includes(b);
  if (want('decide') || want('rules')) {
    const { benchDecide } = await import('./decide.js');
    const [decideResult, rulesResult] = await benchDecide(bc);
    if (want('decide') && decideResult) results.push(decideResult);
    if (want('rules') && rulesResult) results.push(rulesResult);
  }
  if (want('triage')) {
    const { benchTriage } = await import('./triage.js');
    results.push(await benchTriage(bc));
  }
  if (want('drain')) {
    const { benchDrain } = await import('./drain.js');
    results.push(await benchDrain(bc));
  }
  if (want('latency')) {
    const { benchLatency } = await import('./latency.js');
    results.push(await benchLatency(bc));
  }
  const report: RunReport = {
    startedAt: started.toISOString(),
    durationMs: Date.now() - started.getTime(),
    quick: opts.quick,
    seed: opts.seed,
    corpus: corpus.source,
    machine: machine(),
    results,
    allOk: results.every((r) => r.figures.every((f) => f.ok !== false)),
  };
  const dir = opts.resultsDir ?? RESULTS_DIR;
  mkdirSync(dir, { recursive: true });
  const json = `${JSON.stringify(report, null, 2)}\n`;
  const file = join(dir, `${report.startedAt.replace(/[:.]/g, '-')}${opts.quick ? '-quick' : ''}.json`);
  writeFileSync(file, json);
  // `latest` is the last run of every benchmark (the evidence bench/README.md quotes), not of a part.
  if (BENCHES.every(want)) writeFileSync(join(dir, opts.quick ? 'latest-quick.json' : 'latest.json'), json);
  return { report, file, table: renderTable(results) };
}

function usage(): string {
  return `usage: npm run bench -- [--quick] [--only ${BENCHES.join(',')}] [--seed N]\n`;
}

async function main(): Promise<number> {
  let values: { quick?: boolean; only?: string; seed?: string; help?: boolean };
  try {
    ({ values } = parseArgs({
      args: process.argv.slice(2),
      options: {
        quick: { type: 'boolean', default: false },
        only: { type: 'string' },
        seed: { type: 'string' },
        help: { type: 'boolean', short: 'h', default: false },
      },
    }));
  } catch (err) {
    process.stderr.write(`${(err as Error).message}\n${usage()}`);
    return 2;
  }
  if (values.help) {
    process.stdout.write(usage());
    return 0;
  }
  const only = (values.only ?? BENCHES.join(','))
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  const unknown = only.filter((b) => !(BENCHES as readonly string[]).includes(b));
  if (unknown.length > 0) {
    process.stderr.write(`unknown benchmark ${unknown.join(', ')}\n${usage()}`);
    return 2;
  }
  const seed = values.seed === undefined ? DEFAULT_SEED : Number(values.seed);
  if (!Number.isInteger(seed)) {
    process.stderr.write(`--seed must be an integer\n${usage()}`);
    return 2;
  }
  const { report, file, table } = await runBenchmarks({
    quick: values.quick ?? false,
    only: only as BenchName[],
    seed,
    // Tests write their results elsewhere.
    resultsDir: process.env.SECBOT_BENCH_RESULTS || undefined,
  });
  const m = report.machine;
  process.stdout.write(
    `\nsecbot benchmarks${report.quick ? ' (quick)' : ''}: ${m.cpu}, ${m.cores} cores, ${m.memory}, node ${m.node}; ` +
      `inputs from ${report.corpus}, seed ${report.seed}\n\n${table}\n` +
      `${report.allOk ? 'every bar met' : 'some bars MISSED'}; ${(report.durationMs / 1000).toFixed(0)} s; written to ${file}\n`,
  );
  return report.allOk ? 0 : 1;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  process.exitCode = await main();
}
