/**
 * The work of `secbot triage` on one unit of input — decode, decide, format the rows, count for the
 * summary — the same whether it runs on the main thread or in a worker (cli/triage-worker.ts), so
 * that the output does not depend on where it ran.
 */
import { decisionToEcs } from '../audit/ecs.js';
import { decodeMessage, describeFailure } from '../cloudtrail/decode.js';
import { forEachLine, type InputItem, type LineChunk } from '../cloudtrail/read-files.js';
import type { DecodeResult } from '../cloudtrail/record.js';
import { type DecideContext, type Decision, decide, serviceOf } from '../handlers/decide.js';
import type { Action, RuleSet } from '../rules/types.js';

export type Format = 'table' | 'json' | 'ecs';

/** How many malformed inputs the summary shows as examples. */
export const MALFORMED_EXAMPLES = 10;

/**
 * What one unit contributes: its rows, as UTF-8, and its share of the summary, with every list in the
 * order of first appearance so that merging units in input order gives what one pass would.
 */
export interface UnitResult {
  /** The rows, at the start of an ArrayBuffer nothing else uses (a worker transfers it). */
  out: Uint8Array;
  records: number;
  byAction: Record<Action, number>;
  /** [rule id, log, notify, alert] for every rule that matched. */
  byRule: [string, number, number, number][];
  /** The principals of the records: each distinct name once, with its count. */
  principals: string[];
  principalCounts: number[];
  /** For every record, in order, its principal (an index into `principals`). */
  principalOrder: Uint32Array;
  malformed: number;
  malformedByReason: [string, number][];
  /** The first {@link MALFORMED_EXAMPLES} malformed inputs, "source:line: reason: detail". */
  malformedExamples: string[];
}

/**
 * Buffers kept for reuse: the chunks' and the rows' buffers go round between the reader, the
 * threads and the output instead of being allocated per chunk (dead buffers that survive a young
 * collection would pile up until a full one, a few tens of MB in each thread).
 */
export class BufferPool {
  private readonly free: ArrayBuffer[] = [];
  private bytes = 0;
  /** At most `max` buffers and `maxBytes` bytes are kept. */
  constructor(
    private readonly max = 8,
    private readonly maxBytes = 8 << 20,
  ) {}
  /** A Buffer over the whole of an ArrayBuffer of at least `size` bytes. */
  take(size: number): Buffer {
    for (let i = this.free.length - 1; i >= 0; i--) {
      const b = this.free[i] as ArrayBuffer;
      if (b.byteLength >= size) {
        this.free.splice(i, 1);
        this.bytes -= b.byteLength;
        return Buffer.from(b);
      }
    }
    return Buffer.allocUnsafeSlow(size);
  }
  /** A buffer from `take` (or its ArrayBuffer) that nothing uses any more. */
  give(b: Uint8Array | ArrayBuffer): void {
    const buffer = b instanceof ArrayBuffer ? b : (b.buffer as ArrayBuffer);
    // A detached buffer (transferred to another thread) has no bytes left.
    if (
      this.free.length < this.max &&
      this.bytes + buffer.byteLength <= this.maxBytes &&
      buffer.byteLength > 0 &&
      !this.free.includes(buffer)
    ) {
      this.free.push(buffer);
      this.bytes += buffer.byteLength;
    }
  }
  /** Up to `n` free buffers, to hand to another thread. */
  spare(n: number): ArrayBuffer[] {
    const out = this.free.splice(0, Math.min(n, this.free.length));
    for (const b of out) this.bytes -= b.byteLength;
    return out;
  }
}

export interface JudgeOptions {
  ruleSet: RuleSet;
  ctx: DecideContext;
  format: Format;
  /** The actions whose rows are printed (every record is counted). */
  shown: ReadonlySet<Action>;
  /** Where the rows' buffers come from. */
  outBuffers: BufferPool;
}

export const pad = (s: string, n: number): string => (s.length > n ? `${s.slice(0, n - 1)}…` : s.padEnd(n));

/** Judges units of input; keeps the caches of the table's cells from one unit to the next. */
export class Judge {
  private readonly row: (d: Decision) => string;
  private readonly shown: ReadonlySet<Action>;
  private readonly ruleSet: RuleSet;
  private readonly ctx: DecideContext;
  private readonly outBuffers: BufferPool;
  /** The rows' bytes; a buffer of its own for each unit. */
  private out: Buffer | undefined;
  private used = 0;
  /** Rows not encoded yet. */
  private rows = '';
  /** Roughly the rows' size of the last unit, to size the next unit's buffer. */
  private lastOut = 64 * 1024;
  // The unit being judged.
  private records = 0;
  private byAction: Record<Action, number> = { log: 0, notify: 0, alert: 0 };
  private byRule = new Map<string, [string, number, number, number]>();
  private principalIndex = new Map<string, number>();
  private principals: string[] = [];
  private principalCounts: number[] = [];
  private order = new Uint32Array(1024);
  private malformedCount = 0;
  private malformedByReason = new Map<string, number>();
  private malformedExamples: string[] = [];

  constructor(opts: JudgeOptions) {
    this.ruleSet = opts.ruleSet;
    this.ctx = opts.ctx;
    this.shown = opts.shown;
    this.row = opts.format === 'table' ? tableRows() : opts.format === 'json' ? jsonLine : ecsLine;
    this.outBuffers = opts.outBuffers;
  }

  /** Decode and judge the lines of a chunk. */
  lines(chunk: LineChunk): UnitResult {
    const { source } = chunk;
    const limits = { maxBytes: chunk.maxBytes };
    forEachLine(chunk, (text, line) => this.take(source, line, decodeMessage(text, limits)));
    return this.finish();
  }

  /** Judge items the reader decoded. */
  items(items: InputItem[]): UnitResult {
    for (const item of items) this.take(item.source, item.line, item.result);
    return this.finish();
  }

  private take(source: string, line: number, result: DecodeResult): void {
    if (!result.ok) {
      this.malformed(source, line, describeFailure(result), result.reason);
      return;
    }
    for (const bad of result.invalid) this.malformed(source, line, describeFailure(bad), bad.reason);
    for (const record of result.records) {
      const d = decide(record, this.ruleSet, this.ctx);
      const action = d.action;
      this.byAction[action]++;
      this.principal(d.principal.name, this.records++);
      for (const m of d.matches) {
        let counts = this.byRule.get(m.ruleId);
        if (counts === undefined) {
          counts = [m.ruleId, 0, 0, 0];
          this.byRule.set(m.ruleId, counts);
        }
        counts[action === 'log' ? 1 : action === 'notify' ? 2 : 3]++;
      }
      if (this.shown.has(action)) {
        // Rows are encoded some 16K characters at a time: fewer calls into Buffer.write, and a row
        // with a non-ASCII mark makes only its batch slower to encode.
        this.rows += this.row(d);
        if (this.rows.length > 16_384) this.flushRows();
      }
    }
  }

  /** Count the principal of the `n`th record of the unit. */
  private principal(name: string, n: number): void {
    let i = this.principalIndex.get(name);
    if (i === undefined) {
      i = this.principals.length;
      this.principalIndex.set(name, i);
      this.principals.push(name);
      this.principalCounts.push(1);
    } else {
      (this.principalCounts[i] as number)++;
    }
    if (n === this.order.length) {
      const bigger = new Uint32Array(this.order.length * 2);
      bigger.set(this.order);
      this.order = bigger;
    }
    this.order[n] = i;
  }

  private malformed(source: string, line: number, why: string, reason: string): void {
    this.malformedCount++;
    this.malformedByReason.set(reason, (this.malformedByReason.get(reason) ?? 0) + 1);
    if (this.malformedExamples.length < MALFORMED_EXAMPLES)
      this.malformedExamples.push(`${source}:${line}: ${why}`);
  }

  private flushRows(): void {
    const s = this.rows;
    this.rows = '';
    let out = this.out;
    if (out === undefined || s.length * 3 > out.length - this.used) {
      const bigger = this.outBuffers.take(
        Math.max(out ? out.length * 2 : this.lastOut + (this.lastOut >> 2), this.used + s.length * 3),
      );
      if (out) {
        bigger.set(out.subarray(0, this.used));
        this.outBuffers.give(out);
      }
      out = bigger;
      this.out = out;
    }
    this.used += out.write(s, this.used, 'utf8');
  }

  private finish(): UnitResult {
    if (this.rows.length > 0) this.flushRows();
    const result: UnitResult = {
      out: this.out ? this.out.subarray(0, this.used) : new Uint8Array(0),
      records: this.records,
      byAction: this.byAction,
      byRule: [...this.byRule.values()],
      principals: this.principals,
      principalCounts: this.principalCounts,
      principalOrder: this.order.slice(0, this.records),
      malformed: this.malformedCount,
      malformedByReason: [...this.malformedByReason],
      malformedExamples: this.malformedExamples,
    };
    this.lastOut = Math.max(this.used, 4096);
    this.out = undefined;
    this.used = 0;
    this.records = 0;
    this.byAction = { log: 0, notify: 0, alert: 0 };
    this.byRule = new Map();
    this.principalIndex = new Map();
    this.principals = [];
    this.principalCounts = [];
    this.malformedCount = 0;
    this.malformedByReason = new Map();
    this.malformedExamples = [];
    return result;
  }
}

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

/** The table's header line. */
export const TABLE_HEADER = `${pad('TIME', 20)} ${pad('ACTION', 6)} ${pad('RULE', 34)} ${pad('PRINCIPAL', 32)} ${pad('CALL', 40)} REASON\n`;

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

function ecsLine(d: Decision): string {
  return `${JSON.stringify(decisionToEcs(d))}\n`;
}
