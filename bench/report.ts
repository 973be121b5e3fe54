/** What each benchmark reports: figures (ratios, counts) with their bars, and the absolute numbers beside them. */
import { cpus, freemem, totalmem } from 'node:os';

export interface Bar {
  op: '>=' | '<=' | '<' | '==';
  value: number;
}

export interface Figure {
  /** What is compared, e.g. "decide+parse / parse". */
  name: string;
  value: number;
  /** How to read `value`: a ratio, MB, a count… */
  unit: string;
  bar?: Bar;
  ok?: boolean;
  /** The absolute figures behind it, in words ("parse 310k rec/s; decide+parse 250k rec/s"). */
  detail: string;
}

export interface BenchResult {
  bench: string;
  title: string;
  figures: Figure[];
  /** Absolute numbers (rates, durations, counts), for the JSON. */
  absolute: Record<string, number | string>;
  notes: string[];
}

export function figure(name: string, value: number, unit: string, detail: string, bar?: Bar): Figure {
  const f: Figure = { name, value, unit, detail };
  if (bar) {
    f.bar = bar;
    const v = bar.value;
    f.ok =
      bar.op === '>=' ? value >= v : bar.op === '<=' ? value <= v : bar.op === '<' ? value < v : value === v;
  }
  return f;
}

export const perSecond = (n: number, ms: number) => (ms > 0 ? (n * 1000) / ms : 0);

/** 123456 → "123k", 1234567 → "1.23M". */
export function rate(n: number): string {
  if (n >= 1e6) return `${(n / 1e6).toFixed(2)}M`;
  if (n >= 1e4) return `${Math.round(n / 1e3)}k`;
  if (n >= 1e3) return `${(n / 1e3).toFixed(1)}k`;
  return n.toFixed(n >= 100 ? 0 : 1);
}

export const median = (xs: readonly number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
};

export function percentile(xs: readonly number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  if (s.length === 0) return Number.NaN;
  const idx = Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1));
  return s[idx] as number;
}

export interface Machine {
  cpu: string;
  cores: number;
  memory: string;
  node: string;
  platform: string;
}

export function machine(): Machine {
  const c = cpus();
  return {
    cpu: c[0]?.model.trim() ?? 'unknown',
    cores: c.length,
    memory: `${(totalmem() / 2 ** 30).toFixed(1)} GiB (${(freemem() / 2 ** 30).toFixed(1)} GiB free at start)`,
    node: process.version,
    platform: `${process.platform} ${process.arch}`,
  };
}

const fmtValue = (f: Figure) =>
  f.unit === 'ratio' ? f.value.toFixed(3) : Number.isInteger(f.value) ? String(f.value) : f.value.toFixed(3);

/** The results as a plain-text table (the same figures the JSON holds). */
export function renderTable(results: readonly BenchResult[]): string {
  const rows: string[][] = [['bench', 'figure', 'value', 'bar', 'ok', 'absolute']];
  for (const r of results) {
    for (const f of r.figures) {
      rows.push([
        r.bench,
        f.name,
        `${fmtValue(f)}${f.unit === 'ratio' ? '' : ` ${f.unit}`}`,
        f.bar ? `${f.bar.op} ${f.bar.value}` : '-',
        f.ok === undefined ? '' : f.ok ? 'ok' : 'MISSED',
        f.detail,
      ]);
    }
  }
  const widths = rows[0]?.map((_, i) => Math.max(...rows.map((row) => (row[i] ?? '').length))) ?? [];
  const line = (row: string[]) =>
    row
      .map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i] ?? 0)))
      .join('  ')
      .trimEnd();
  const out = [
    line(rows[0] as string[]),
    widths.map((w, i) => (i === widths.length - 1 ? '-'.repeat(8) : '-'.repeat(w))).join('  '),
  ];
  for (const row of rows.slice(1)) out.push(line(row));
  return `${out.join('\n')}\n`;
}
