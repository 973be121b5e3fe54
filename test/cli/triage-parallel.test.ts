/**
 * `secbot triage` judged by worker threads gives the same bytes as on one thread: the rows (table,
 * JSON, ECS, filtered by action) and the summary, over many chunks, malformed lines among them, with
 * the line numbers of the malformed examples right; and the reader's chunks of whole lines decode to
 * the items a plain line-by-line reading gives.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable, Writable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { gzipSync } from 'node:zlib';
import fc from 'fast-check';
import { generateRecords, loadCorpus } from '../../bench/inputs.js';
import { runTriage, TopCounter, type TriageOptions, type TriageTuning } from '../../cli/triage.js';
import { BufferPool } from '../../cli/triage-judge.js';
import { TriagePool, TriageWorkerError } from '../../cli/triage-pool.js';
import { decodeMessage } from '../../cloudtrail/decode.js';
import {
  decodeLineChunk,
  type InputItem,
  readCloudTrailInputs,
  readCloudTrailUnits,
} from '../../cloudtrail/read-files.js';
import { runNode } from '../helpers/cli.js';
import { makeRecord } from '../helpers/events.js';

let dir = '';
const ANCHOR = Date.parse('2025-06-02T12:00:00Z');

/** Output of one in-process run. */
async function triage(
  paths: string[],
  opts: TriageOptions,
  tuning: TriageTuning,
  stdin?: Buffer,
): Promise<{ code: number; out: string }> {
  const chunks: Buffer[] = [];
  const stdout = new Writable({
    write(chunk: Buffer, _enc, done) {
      chunks.push(Buffer.from(chunk));
      done();
    },
  });
  const code = await runTriage(
    paths,
    { quiet: true, ...opts },
    { stdout, tuning, stdin: stdin ? Readable.from([stdin]) : undefined },
  );
  return { code, out: Buffer.concat(chunks).toString('utf8') };
}

const ONE_THREAD: TriageTuning = { workers: 0 };
/** Every chunk to one of two workers, chunks of about 3 KB (two or three records). */
const WORKERS: TriageTuning = { workers: 2, forceWorkers: true, chunkBytes: 3000 };
/** Every chunk to one worker (a worker takes about a second of CPU to start: tests start few). */
const WORKER: TriageTuning = { workers: 1, forceWorkers: true, chunkBytes: 3000 };
/** One worker and the main thread sharing the chunks, however the timing falls. */
const SHARED: TriageTuning = { workers: 1, parallelBytes: 0, chunkBytes: 5000 };
/** Chunks of 256 KB, each decoded a piece of text at a time. */
const LARGE_CHUNKS: TriageTuning = { workers: 1, forceWorkers: true, chunkBytes: 256 * 1024 };

/** ECS rows carry the time they were written; everything else must match. */
const withoutTimestamps = (s: string) => s.replace(/"@timestamp":"[^"]*"/g, '"@timestamp":"-"');

/**
 * JSON Lines of generated records with, every so often, something else: malformed lines, blank and
 * CRLF lines, a log file object on one line, an EventBridge envelope, a record with non-ASCII text, a
 * long line.
 */
function mixedLines(n: number, seed: number): { lines: string[]; malformed: number } {
  const corpus = loadCorpus();
  const records = generateRecords(corpus, n, { seed, anchorMs: ANCHOR, spreadMs: 86_400_000 });
  const lines: string[] = [];
  let malformed = 0;
  records.forEach((r, i) => {
    const line = JSON.stringify(r);
    switch (i % 37) {
      case 3:
        lines.push('not json at all');
        malformed++;
        break;
      case 7:
        lines.push('{"eventName":"CreateUser"}');
        malformed++;
        break;
      case 11:
        lines.push('', '   ');
        break;
      case 13:
        lines.push(`${line}\r`);
        return;
      case 17:
        lines.push(JSON.stringify({ Records: [r, { nope: 1 }, r] }));
        malformed++;
        return;
      case 19:
        lines.push(
          JSON.stringify({ 'detail-type': 'AWS API Call via CloudTrail', source: 'aws.iam', detail: r }),
        );
        return;
      case 23:
        lines.push(JSON.stringify({ ...r, userAgent: 'résumé ✗ 世界', padding: 'x'.repeat(12_000) }));
        return;
      case 29:
        lines.push(`{"eventID": "${r.eventID}", "truncated`);
        malformed++;
        break;
    }
    lines.push(line);
  });
  return { lines, malformed };
}

before(() => {
  dir = mkdtempSync(join(tmpdir(), 'secbot-triage-parallel-'));
});
after(() => {
  rmSync(dir, { recursive: true, force: true });
});

describe('secbot triage on worker threads', () => {
  it('gives the same table and summary as one thread, over many chunks with malformed lines', async () => {
    const { lines, malformed } = mixedLines(1000, 11);
    const file = join(dir, 'mixed.jsonl.gz');
    writeFileSync(file, gzipSync(`${lines.join('\n')}\n`));
    const one = await triage([file], {}, ONE_THREAD);
    assert.equal(one.code, 0);
    const summary = one.out.slice(one.out.lastIndexOf('\n\n', one.out.indexOf('by rule')));
    assert.match(one.out, new RegExp(`; ${malformed} malformed\\n`));
    assert.match(summary, /top principals:/);
    // The first malformed line is line 4 (i = 3); the examples name their lines.
    assert.match(one.out, new RegExp(`e\\.g\\. ${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:4: not_json`));
    for (const tuning of [WORKERS, SHARED, LARGE_CHUNKS]) {
      const many = await triage([file], {}, tuning);
      assert.equal(many.code, 0);
      assert.equal(many.out, one.out, `tuning ${JSON.stringify(tuning)}`);
    }
  });

  it('gives the same JSON and ECS lines, filtered by action, and reads stdin and log files too', async () => {
    const { lines } = mixedLines(600, 12);
    const jsonl = join(dir, 'mixed.jsonl');
    writeFileSync(jsonl, `\uFEFF${lines.join('\r\n')}`); // a BOM, CRLF, no final newline
    const pretty = join(dir, 'trail.json');
    const trail = generateRecords(loadCorpus(), 40, { seed: 13, anchorMs: ANCHOR });
    writeFileSync(pretty, JSON.stringify({ Records: [...trail, { nope: 1 }] }, null, 2));
    const stdin = gzipSync(`${lines.slice(0, 300).join('\n')}\n`);
    const paths = [jsonl, pretty, '-', jsonl];
    for (const opts of [
      { format: 'json' },
      { format: 'ecs' },
      { format: 'json', actions: 'alert,notify' },
      { format: 'table', actions: 'alert', 'as-of': '2025-06-02T12:00:00Z' },
    ] as TriageOptions[]) {
      const one = await triage(paths, opts, ONE_THREAD, stdin);
      assert.equal(one.code, 0);
      assert.ok(one.out.length > 1000);
      const many = await triage(paths, opts, WORKER, stdin);
      assert.equal(many.code, 0);
      assert.equal(withoutTimestamps(many.out), withoutTimestamps(one.out), JSON.stringify(opts));
    }
  });

  it('a worker that fails is a clear error, not a hang', async () => {
    const pool = new TriagePool(
      1,
      {
        ruleDirs: [join(dir, 'no-such-rules')],
        format: 'table',
        shown: ['log', 'notify', 'alert'],
        now: Date.now(),
        policy: { automation: [], maxAgeMs: 3_600_000, failedCalls: 'log' },
      },
      { chunks: new BufferPool(), outs: new BufferPool() },
    );
    try {
      const slot = pool.pick(2, true);
      assert.ok(slot);
      const bytes = Buffer.from(`${JSON.stringify(makeRecord())}\n`);
      const chunk = { kind: 'lines', source: 'x', firstLine: 1, bytes, maxBytes: 1e6 } as const;
      await assert.rejects(pool.judge(slot, chunk), (e: unknown) => {
        assert.ok(e instanceof TriageWorkerError);
        assert.match(e.message, /a triage worker failed: cannot load the rules/);
        return true;
      });
      assert.ok(pool.failure);
    } finally {
      await pool.close();
    }
  });

  it('workers load the TypeScript under tsx however secbot was started', async () => {
    const file = join(dir, 'small.jsonl');
    const { lines } = mixedLines(200, 14);
    writeFileSync(file, `${lines.join('\n')}\n`);
    const expected = await triage([file], {}, ONE_THREAD);
    const script = (boot: string) =>
      `${boot}
      const { runTriage } = await import('./cli/triage.ts');
      process.exitCode = await runTriage([${JSON.stringify(file)}], { quiet: true }, { tuning: ${JSON.stringify(WORKER)} });`;
    // As bin/secbot.js starts (tsx registered by its API), and as `npx tsx` / `node --import tsx` do.
    const runs = [
      ['--input-type=module', '-e', script("const { register } = await import('tsx/esm/api'); register();")],
      ['--import', 'tsx', '--input-type=module', '-e', script('')],
    ];
    for (const args of runs) {
      const r = await runNode(args);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout, expected.out);
    }
  });
});

describe('TopCounter.addAll', () => {
  it('counts as adding the keys one by one, evictions included', () => {
    fc.assert(
      fc.property(
        fc.array(fc.array(fc.integer({ min: 0, max: 12 }), { maxLength: 30 }), { maxLength: 8 }),
        fc.integer({ min: 1, max: 10 }),
        (units, capacity) => {
          const one = new TopCounter(capacity);
          const all = new TopCounter(capacity);
          for (const unit of units) {
            const keys: string[] = [];
            const counts: number[] = [];
            const order: number[] = [];
            for (const k of unit) {
              const key = `p${k}`;
              one.add(key);
              let i = keys.indexOf(key);
              if (i === -1) {
                i = keys.push(key) - 1;
                counts.push(0);
              }
              counts[i] = (counts[i] as number) + 1;
              order.push(i);
            }
            all.addAll(keys, counts, order);
          }
          assert.deepEqual(all.top(100), one.top(100));
        },
      ),
    );
  });
});

describe('readCloudTrailUnits', () => {
  /** What reading line by line gives: every non-blank line decoded, with its number. */
  function expected(text: string, source: string): InputItem[] {
    const lines = text.split('\n');
    if (lines.at(-1) === '') lines.pop();
    const items: InputItem[] = [];
    lines.forEach((raw, i) => {
      let line = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
      if (i === 0 && line.startsWith('\uFEFF')) line = line.slice(1);
      if (line === '' || (/^[ \t\r\v\f\uFEFF]/.test(line) && line.trim() === '')) return;
      items.push({ source, line: i + 1, result: decodeMessage(line, { maxBytes: 500 * 1024 * 1024 }) });
    });
    return items;
  }

  it('chunks decode to the items of a line-by-line reading, wherever reads and chunks split the input', async () => {
    const line = fc.oneof(
      fc.constant(JSON.stringify(makeRecord({ eventName: 'CreateUser' }))),
      fc.constant(JSON.stringify(makeRecord({ eventName: 'StopLogging', userAgent: 'zoë ✗' }))),
      fc.constant('{"eventName":"CreateUser"}'),
      fc.constant('not json'),
      fc.constantFrom('', ' ', '\r', '\t '),
      fc.string({ maxLength: 20 }).filter((s) => !s.includes('\n')),
    );
    await fc.assert(
      fc.asyncProperty(
        fc.array(line, { minLength: 1, maxLength: 25 }),
        fc.boolean(),
        fc.array(fc.integer({ min: 1, max: 400 }), { minLength: 1, maxLength: 10 }),
        fc.integer({ min: 0, max: 2000 }),
        async (lines, finalNewline, cuts, chunkBytes) => {
          // The first line must be JSON for the input to be read as JSON Lines.
          const text = `${JSON.stringify(makeRecord())}\n${lines.join('\n')}${finalNewline ? '\n' : ''}`;
          const bytes = Buffer.from(text);
          const pieces: Buffer[] = [];
          for (let at = 0, i = 0; at < bytes.length; i++) {
            const n = cuts[i % cuts.length] as number;
            pieces.push(bytes.subarray(at, at + n));
            at += n;
          }
          const got: InputItem[] = [];
          const buffers = new Set<ArrayBufferLike>();
          for await (const unit of readCloudTrailUnits(['-'], { stdin: Readable.from(pieces), chunkBytes })) {
            if (unit.kind === 'items') got.push(...unit.items);
            else {
              // At the start of an ArrayBuffer of its own, so that it can be transferred.
              assert.equal(unit.bytes.byteOffset, 0);
              assert.ok(!buffers.has(unit.bytes.buffer));
              buffers.add(unit.bytes.buffer);
              got.push(...decodeLineChunk(unit));
            }
          }
          assert.deepEqual(got, expected(text, '<stdin>'));
          const plain: InputItem[] = [];
          for await (const item of readCloudTrailInputs(['-'], { stdin: Readable.from(pieces) }))
            plain.push(item);
          assert.deepEqual(plain, got);
        },
      ),
      { numRuns: 200 },
    );
  });
});
