/** Timing on a shared, noisy machine: variants measured in interleaved chunks, so drift hits them alike. */
import type { Corpus } from './inputs.js';

export interface BenchContext {
  quick: boolean;
  seed: number;
  corpus: Corpus;
  /** Progress lines (stderr). */
  log: (line: string) => void;
}

/** Processes lines[from..to) and returns something derived from the work (kept, so it cannot be skipped). */
export type Loop = (lines: readonly string[], from: number, to: number) => number;

export interface Interleaved {
  /**
   * Milliseconds per variant for one pass over the lines, noise-filtered: for each chunk, the median
   * of its rounds (a chunk that another process interrupted in one round does not count), summed.
   */
  ms: Record<string, number>;
  /** Total milliseconds per variant over every round, unfiltered (for the record). */
  totalMs: Record<string, number>;
  /** Records per variant for `ms` (one pass over the lines). */
  records: number;
  rounds: number;
  sink: number;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 === 1 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
}

/**
 * Runs every variant over every chunk of `lines`, chunk by chunk, rotating which variant goes first, for
 * `rounds` rounds after a warm-up (JIT, caches). A variant's time is the sum over chunks of the median
 * of that chunk's rounds.
 */
export function interleave(
  lines: readonly string[],
  variants: Record<string, Loop>,
  opts: { chunk?: number; rounds?: number; warmup?: number } = {},
): Interleaved {
  const chunk = opts.chunk ?? 5_000;
  const rounds = opts.rounds ?? 3;
  const names = Object.keys(variants);
  const chunks = Math.ceil(lines.length / chunk);
  const times: Record<string, number[][]> = Object.fromEntries(
    names.map((n) => [n, Array.from({ length: chunks }, () => [] as number[])]),
  );
  const totalMs: Record<string, number> = Object.fromEntries(names.map((n) => [n, 0]));
  let sink = 0;
  const warm = Math.min(lines.length, opts.warmup ?? 20_000);
  for (let w = 0; w < 2; w++) for (const n of names) sink += (variants[n] as Loop)(lines, 0, warm);
  let turn = 0;
  for (let round = 0; round < rounds; round++) {
    for (let c = 0; c < chunks; c++) {
      const from = c * chunk;
      const to = Math.min(lines.length, from + chunk);
      for (let k = 0; k < names.length; k++) {
        const name = names[(k + turn) % names.length] as string;
        const t0 = performance.now();
        sink += (variants[name] as Loop)(lines, from, to);
        const dt = performance.now() - t0;
        (times[name] as number[][])[c]?.push(dt);
        totalMs[name] = (totalMs[name] ?? 0) + dt;
      }
      turn++;
    }
  }
  const ms: Record<string, number> = {};
  for (const n of names) ms[n] = (times[n] as number[][]).reduce((a, ts) => a + median(ts), 0);
  return { ms, totalMs, records: lines.length, rounds, sink };
}
