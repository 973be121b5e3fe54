/**
 * Every record of the shared third-party corpus must decode, and give a sensible principal.
 * The corpus lives outside the repository (../shared); without it these tests skip.
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { decodeMessage, decodeValue, describeFailure } from '../../cloudtrail/decode.js';
import { principalOf } from '../../cloudtrail/principal.js';

const corpusDir = new URL('../../../shared/corpus/', import.meta.url);
const present = existsSync(fileURLToPath(corpusDir));

interface CorpusLine {
  source: string;
  label: { partial?: boolean; rule?: string; expected?: boolean } | null;
  event: Record<string, unknown>;
}

function load(name: string): CorpusLine[] {
  return readFileSync(new URL(name, corpusDir), 'utf8')
    .split('\n')
    .filter((l) => l.trim().length > 0)
    .map((l) => JSON.parse(l) as CorpusLine);
}

for (const file of ['public.jsonl', 'background.jsonl']) {
  describe(`corpus ${file}`, () => {
    it('every record decodes (partial rows and rows without eventID are rejected as missing_field)', (t) => {
      if (!present) {
        t.skip(`../shared not present: ${fileURLToPath(corpusDir)}`);
        return;
      }
      const lines = load(file);
      const counts = { total: lines.length, decoded: 0, partialRejected: 0, noEventIdRejected: 0 };
      const failures: string[] = [];
      for (const [i, line] of lines.entries()) {
        const r = decodeValue(line.event);
        const where = `${file}:${i + 1} ${line.source}`;
        if (line.label?.partial) {
          if (r.ok || r.reason !== 'missing_field')
            failures.push(`${where}: partial row not rejected as missing_field`);
          else counts.partialRejected++;
          continue;
        }
        if (!Object.hasOwn(line.event, 'eventID')) {
          // Some panther test logs omit eventID; secbot needs it (dedupe, PagerDuty details), so they are
          // rejected, by name, rather than given an invented one.
          if (r.ok || r.reason !== 'missing_field' || r.detail !== 'missing eventID') {
            failures.push(
              `${where}: expected "missing eventID", got ${r.ok ? 'success' : describeFailure(r)}`,
            );
          } else counts.noEventIdRejected++;
          continue;
        }
        if (!r.ok) {
          failures.push(`${where}: ${describeFailure(r)}`);
          continue;
        }
        assert.equal(r.envelope, 'record');
        assert.equal(r.records[0], line.event);
        counts.decoded++;
        // The same record as text, and wrapped in EventBridge, decodes the same way.
        const text = JSON.stringify(line.event);
        assert.equal(decodeMessage(text).ok, true, where);
        const eb = { 'detail-type': 'AWS API Call via CloudTrail', source: 'aws.x', detail: line.event };
        assert.equal(decodeValue(eb).ok, true, where);
      }
      t.diagnostic(`${file}: ${JSON.stringify(counts)}`);
      console.log(`[corpus] ${file}: ${JSON.stringify(counts)}`);
      assert.deepEqual(failures, []);
      assert.equal(counts.decoded + counts.partialRejected + counts.noEventIdRejected, counts.total);
      if (file === 'background.jsonl') assert.equal(counts.decoded, counts.total);
    });

    it('every decoded record gives a sensible principal', (t) => {
      if (!present) {
        t.skip(`../shared not present: ${fileURLToPath(corpusDir)}`);
        return;
      }
      const byType: Record<string, number> = {};
      let services = 0;
      let unattributable = 0;
      let emails = 0;
      for (const line of load(file)) {
        const r = decodeValue(line.event);
        if (!r.ok) continue;
        for (const rec of r.records) {
          const p = principalOf(rec, { automation: ['arn:aws:iam::*:role/stratus-red-team-*'] });
          assert.ok(p.name.length > 0);
          assert.ok(p.key.length > 0);
          assert.ok(!(p.isAwsService && p.isUnattributable), 'a service is not unattributable');
          const ui = rec.userIdentity;
          const given = typeof ui.type === 'string' ? ui.type : undefined;
          if (given && given !== 'Unknown') assert.equal(p.type, given, line.source);
          if (given === 'IAMUser' || given === 'Root') assert.equal(p.isAwsService, false, line.source);
          if (given === 'AWSService') assert.equal(p.isAwsService, true);
          // A console call ("AWS Internal") by a named human stays the human's.
          if (
            rec.sourceIPAddress === 'AWS Internal' &&
            typeof ui.arn === 'string' &&
            !/AWSServiceRole/.test(ui.arn)
          ) {
            assert.equal(p.isAwsService, false, line.source);
          }
          byType[p.type] = (byType[p.type] ?? 0) + 1;
          if (p.isAwsService) services++;
          if (p.isUnattributable) unattributable++;
          if (p.email) emails++;
        }
      }
      const summary = { byType, services, unattributable, emails };
      t.diagnostic(`${file}: ${JSON.stringify(summary)}`);
      console.log(`[corpus] ${file} principals: ${JSON.stringify(summary)}`);
    });
  });
}

describe('corpus as a log file', () => {
  it('all records of both files in one {"Records":[...]} object', (t) => {
    if (!present) {
      t.skip(`../shared not present: ${fileURLToPath(corpusDir)}`);
      return;
    }
    const events = [...load('public.jsonl'), ...load('background.jsonl')].map((l) => l.event);
    const r = decodeMessage(JSON.stringify({ Records: events }), { maxBytes: 64 * 1024 * 1024 });
    assert.ok(r.ok);
    assert.equal(r.records.length + r.invalid.length, events.length);
    assert.ok(r.invalid.every((f) => f.reason === 'missing_field'));
    t.diagnostic(`log file: ${r.records.length} records, ${r.invalid.length} invalid`);
  });
});
