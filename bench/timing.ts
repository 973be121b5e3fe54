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
  /** Total milliseconds per variant, over every round. */
  ms: Record<string, number>;
  /** Records per variant (lines × rounds). */
  records: number;
  sink: number;
}

/**
 * Runs every variant over every chunk of `lines`, chunk by chunk, rotating which variant goes first, for
 * `rounds` rounds after a warm-up (JIT, caches). Each variant's time is the sum of its chunks.
 */
export function interleave(
  lines: readonly string[],
  variants: Record<string, Loop>,
  opts: { chunk?: number; rounds?: number; warmup?: number } = {},
): Interleaved {
  const chunk = opts.chunk ?? 5_000;
  const rounds = opts.rounds ?? 2;
  const names = Object.keys(variants);
  const ms: Record<string, number> = Object.fromEntries(names.map((n) => [n, 0]));
  let sink = 0;
  const warm = Math.min(lines.length, opts.warmup ?? 20_000);
  for (let w = 0; w < 2; w++) for (const n of names) sink += (variants[n] as Loop)(lines, 0, warm);
  let turn = 0;
  for (let round = 0; round < rounds; round++) {
    for (let from = 0; from < lines.length; from += chunk) {
      const to = Math.min(lines.length, from + chunk);
      for (let k = 0; k < names.length; k++) {
        const name = names[(k + turn) % names.length] as string;
        const t0 = performance.now();
        sink += (variants[name] as Loop)(lines, from, to);
        ms[name] = (ms[name] ?? 0) + performance.now() - t0;
      }
      turn++;
    }
  }
  return { ms, records: lines.length * rounds, sink };
}
