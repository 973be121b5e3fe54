/**
 * `secbot triage <files…|->`: the decision engine over CloudTrail files, streaming, with a readable
 * table (or JSON / ECS lines) and a summary. A malformed record is counted and reported, never a crash.
 *
 * The main thread reads and gunzips; JSON Lines come out of the reader as chunks of whole lines
 * (cloudtrail/read-files.ts), judged — decoded, decided, formatted, counted — by worker threads
 * (cli/triage-worker.ts) and by the main thread itself when they are busy (cli/triage-judge.ts, the
 * same code), then written and counted strictly in input order. Small inputs never start a worker.
 */
import { open } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { readCloudTrailUnits } from '../cloudtrail/read-files.js';
import { loadConfig } from '../config/index.js';
import { defaultDecideContext } from '../handlers/decide.js';
import { loadRuleDirs } from '../rules/loader.js';
import { ACTIONS, type Action } from '../rules/types.js';
import { ruleDirs } from './rules.js';
import {
  BufferPool,
  type Format,
  Judge,
  MALFORMED_EXAMPLES,
  pad,
  TABLE_HEADER,
  type UnitResult,
} from './triage-judge.js';
import { TriagePool } from './triage-pool.js';

export interface TriageOptions {
  format?: string;
  rules?: string[];
  actions?: string;
  'as-of'?: string;
  quiet?: boolean;
}

/** How the work is spread over threads; the output is the same whatever these are. */
export interface TriageTuning {
  /** Worker threads besides the main thread (0: none). Default: one per core but the main thread's, at most 2. */
  workers?: number;
  /** Bytes of JSON Lines judged together (default 1 MiB). */
  chunkBytes?: number;
  /**
   * Workers are started at once when the named files hold about this many bytes of JSON, else when
   * this many bytes of JSON Lines have been read (default 192 MiB, some 160,000 records: a worker
   * takes about a second of CPU to start, about what judging 130,000 records takes).
   */
  parallelBytes?: number;
  /** Every chunk to a worker, none judged on the main thread (for tests). */
  forceWorkers?: boolean;
}

export interface TriageIo {
  stdout?: NodeJS.WritableStream;
  stderr?: NodeJS.WritableStream;
  stdin?: NodeJS.ReadableStream;
  tuning?: TriageTuning;
}

/** Chunks a worker may have out: the one it judges, and the next. */
const PER_WORKER = 2;
/**
 * Units judged or being judged but not yet written, at most, and bytes of rows waiting (memory stays
 * flat when a worker lags, whatever the size of the rows).
 */
const MAX_QUEUE = 12;
const MAX_QUEUED_BYTES = 12 * 1024 * 1024;

/** Bounded top-N counter (space-saving): memory stays flat however many principals a file holds. */
export class TopCounter {
  private readonly counts = new Map<string, number>();
  constructor(private readonly capacity = 5_000) {}
  add(key: string): void {
    const c = this.counts.get(key);
    if (c !== undefined) {
      this.counts.set(key, c + 1);
      return;
    }
    if (this.counts.size >= this.capacity) {
      let minKey = '';
      let min = Number.POSITIVE_INFINITY;
      for (const [k, v] of this.counts) if (v < min) [minKey, min] = [k, v];
      this.counts.delete(minKey);
      this.counts.set(key, min + 1);
      return;
    }
    this.counts.set(key, 1);
  }
  /**
   * `add` every key of `order` (indexes into `keys`) in turn; `counts[i]` is how many times `keys[i]`
   * occurs in it. When no key can be evicted meanwhile, the counts are added at once, keys in order of
   * first appearance: the same result.
   */
  addAll(keys: readonly string[], counts: readonly number[], order: ArrayLike<number>): void {
    if (this.counts.size + keys.length <= this.capacity) {
      for (let i = 0; i < keys.length; i++) {
        const key = keys[i] as string;
        this.counts.set(key, (this.counts.get(key) ?? 0) + (counts[i] as number));
      }
      return;
    }
    for (let i = 0; i < order.length; i++) this.add(keys[order[i] as number] as string);
  }
  top(n: number): [string, number][] {
    return [...this.counts].sort((a, b) => b[1] - a[1]).slice(0, n);
  }
}

export interface TriageSummary {
  records: number;
  byAction: Record<Action, number>;
  byRule: Record<string, Record<Action, number>>;
  topPrincipals: { principal: string; calls: number }[];
  malformed: number;
  malformedByReason: Record<string, number>;
  malformedExamples: string[];
}

function parseActions(text: string | undefined): Set<Action> {
  if (!text) return new Set(ACTIONS);
  const wanted = text.split(',').map((s) => s.trim());
  const bad = wanted.filter((w) => !(ACTIONS as readonly string[]).includes(w));
  if (bad.length > 0) throw new Error(`--actions: unknown action ${bad.join(', ')} (use log, notify, alert)`);
  return new Set(wanted as Action[]);
}

/** Add a unit's counts to the summary, as if its records had been counted one by one after the others'. */
function mergeUnit(summary: TriageSummary, principals: TopCounter, r: UnitResult): void {
  summary.records += r.records;
  summary.byAction.log += r.byAction.log;
  summary.byAction.notify += r.byAction.notify;
  summary.byAction.alert += r.byAction.alert;
  for (const [id, log, notify, alert] of r.byRule) {
    const counts = summary.byRule[id] ?? { log: 0, notify: 0, alert: 0 };
    counts.log += log;
    counts.notify += notify;
    counts.alert += alert;
    summary.byRule[id] = counts;
  }
  principals.addAll(r.principals, r.principalCounts, r.principalOrder);
  summary.malformed += r.malformed;
  for (const [reason, n] of r.malformedByReason)
    summary.malformedByReason[reason] = (summary.malformedByReason[reason] ?? 0) + n;
  for (const e of r.malformedExamples) {
    if (summary.malformedExamples.length >= MALFORMED_EXAMPLES) break;
    summary.malformedExamples.push(e);
  }
}

/**
 * One worker per core but the main thread's, at most two: with the main thread that makes three
 * threads judging, about as fast as one gunzip thread inflates.
 */
function defaultWorkers(): number {
  return Math.max(0, Math.min(2, availableParallelism() - 1));
}

/** gzip'd CloudTrail JSON is some 6 to 10 times smaller than the JSON. */
const GZIP_RATIO = 6;

/** How many bytes of JSON the named files hold, roughly (stdin counts as nothing). */
async function inputBytes(paths: string[]): Promise<number> {
  let total = 0;
  for (const p of paths) {
    if (p === '-') continue;
    try {
      const fh = await open(p, 'r');
      try {
        const st = await fh.stat();
        if (!st.isFile()) continue;
        const magic = Buffer.alloc(2);
        await fh.read(magic, 0, 2, 0);
        total += magic[0] === 0x1f && magic[1] === 0x8b ? st.size * GZIP_RATIO : st.size;
      } finally {
        await fh.close();
      }
    } catch {
      // The reader reports unreadable inputs.
    }
  }
  return total;
}

export async function runTriage(paths: string[], opts: TriageOptions, io: TriageIo = {}): Promise<number> {
  const stdout = io.stdout ?? process.stdout;
  const stderr = io.stderr ?? process.stderr;
  const tuning = io.tuning ?? {};
  const format = (opts.format ?? 'table') as Format;
  if (!['table', 'json', 'ecs'].includes(format)) {
    stderr.write(`secbot triage: --format must be table, json or ecs (got "${format}")\n`);
    return 2;
  }
  if (paths.length === 0) {
    stderr.write('secbot triage: name at least one file, or - for standard input\n');
    return 2;
  }
  const shown = parseActions(opts.actions);
  const config = loadConfig();
  // Offline, a record is judged as if decided when it happened, unless --as-of says otherwise.
  const asOf = opts['as-of'];
  const ctx = defaultDecideContext({
    now: asOf && asOf !== 'now' ? new Date(asOf) : new Date(),
    policy: { ...config.policy, maxAgeMs: asOf ? config.policy.maxAgeMs : Number.POSITIVE_INFINITY },
  });
  const validTime = !Number.isNaN(ctx.now.getTime());
  const dirs = ruleDirs(opts.rules);

  const workers = tuning.workers ?? defaultWorkers();
  const chunkBytes = tuning.chunkBytes ?? 1024 * 1024;
  const parallelBytes = tuning.parallelBytes ?? 192 * 1024 * 1024;
  const force = tuning.forceWorkers === true && workers > 0;
  // The rows' buffers go round the queue, the main thread and the workers: room for as many as are out.
  const buffers = { chunks: new BufferPool(4, 8 << 20), outs: new BufferPool(MAX_QUEUE, MAX_QUEUED_BYTES) };
  let pool: TriagePool | undefined;
  const startPool = () => {
    pool ??= new TriagePool(
      workers,
      { ruleDirs: dirs, format, shown: [...shown], now: ctx.now.getTime(), policy: ctx.policy },
      buffers,
    );
    return pool;
  };

  try {
    // Large files: the workers load their rules while this thread loads its own.
    const eager = validTime && workers > 0 && (force || (await inputBytes(paths)) >= parallelBytes);
    if (eager) startPool();
    const ruleSet = await loadRuleDirs(dirs);
    if (!validTime) {
      stderr.write(`secbot triage: --as-of must be "now" or an ISO time (got "${asOf}")\n`);
      return 2;
    }
    return await triage(paths, {
      judge: new Judge({ ruleSet, ctx, format, shown, outBuffers: buffers.outs }),
      buffers,
      format,
      quiet: opts.quiet === true,
      stdout,
      stderr,
      stdin: io.stdin,
      chunkBytes,
      pool,
      startPool: workers > 0 ? startPool : undefined,
      parallelBytes: force ? 0 : parallelBytes,
      force,
    });
  } finally {
    await (pool as TriagePool | undefined)?.close();
  }
}

interface TriageRun {
  judge: Judge;
  format: Format;
  quiet: boolean;
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
  stdin?: NodeJS.ReadableStream;
  chunkBytes: number;
  buffers: { chunks: BufferPool; outs: BufferPool };
  /** The workers, when already started; `startPool` starts them. */
  pool?: TriagePool;
  startPool?: () => TriagePool;
  parallelBytes: number;
  force: boolean;
}

/** A unit of input being judged, in input order: its result once known. */
interface Pending {
  result?: UnitResult;
  promise?: Promise<UnitResult>;
}

async function triage(paths: string[], run: TriageRun): Promise<number> {
  const { judge, stdout, buffers } = run;
  const summary: TriageSummary = {
    records: 0,
    byAction: { log: 0, notify: 0, alert: 0 },
    byRule: {},
    topPrincipals: [],
    malformed: 0,
    malformedByReason: {},
    malformedExamples: [],
  };
  const principals = new TopCounter();
  const started = Date.now();
  const progress = run.quiet
    ? undefined
    : setInterval(() => {
        const rate = Math.round(summary.records / ((Date.now() - started) / 1000));
        run.stderr.write(
          `triage: ${summary.records.toLocaleString('en')} records (${rate.toLocaleString('en')}/s)\n`,
        );
      }, 5_000);
  progress?.unref();

  const out = bufferedOutput(stdout);
  /** Units judged or being judged, in input order: written and counted from the front. */
  const queue: Pending[] = [];
  /** Bytes of rows judged and waiting in the queue. */
  let queued = 0;
  const enqueue = (result: UnitResult) => {
    queued += result.out.length;
    queue.push({ result });
  };
  const emitFirst = async () => {
    const first = queue.shift() as Pending;
    const r = first.result ?? (await (first.promise as Promise<UnitResult>));
    queued -= r.out.length;
    if (r.out.length > 0) await out.write(r.out);
    buffers.outs.give(r.out);
    mergeUnit(summary, principals, r);
  };

  if (run.format === 'table') await out.write(Buffer.from(TABLE_HEADER));
  let pool = run.pool;
  let read = 0;
  try {
    const units = readCloudTrailUnits(paths, {
      stdin: run.stdin,
      chunkBytes: run.chunkBytes,
      buffers: buffers.chunks,
    });
    for await (const unit of units) {
      if (pool?.failure) throw pool.failure;
      if (unit.kind === 'items') {
        enqueue(judge.items(unit.items));
      } else {
        read += unit.bytes.length;
        if (!pool && run.startPool && read >= run.parallelBytes) pool = run.startPool();
        // A worker if one is free; else this thread judges the chunk itself (forced: waits for one).
        let slot = pool?.pick(PER_WORKER, run.force);
        while (run.force && pool && !slot) {
          await emitFirst();
          slot = pool.pick(PER_WORKER, true);
        }
        if (pool && slot) {
          const pending: Pending = {};
          pending.promise = pool.judge(slot, unit).then((r) => {
            pending.result = r;
            queued += r.out.length;
            return r;
          });
          pending.promise.catch(() => {}); // awaited in turn; a failure must not go unhandled meanwhile
          queue.push(pending);
        } else {
          enqueue(judge.lines(unit));
          buffers.chunks.give(unit.bytes);
        }
      }
      while (
        queue.length > 0 &&
        (queue[0]?.result !== undefined || queue.length > MAX_QUEUE || queued > MAX_QUEUED_BYTES)
      )
        await emitFirst();
    }
    while (queue.length > 0) await emitFirst();
    if (pool?.failure) throw pool.failure;
  } finally {
    if (progress) clearInterval(progress);
  }
  summary.topPrincipals = principals.top(10).map(([principal, calls]) => ({ principal, calls }));

  if (run.format === 'table') await out.write(Buffer.from(renderSummary(summary)));
  else await out.write(Buffer.from(`${JSON.stringify({ summary })}\n`));
  await out.flush();
  return 0;
}

/**
 * Output gathered into writes of 256 KB: the units' rows are copied in (so that their buffers can be
 * reused at once), and the write buffers are reused once written.
 */
function bufferedOutput(stdout: NodeJS.WritableStream) {
  const SIZE = 256 * 1024;
  const free: Buffer[] = [];
  let buf: Buffer = Buffer.allocUnsafeSlow(SIZE);
  let used = 0;
  const flush = async () => {
    if (used === 0) return;
    const full = buf;
    const data = full.subarray(0, used);
    buf = free.pop() ?? Buffer.allocUnsafeSlow(SIZE);
    used = 0;
    const ok = stdout.write(data, () => {
      if (free.length < 4) free.push(full);
    });
    if (!ok) await new Promise((r) => stdout.once('drain', r));
  };
  return {
    write: async (data: Uint8Array) => {
      for (let at = 0; at < data.length; ) {
        const n = Math.min(SIZE - used, data.length - at);
        buf.set(data.subarray(at, at + n), used);
        used += n;
        at += n;
        if (used === SIZE) await flush();
      }
    },
    flush,
  };
}

function renderSummary(s: TriageSummary): string {
  const lines = [
    '',
    `${s.records.toLocaleString('en')} records: ${s.byAction.alert} alert, ${s.byAction.notify} notify, ${s.byAction.log} log; ${s.malformed} malformed`,
  ];
  const rules = Object.entries(s.byRule).sort(
    (a, b) => b[1].alert + b[1].notify + b[1].log - (a[1].alert + a[1].notify + a[1].log),
  );
  if (rules.length > 0) {
    lines.push('', 'by rule (alert / notify / log after policy):');
    for (const [id, c] of rules) lines.push(`  ${pad(id, 48)} ${c.alert} / ${c.notify} / ${c.log}`);
  }
  if (s.topPrincipals.length > 0) {
    lines.push('', 'top principals:');
    for (const p of s.topPrincipals) lines.push(`  ${pad(p.principal, 48)} ${p.calls}`);
  }
  if (s.malformed > 0) {
    lines.push('', 'malformed inputs:');
    for (const [reason, n] of Object.entries(s.malformedByReason)) lines.push(`  ${pad(reason, 48)} ${n}`);
    for (const e of s.malformedExamples) lines.push(`  e.g. ${e}`);
  }
  return `${lines.join('\n')}\n`;
}
