/** Durations as operators write them: `8s`, `15m`, `2h`, `7d`. */

const UNIT_MS = { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;

/**
 * Parse a duration such as `15m` into milliseconds. Returns undefined for anything else
 * (no unit, zero, negative, fractions, unknown unit).
 *
 * @example parseDuration('2h') // 7_200_000
 */
export function parseDuration(text: string): number | undefined {
  const m = /^\s*([1-9][0-9]{0,8})\s*([smhd])\s*$/.exec(text);
  if (!m) return undefined;
  return Number(m[1]) * UNIT_MS[m[2] as keyof typeof UNIT_MS];
}

/** Format milliseconds in the largest whole unit: 900000 → "15m", 90000 → "90s". */
export function formatDuration(ms: number): string {
  for (const unit of ['d', 'h', 'm'] as const) {
    if (ms >= UNIT_MS[unit] && ms % UNIT_MS[unit] === 0) return `${ms / UNIT_MS[unit]}${unit}`;
  }
  return `${Math.round(ms / 1000)}s`;
}
