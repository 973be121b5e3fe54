/**
 * `secbot triage <files…|->`: the decision engine over CloudTrail files, streaming, with a readable
 * table (or JSON / ECS lines) and a summary. A malformed record is counted and reported, never a crash.
 */
import { decisionToEcs } from '../audit/ecs.js';
import { describeFailure } from '../cloudtrail/decode.js';
import { readCloudTrailBatches } from '../cloudtrail/read-files.js';
import { loadConfig } from '../config/index.js';
import { type Decision, decide, defaultDecideContext, serviceOf } from '../handlers/decide.js';
import { ACTIONS, type Action } from '../rules/types.js';
import { loadRulesForCli } from './rules.js';

type Format = 'table' | 'json' | 'ecs';

export interface TriageOptions {
  format?: string;
  rules?: string[];
  actions?: string;
  'as-of'?: string;
  quiet?: boolean;
}

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

const pad = (s: string, n: number) => (s.length > n ? `${s.slice(0, n - 1)}…` : s.padEnd(n));

/**
 * `pad(s, width)`, remembered: table cells repeat (rule ids, principals, calls), so each is padded
 * once. Bounded: forgotten wholesale when full.
 */
function paddedCells(width: number, max = 20_000): (s: string) => string {
  const cells = new Map<string, string>();
  return (s) => {
    let cell = cells.get(s);
    if (cell === undefined) {
      cell = pad(s, width);
      if (cells.size >= max) cells.clear();
      cells.set(s, cell);
    }
    return cell;
  };
}

const ACTION_CELLS: Record<Action, string> = {
  log: pad('LOG', 6),
  notify: pad('NOTIFY', 6),
  alert: pad('ALERT', 6),
};

/** Table rows, with the cells that repeat padded once. */
function tableRows(): (d: Decision) => string {
  const timeCell = paddedCells(20);
  const ruleCell = paddedCells(34);
  const principalCell = paddedCells(32);
  /** The call cell by event source, then name (ok and failed spellings). */
  const calls = new Map<string, Map<string, [string, string]>>();
  const callCell = (source: string, name: string, failed: boolean): string => {
    let byName = calls.get(source);
    if (byName === undefined) {
      if (calls.size >= 2_000) calls.clear();
      byName = new Map();
      calls.set(source, byName);
    }
    let cells = byName.get(name);
    if (cells === undefined) {
      const call = `${serviceOf(source)}:${name}`;
      cells = [pad(call, 40), pad(`${call} ✗`, 40)];
      if (byName.size >= 5_000) byName.clear();
      byName.set(name, cells);
    }
    return failed ? cells[1] : cells[0];
  };
  return (d) => {
    const r = d.record;
    const rule = d.matches[0]?.ruleId ?? '-';
    const reasons = d.reasons;
    const reason = (reasons.length === 1 ? (reasons[0] as string) : reasons.join('; ')) || 'no rule matched';
    const time = r.eventTime.length === 20 ? r.eventTime : timeCell(r.eventTime);
    return `${time} ${ACTION_CELLS[d.action]} ${ruleCell(rule)} ${principalCell(d.principal.name)} ${callCell(r.eventSource, r.eventName, Boolean(r.errorCode))} ${reason.length > 160 ? `${reason.slice(0, 159)}…` : reason}\n`;
  };
}

function jsonLine(d: Decision): string {
  const r = d.record;
  return `${JSON.stringify({
    eventID: r.eventID,
    time: r.eventTime,
    action: d.action,
    rules: d.matches.map((m) => m.ruleId),
    principal: d.principal.name,
    principalType: d.principal.type,
    account: r.recipientAccountId ?? d.principal.accountId,
    call: `${r.eventSource}:${r.eventName}`,
    errorCode: r.errorCode,
    reasons: d.reasons,
    summary: d.summary,
  })}\n`;
}

/**
 * Buffered stdout: rows are encoded into a 256 KB buffer as they come (one row at a time, so a row with
 * a non-ASCII mark does not make a whole chunk slow to encode) and written when it is nearly full.
 */
function bufferedStdout() {
  const SIZE = 256 * 1024;
  let buf = Buffer.allocUnsafe(SIZE);
  let used = 0;
  /** Strings too long for what is left of the buffer, written after it. */
  let overflow: string[] = [];
  const flush = async () => {
    if (used === 0 && overflow.length === 0) return;
    const chunk = buf.subarray(0, used);
    const rest = overflow;
    buf = Buffer.allocUnsafe(SIZE);
    used = 0;
    overflow = [];
    let ok = chunk.length === 0 || process.stdout.write(chunk);
    for (const s of rest) ok = process.stdout.write(s) && ok;
    if (!ok) await new Promise((r) => process.stdout.once('drain', r));
  };
  /** Queue `s`; true when the caller should `await flush()`. */
  const put = (s: string): boolean => {
    if (overflow.length > 0 || s.length * 3 > SIZE - used) {
      overflow.push(s);
      return true;
    }
    used += buf.write(s, used, 'utf8');
    return used > SIZE - 16_384;
  };
  return {
    put,
    write: async (s: string) => {
      if (put(s)) await flush();
    },
    flush,
  };
}

function parseActions(text: string | undefined): Set<Action> {
  if (!text) return new Set(ACTIONS);
  const wanted = text.split(',').map((s) => s.trim());
  const bad = wanted.filter((w) => !(ACTIONS as readonly string[]).includes(w));
  if (bad.length > 0) throw new Error(`--actions: unknown action ${bad.join(', ')} (use log, notify, alert)`);
  return new Set(wanted as Action[]);
}

export async function runTriage(paths: string[], opts: TriageOptions): Promise<number> {
  const format = (opts.format ?? 'table') as Format;
  if (!['table', 'json', 'ecs'].includes(format)) {
    process.stderr.write(`secbot triage: --format must be table, json or ecs (got "${format}")\n`);
    return 2;
  }
  if (paths.length === 0) {
    process.stderr.write('secbot triage: name at least one file, or - for standard input\n');
    return 2;
  }
  const shown = parseActions(opts.actions);
  const config = loadConfig();
  const ruleSet = await loadRulesForCli(opts.rules);
  // Offline, a record is judged as if decided when it happened, unless --as-of says otherwise.
  const asOf = opts['as-of'];
  const ctx = defaultDecideContext({
    now: asOf && asOf !== 'now' ? new Date(asOf) : new Date(),
    policy: { ...config.policy, maxAgeMs: asOf ? config.policy.maxAgeMs : Number.POSITIVE_INFINITY },
  });
  if (Number.isNaN(ctx.now.getTime())) {
    process.stderr.write(`secbot triage: --as-of must be "now" or an ISO time (got "${asOf}")\n`);
    return 2;
  }

  const out = bufferedStdout();
  const tableRow = tableRows();
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
  const progress = opts.quiet
    ? undefined
    : setInterval(() => {
        const rate = Math.round(summary.records / ((Date.now() - started) / 1000));
        process.stderr.write(
          `triage: ${summary.records.toLocaleString('en')} records (${rate.toLocaleString('en')}/s)\n`,
        );
      }, 5_000);
  progress?.unref();

  const malformed = (where: string, why: string, reason: string) => {
    summary.malformed++;
    summary.malformedByReason[reason] = (summary.malformedByReason[reason] ?? 0) + 1;
    if (summary.malformedExamples.length < 10) summary.malformedExamples.push(`${where}: ${why}`);
  };

  if (format === 'table') {
    await out.write(
      `${pad('TIME', 20)} ${pad('ACTION', 6)} ${pad('RULE', 34)} ${pad('PRINCIPAL', 32)} ${pad('CALL', 40)} REASON\n`,
    );
  }
  try {
    // A chunk of input at a time; the loop over its records runs without waiting, except to flush.
    for await (const batch of readCloudTrailBatches(paths)) {
      for (const item of batch) {
        const { result } = item;
        if (!result.ok) {
          malformed(`${item.source}:${item.line}`, describeFailure(result), result.reason);
          continue;
        }
        for (const bad of result.invalid)
          malformed(`${item.source}:${item.line}`, describeFailure(bad), bad.reason);
        for (const record of result.records) {
          const d = decide(record, ruleSet, ctx);
          summary.records++;
          summary.byAction[d.action]++;
          principals.add(d.principal.name);
          for (const m of d.matches) {
            const counts = summary.byRule[m.ruleId] ?? { log: 0, notify: 0, alert: 0 };
            counts[d.action]++;
            summary.byRule[m.ruleId] = counts;
          }
          if (!shown.has(d.action)) continue;
          const line =
            format === 'table'
              ? tableRow(d)
              : format === 'json'
                ? jsonLine(d)
                : `${JSON.stringify(decisionToEcs(d))}\n`;
          if (out.put(line)) await out.flush();
        }
      }
    }
  } finally {
    if (progress) clearInterval(progress);
  }
  summary.topPrincipals = principals.top(10).map(([principal, calls]) => ({ principal, calls }));

  if (format === 'table') await out.write(renderSummary(summary));
  else await out.write(`${JSON.stringify({ summary })}\n`);
  await out.flush();
  return 0;
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
