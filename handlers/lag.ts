/**
 * The lag from a call's `eventTime` to secbot's decision, per account: CloudTrail's delivery to
 * EventBridge is best-effort ("typically within minutes"), and this says how late it runs.
 *
 * Each decided call adds one to a histogram bucket of its account's UTC day (DynamoDB ADD, so replicas
 * and runs add up). p50 and p95 are read back by interpolating inside the bucket that holds the quantile:
 * approximations whose accuracy is that of the buckets (e.g. "between 2 and 5 minutes"), the price of
 * figures that can be summed across days and replicas.
 */
import type { Counters } from '../store/types.js';

/** Upper bounds of the lag buckets. A lag below zero (clock skew) counts as zero. */
export const LAG_BUCKETS: readonly { name: string; upToMs: number }[] = [
  { name: 'le_30s', upToMs: 30_000 },
  { name: 'le_1m', upToMs: 60_000 },
  { name: 'le_2m', upToMs: 120_000 },
  { name: 'le_5m', upToMs: 300_000 },
  { name: 'le_10m', upToMs: 600_000 },
  { name: 'le_15m', upToMs: 900_000 },
  { name: 'le_30m', upToMs: 1_800_000 },
  { name: 'le_1h', upToMs: 3_600_000 },
  { name: 'le_6h', upToMs: 21_600_000 },
  { name: 'le_1d', upToMs: 86_400_000 },
  { name: 'gt_1d', upToMs: Number.POSITIVE_INFINITY },
];

/** The bucket a lag of `ms` falls in. */
export function lagBucket(ms: number): string {
  const t = Number.isFinite(ms) ? Math.max(0, ms) : Number.POSITIVE_INFINITY;
  return (LAG_BUCKETS.find((b) => t <= b.upToMs) ?? LAG_BUCKETS[LAG_BUCKETS.length - 1])?.name ?? 'gt_1d';
}

export interface QuantileEstimate {
  /** Estimated quantile in milliseconds (linear within its bucket). */
  ms: number;
  /** It lies in the open-ended last bucket: it is *at least* `ms`. */
  atLeast: boolean;
  samples: number;
}

/**
 * The approximate `q`-quantile (0 < q < 1) of a histogram in `buckets`, or undefined without samples.
 *
 * @example approximateQuantile(LAG_BUCKETS, { le_1m: 1, le_2m: 1 }, 0.5) // { ms: 60000, atLeast: false, samples: 2 }
 */
export function approximateQuantile(
  buckets: readonly { name: string; upToMs: number }[],
  counts: Counters,
  q: number,
  prefix = '',
): QuantileEstimate | undefined {
  const n = buckets.map((b) => Math.max(0, counts[prefix + b.name] ?? 0));
  const samples = n.reduce((a, b) => a + b, 0);
  if (samples === 0) return undefined;
  const target = samples * Math.min(1, Math.max(0, q));
  let below = 0;
  for (let i = 0; i < buckets.length; i++) {
    const c = n[i] ?? 0;
    const bucket = buckets[i];
    if (!bucket || c === 0 || below + c < target) {
      below += c;
      continue;
    }
    const lower = i === 0 ? 0 : (buckets[i - 1]?.upToMs ?? 0);
    if (!Number.isFinite(bucket.upToMs)) return { ms: lower, atLeast: true, samples };
    return {
      ms: Math.round(lower + ((bucket.upToMs - lower) * (target - below)) / c),
      atLeast: false,
      samples,
    };
  }
  return undefined;
}

/** p50 and p95 of one account's lag histogram. */
export function lagQuantiles(counts: Counters): { p50?: QuantileEstimate; p95?: QuantileEstimate } {
  return {
    p50: approximateQuantile(LAG_BUCKETS, counts, 0.5),
    p95: approximateQuantile(LAG_BUCKETS, counts, 0.95),
  };
}
