import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { InputFileError, type InputItem, readCloudTrailInputs } from '../../cloudtrail/read-files.js';

const fixtures = fileURLToPath(new URL('../fixtures/cloudtrail/', import.meta.url));
const fx = (name: string): string => join(fixtures, name);

let dir = '';
const tmp = (name: string): string => join(dir, name);

async function collect(
  paths: string[],
  opts?: Parameters<typeof readCloudTrailInputs>[1],
): Promise<InputItem[]> {
  const out: InputItem[] = [];
  for await (const item of readCloudTrailInputs(paths, opts)) out.push(item);
  return out;
}

/** A compact view: line, ok/reason, envelope, number of records. */
function summary(items: InputItem[]): string[] {
  return items.map((i) =>
    i.result.ok
      ? `${i.line} ok ${i.result.envelope} ${i.result.records.length}${i.result.invalid.length ? `/${i.result.invalid.length} invalid` : ''}`
      : `${i.line} ${i.result.reason}`,
  );
}

function record(n: number): Record<string, unknown> {
  return {
    eventVersion: '1.08',
    userIdentity: { type: 'IAMUser', arn: `arn:aws:iam::123456789012:user/u${n}`, userName: `u${n}` },
    eventTime: '2024-05-01T12:00:00Z',
    eventSource: 'iam.amazonaws.com',
    eventName: 'GetUser',
    eventID: `e0000000-0000-4000-8000-${String(n).padStart(12, '0')}`,
  };
}

const MIXED_EXPECTED = [
  '1 ok record 1',
  '3 ok eventbridge 1',
  '4 ok sns 1',
  '6 not_json',
  '7 not_cloudtrail',
  '8 ok log_file 2',
  '9 ok record 1',
];

before(() => {
  dir = mkdtempSync(join(tmpdir(), 'secbot-read-files-'));
});
after(() => {
  rmSync(dir, { recursive: true, force: true });
});

describe('readCloudTrailInputs', () => {
  it('reads JSON Lines: blank lines skipped, CRLF handled, each bad line its own item', async () => {
    const items = await collect([fx('mixed.jsonl')]);
    assert.deepEqual(summary(items), MIXED_EXPECTED);
    assert.ok(items.every((i) => i.source === fx('mixed.jsonl')));
    const bad = items[3]?.result;
    assert.ok(bad && !bad.ok);
    assert.match(items[4]?.result.ok === false ? items[4].result.detail : '', /EC2 Instance State-change/);
  });

  it('reads a pretty-printed single document (bare record, EventBridge, SNS, log file)', async () => {
    const items = await collect([
      fx('record-iam-user.json'),
      fx('eventbridge-api-call.json'),
      fx('sns-eventbridge.json'),
      fx('log-file-pretty.json'),
    ]);
    assert.deepEqual(summary(items), [
      '1 ok record 1',
      '1 ok eventbridge 1',
      '1 ok sns 1',
      '1 ok log_file 2/1 invalid',
    ]);
  });

  it('reads a single-line {"Records":[...]} log file, larger than an SQS message', async () => {
    const records = Array.from({ length: 3000 }, (_, i) => record(i));
    const text = JSON.stringify({ Records: records });
    assert.ok(text.length > 256 * 1024);
    writeFileSync(tmp('oneline.json'), text);
    const items = await collect([tmp('oneline.json')]);
    assert.deepEqual(summary(items), ['1 ok log_file 3000']);
  });

  it('gunzips by magic bytes, whatever the name', async () => {
    const mixed = readFileSync(fx('mixed.jsonl'));
    writeFileSync(tmp('mixed.jsonl.gz'), gzipSync(mixed));
    writeFileSync(tmp('mixed-no-suffix.json'), gzipSync(mixed));
    writeFileSync(tmp('log.json.gz'), gzipSync(readFileSync(fx('log-file-pretty.json'))));
    writeFileSync(tmp('plain-named.gz'), mixed);
    assert.deepEqual(summary(await collect([tmp('mixed.jsonl.gz')])), MIXED_EXPECTED);
    assert.deepEqual(summary(await collect([tmp('mixed-no-suffix.json')])), MIXED_EXPECTED);
    assert.deepEqual(summary(await collect([tmp('log.json.gz')])), ['1 ok log_file 2/1 invalid']);
    assert.deepEqual(summary(await collect([tmp('plain-named.gz')])), MIXED_EXPECTED);
  });

  it('concatenated gzip members are read in full', async () => {
    const a = gzipSync(`${JSON.stringify(record(1))}\n`);
    const b = gzipSync(`${JSON.stringify(record(2))}\n`);
    writeFileSync(tmp('multi.gz'), Buffer.concat([a, b]));
    assert.deepEqual(summary(await collect([tmp('multi.gz')])), ['1 ok record 1', '2 ok record 1']);
  });

  it("reads stdin for '-', plain or gzipped, between files", async () => {
    const text = readFileSync(fx('mixed.jsonl'));
    const plain = await collect(['-'], {
      stdin: Readable.from([text.subarray(0, 1), text.subarray(1, 500), text.subarray(500)]),
    });
    assert.deepEqual(summary(plain), MIXED_EXPECTED);
    assert.ok(plain.every((i) => i.source === '<stdin>'));
    const gz = gzipSync(text);
    const zipped = await collect([fx('record-iam-user.json'), '-'], {
      stdin: Readable.from([gz.subarray(0, 1), gz.subarray(1)]),
    });
    assert.deepEqual(summary(zipped), ['1 ok record 1', ...MIXED_EXPECTED]);
    assert.equal(zipped[0]?.source, fx('record-iam-user.json'));
    const strings = await collect(['-'], { stdin: Readable.from([JSON.stringify(record(1)), '\n']) });
    assert.deepEqual(summary(strings), ['1 ok record 1']);
    assert.deepEqual(await collect(['-'], { stdin: Readable.from([]) }), []);
  });

  it('empty and blank files give no items; a final line without a newline is read', async () => {
    writeFileSync(tmp('empty.json'), '');
    writeFileSync(tmp('blank.json'), '\n   \n\r\n');
    writeFileSync(tmp('no-newline.jsonl'), `\n\n${JSON.stringify(record(1))}\n${JSON.stringify(record(2))}`);
    assert.deepEqual(await collect([tmp('empty.json'), tmp('blank.json')]), []);
    assert.deepEqual(summary(await collect([tmp('no-newline.jsonl')])), ['3 ok record 1', '4 ok record 1']);
  });

  it('a byte-order mark at the start is ignored', async () => {
    writeFileSync(tmp('bom.jsonl'), `\uFEFF${JSON.stringify(record(1))}\n`);
    writeFileSync(tmp('bom-pretty.json'), `\uFEFF${JSON.stringify(record(1), null, 2)}\n`);
    assert.deepEqual(summary(await collect([tmp('bom.jsonl'), tmp('bom-pretty.json')])), [
      '1 ok record 1',
      '1 ok record 1',
    ]);
  });

  it('a broken pretty-printed document is one failure, not one per line', async () => {
    const text = JSON.stringify({ Records: [record(1), record(2)] }, null, 2);
    writeFileSync(tmp('broken.json'), text.slice(0, -10));
    assert.deepEqual(summary(await collect([tmp('broken.json')])), ['1 not_json']);
  });

  it('JSON Lines whose first line is damaged still yield their good lines', async () => {
    writeFileSync(
      tmp('bad-first.jsonl'),
      `{"eventID": \n${JSON.stringify(record(1))}\n\n${JSON.stringify(record(2))}\n`,
    );
    assert.deepEqual(summary(await collect([tmp('bad-first.jsonl')])), [
      '1 not_json',
      '2 ok record 1',
      '4 ok record 1',
    ]);
  });

  it('a document over the cap is one too_large item', async () => {
    const records = Array.from({ length: 20 }, (_, i) => record(i));
    writeFileSync(tmp('big.json'), JSON.stringify({ Records: records }, null, 2));
    const items = await collect([tmp('big.json'), fx('record-iam-user.json')], { maxDocumentBytes: 1500 });
    assert.deepEqual(summary(items), ['1 too_large', '1 ok record 1']);
  });

  it('a JSON Lines line over the cap is reported and skipped; the following lines are read', async () => {
    const long = JSON.stringify({ ...record(2), padding: 'x'.repeat(5000) });
    writeFileSync(
      tmp('long-line.jsonl'),
      [JSON.stringify(record(1)), long, JSON.stringify(record(3)), ''].join('\n'),
    );
    const big = Buffer.from(readFileSync(tmp('long-line.jsonl')));
    // Chunked delivery so that the long line arrives in several pieces.
    const chunks: Buffer[] = [];
    for (let i = 0; i < big.length; i += 700) chunks.push(big.subarray(i, i + 700));
    const items = await collect(['-'], { stdin: Readable.from(chunks), maxDocumentBytes: 3000 });
    assert.deepEqual(summary(items), ['1 ok record 1', '2 too_large', '3 ok record 1']);
  });

  it('corrupt or truncated gzip becomes a failure item after whatever could be read', async () => {
    const lines = Array.from({ length: 2000 }, (_, i) => JSON.stringify(record(i))).join('\n');
    const gz = gzipSync(lines);
    writeFileSync(tmp('truncated.gz'), gz.subarray(0, Math.floor(gz.length * 0.8)));
    const items = await collect([tmp('truncated.gz')]);
    const last = items.at(-1);
    assert.ok(last && !last.result.ok, 'last item is a failure');
    assert.match(last.result.ok ? '' : last.result.detail, /cannot read input/);
    assert.ok(items.length > 100, `read ${items.length - 1} good lines first`);
    assert.ok(items.slice(0, -1).every((i) => i.result.ok));
    writeFileSync(tmp('corrupt.gz'), Buffer.from([0x1f, 0x8b, 0x08, 0x00, 1, 2, 3, 4, 5, 6, 7, 8, 9]));
    const corrupt = await collect([tmp('corrupt.gz')]);
    assert.equal(corrupt.length, 1);
    assert.equal(corrupt[0]?.result.ok, false);
  });

  it('a missing file throws a clear error naming the path, before anything is read', async () => {
    const missing = tmp('does-not-exist.json');
    const seen: InputItem[] = [];
    await assert.rejects(
      async () => {
        for await (const item of readCloudTrailInputs([fx('record-iam-user.json'), missing])) seen.push(item);
      },
      (e: unknown) => {
        assert.ok(e instanceof InputFileError);
        assert.equal(e.path, missing);
        assert.match(e.message, /does-not-exist\.json/);
        assert.match(e.message, /no such file/);
        return true;
      },
    );
    assert.equal(seen.length, 0);
    mkdirSync(tmp('a-directory'), { recursive: true });
    await assert.rejects(collect([tmp('a-directory')]), /a-directory.*directory/);
  });

  it('stops cleanly when the consumer stops early', async () => {
    const lines = Array.from({ length: 5000 }, (_, i) => JSON.stringify(record(i))).join('\n');
    writeFileSync(tmp('many.jsonl.gz'), gzipSync(lines));
    let n = 0;
    for await (const _ of readCloudTrailInputs([tmp('many.jsonl.gz')])) if (++n === 10) break;
    assert.equal(n, 10);
  });

  it('streams JSON Lines without holding them: 60k lines, items arrive in order', async () => {
    const count = 60_000;
    const body = Array.from({ length: count }, (_, i) => JSON.stringify(record(i))).join('\n');
    writeFileSync(tmp('sixty-k.jsonl.gz'), gzipSync(body));
    let n = 0;
    let lastLine = 0;
    for await (const item of readCloudTrailInputs([tmp('sixty-k.jsonl.gz')])) {
      assert.ok(item.result.ok);
      assert.equal(item.line, lastLine + 1);
      lastLine = item.line;
      n++;
    }
    assert.equal(n, count);
  });
});
