/**
 * `npm run bench [-- --quick] [-- --only decide,rules,triage,drain,latency] [-- --seed N]`
 *
 * Runs the benchmarks, prints one table and writes the same figures as JSON to
 * bench/results/<timestamp>.json and bench/results/latest.json. Every figure is a ratio to a baseline
 * measured in the same run (these machines are shared and noisy); absolute rates are reported beside.
 * Exit code 0 when every bar is met, 1 otherwise (2 on a usage error). See bench/README.md.
 */
import { fork } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { corpusSource, DEFAULT_SEED, loadCorpus } from './inputs.js';
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
  const results: BenchResult[] = [];
  const want = (b: BenchName) => opts.only.includes(b);
  // Each group in a process of its own: what one leaves in the heap (300,000 lines, a million-record
  // triage) must not slow the next one's garbage collection (it did: the drain, ~10%).
  for (const group of GROUPS) {
    const wanted = group.filter(want);
    if (wanted.length === 0) continue;
    const got = await runInChild(group[0] as BenchName, opts, log);
    results.push(...got.filter((r) => wanted.includes(r.bench as BenchName)));
  }
  const report: RunReport = {
    startedAt: started.toISOString(),
    durationMs: Date.now() - started.getTime(),
    quick: opts.quick,
    seed: opts.seed,
    corpus: corpusSource(),
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

/** Benchmarks run together (decide and rules share their inputs). */
const GROUPS: BenchName[][] = [['decide', 'rules'], ['triage'], ['drain'], ['latency']];

/** Runs the group whose first benchmark is `first`, in this process. */
async function runGroup(first: BenchName, bc: BenchContext): Promise<BenchResult[]> {
  switch (first) {
    case 'decide':
    case 'rules': {
      const { benchDecide } = await import('./decide.js');
      return benchDecide(bc);
    }
    case 'triage': {
      const { benchTriage } = await import('./triage.js');
      return [await benchTriage(bc)];
    }
    case 'drain': {
      const { benchDrain } = await import('./drain.js');
      return [await benchDrain(bc)];
    }
    case 'latency': {
      const { benchLatency } = await import('./latency.js');
      return [await benchLatency(bc)];
    }
  }
}

/** Runs a group in a child process of this module (`--child <first>`), which sends back its results. */
function runInChild(first: BenchName, opts: RunOptions, log: (line: string) => void): Promise<BenchResult[]> {
  return new Promise((resolve, reject) => {
    const args = ['--child', first, '--seed', String(opts.seed), ...(opts.quick ? ['--quick'] : [])];
    const child = fork(fileURLToPath(import.meta.url), args, {
      // --expose-gc: the drain collects the garbage one drain left before timing the next (bench/drain.ts).
      execArgv: ['--import', 'tsx', '--expose-gc'],
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    let results: BenchResult[] | undefined;
    child.on('message', (m: { results?: BenchResult[]; log?: string }) => {
      if (m.log !== undefined) log(m.log);
      if (m.results) results = m.results;
    });
    child.once('error', reject);
    child.once('exit', (code) => {
      if (results && code === 0) resolve(results);
      else reject(new Error(`benchmark ${first} failed in its process (exit code ${code})`));
    });
  });
}

/** The child's side of runInChild. */
async function child(first: BenchName, quick: boolean, seed: number): Promise<void> {
  const log = (line: string) => process.send?.({ log: line });
  const results = await runGroup(first, { quick, seed, corpus: loadCorpus(), log });
  await new Promise<void>((resolve, reject) =>
    process.send?.({ results }, (err: Error | null) => (err ? reject(err) : resolve())),
  );
}

function usage(): string {
  return `usage: npm run bench -- [--quick] [--only ${BENCHES.join(',')}] [--seed N]\n`;
}

async function main(): Promise<number> {
  let values: { quick?: boolean; only?: string; seed?: string; help?: boolean; child?: string };
  try {
    ({ values } = parseArgs({
      args: process.argv.slice(2),
      options: {
        quick: { type: 'boolean', default: false },
        only: { type: 'string' },
        seed: { type: 'string' },
        help: { type: 'boolean', short: 'h', default: false },
        child: { type: 'string' },
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
  if (values.child !== undefined) {
    await child(values.child as BenchName, values.quick ?? false, seed);
    return 0;
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
