/**
 * Fuzzing the Sigma engine (fast-check, 100,000 cases, fixed seed): every bundled rule and every SigmaHQ
 * AWS CloudTrail rule (../shared/sigma-aws-cloudtrail) evaluates each generated record — the decoder's
 * inputs (random JSON, mutated corpus records, prototype keys) plus records aimed at each rule's own
 * events with hostile values (up to 100 KB) where rules look — and decide() runs on every record the
 * decoder accepts. Nothing throws, nothing pollutes a prototype, and no record takes long: the regular
 * expressions run in linear time (rules/sigma/regex.ts), so a crafted value cannot stall the drain.
 */
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { decodeMessage } from '../../cloudtrail/decode.js';
import { DEFAULT_POLICY, decide } from '../../handlers/decide.js';
import { BUNDLED_RULES_DIR, checkRuleDirs } from '../../rules/loader.js';
import { compileRuleFile } from '../../rules/sigma/compiler.js';
import { ACTIONS, type RuleSet } from '../../rules/types.js';
import {
  allInputs,
  CORPUS_PRESENT,
  corpusEvents,
  describeFailure,
  FUZZ_RUNS,
  FUZZ_SEED,
  type FuzzCase,
  PROTO_KEYS,
  prototypeSnapshot,
} from './fuzz-inputs.js';

const SIGMAHQ = fileURLToPath(new URL('../../../shared/sigma-aws-cloudtrail/', import.meta.url));
const SIGMAHQ_PRESENT = existsSync(SIGMAHQ);

interface Compiled {
  name: string;
  evaluate: (record: unknown) => boolean;
  eventSources?: string[];
  eventNames?: string[];
}

function compileDir(dir: string): Compiled[] {
  const out: Compiled[] = [];
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (/\.ya?ml$/.test(e.name)) {
        const r = compileRuleFile(p, readFileSync(p, 'utf8'));
        if (r.rule && r.evaluate)
          out.push({
            name: e.name,
            evaluate: r.evaluate,
            eventSources: r.rule.eventSources,
            eventNames: r.rule.eventNames,
          });
      }
    }
  };
  walk(dir);
  return out;
}

/** Where rules look (regex, wildcard, cidr and policy fields), and what makes matchers work hardest. */
const HOT_PATHS = [
  ['requestParameters', 'policyDocument'],
  ['requestParameters', 'assumeRolePolicyDocument'],
  ['requestParameters', 'policy'],
  ['requestParameters', 'key'],
  ['requestParameters', 'instanceType'],
  ['requestParameters', 'bucketPolicy'],
  ['requestParameters', 'ipPermissions', 'items'],
  ['userIdentity', 'arn'],
  ['userIdentity', 'sessionContext', 'sessionIssuer', 'arn'],
  ['userAgent'],
  ['sourceIPAddress'],
  ['errorCode'],
  ['additionalEventData', 'MFAUsed'],
];
const UNITS = [
  'a',
  ' ',
  '"Effect" : "Allow" "Action": [a',
  '"Action":["',
  '"Principal":{"AWS":["',
  '"Effect":"Allow"',
  ':assumed-role/aws',
  'files are encrypted.tx',
  '/how-to-decrypt',
  'é',
  '*',
  '\\',
  '0.0.0.0/',
  '::ffff:',
  'i-0123456789abcdef',
  'AAAA',
];

/** A record aimed at one rule's events, with hostile values where rules look. */
function ruleBait(rules: Compiled[]): fc.Arbitrary<FuzzCase> {
  const withEvents = rules.filter((r) => r.eventNames?.length);
  return fc
    .record({
      rule: fc.nat(withEvents.length - 1),
      pick: fc.nat(),
      values: fc.array(
        fc.record({
          path: fc.constantFrom(...HOT_PATHS),
          unit: fc.constantFrom(...UNITS),
          // Mostly realistic sizes; 1 in 500 up to 100 KB (past the 64 KB matching cap).
          length: fc.oneof(
            { weight: 499, arbitrary: fc.integer({ min: 0, max: 600 }) },
            { weight: 1, arbitrary: fc.integer({ min: 60_000, max: 100_000 }) },
          ),
          asArray: fc.boolean(),
        }),
        { minLength: 1, maxLength: 3 },
      ),
      errorCode: fc.option(fc.constantFrom('AccessDenied', 'MalformedPolicyDocument'), { nil: undefined }),
    })
    .map(({ rule, pick, values, errorCode }) => {
      const r = withEvents[rule] as Compiled;
      const names = r.eventNames ?? ['CreateUser'];
      const sources = r.eventSources ?? ['iam.amazonaws.com'];
      const rec: Record<string, unknown> = {
        eventVersion: '1.08',
        eventID: `bait-${rule}-${pick}`,
        eventName: names[pick % names.length],
        eventSource: sources[pick % sources.length],
        eventTime: '2024-05-01T12:00:00Z',
        awsRegion: 'us-east-1',
        userIdentity: { type: 'IAMUser', arn: 'arn:aws:iam::111122223333:user/p', userName: 'p' },
        requestParameters: {},
      };
      if (errorCode) rec.errorCode = errorCode;
      for (const v of values) {
        let node = rec;
        for (const key of v.path.slice(0, -1)) {
          if (typeof node[key] !== 'object' || node[key] === null) node[key] = {};
          node = node[key] as Record<string, unknown>;
        }
        const s = v.unit.repeat(Math.ceil(v.length / v.unit.length)).slice(0, v.length);
        node[v.path[v.path.length - 1] as string] = v.asArray ? [s, { nested: s }] : s;
      }
      return { kind: `bait-${r.name}`, text: JSON.stringify(rec), value: rec };
    });
}

describe('Sigma engine fuzzing', () => {
  it(`${FUZZ_RUNS.toLocaleString('en')} generated records through every bundled${SIGMAHQ_PRESENT ? ' and SigmaHQ' : ''} rule and decide(): no throw, bounded time per record${CORPUS_PRESENT ? '' : ' (../shared absent: built records only)'}`, {
    timeout: 240_000,
  }, async () => {
    const rules = [...compileDir(BUNDLED_RULES_DIR), ...(SIGMAHQ_PRESENT ? compileDir(SIGMAHQ) : [])];
    assert.ok(rules.length >= 100, `${rules.length} rules compiled`);
    const sets: RuleSet[] = [(await checkRuleDirs([BUNDLED_RULES_DIR])).ruleSet];
    if (SIGMAHQ_PRESENT) sets.push((await checkRuleDirs([SIGMAHQ])).ruleSet);
    const events = corpusEvents();
    const before = prototypeSnapshot();
    const now = new Date('2024-05-01T12:30:00Z');
    let records = 0;
    let evaluations = 0;
    let fired = 0;
    let slowest = { ms: 0, kind: '' };
    const started = performance.now();
    const run = fc.check(
      fc.property(
        fc.oneof({ weight: 3, arbitrary: allInputs(events) }, { weight: 2, arbitrary: ruleBait(rules) }),
        (c) => {
          const t0 = performance.now();
          const decoded = decodeMessage(c.text);
          const candidates: unknown[] = decoded.ok ? [...decoded.records] : [];
          // The raw value too, valid or not: rules must cope with whatever shape reaches them.
          if (c.value !== undefined && c.value !== null && typeof c.value === 'object')
            candidates.push(c.value);
          for (const rec of candidates) {
            records++;
            for (const r of rules) {
              evaluations++;
              // The compiled detection without Rule.matches' catch-all: a throw fails the run.
              if (r.evaluate(rec)) fired++;
            }
          }
          if (decoded.ok) {
            for (const rec of decoded.records)
              for (const set of sets) {
                const d = decide(rec, set, { now, policy: DEFAULT_POLICY });
                assert.ok(ACTIONS.includes(d.action), `action ${d.action}`);
                assert.equal(typeof d.summary, 'string');
                assert.ok(Array.isArray(d.matches) && Array.isArray(d.reasons));
                for (const reason of d.reasons) assert.equal(typeof reason, 'string');
              }
          }
          const ms = performance.now() - t0;
          if (ms > slowest.ms) slowest = { ms, kind: c.kind };
        },
      ),
      { numRuns: FUZZ_RUNS, seed: FUZZ_SEED + 1, endOnFailure: true },
    );
    if (run.failed) assert.fail(describeFailure(run));
    const total = performance.now() - started;
    // Before the linear-time regular expressions, one crafted 64 KB policy document took minutes. (The bound
    // leaves room for GC pauses and a busy CI machine; unloaded, the slowest record takes about 0.3 s.)
    assert.ok(slowest.ms < 5_000, `slowest input took ${slowest.ms.toFixed(0)} ms (${slowest.kind})`);
    assert.ok(total / Math.max(1, records) < 5, `average ${(total / records).toFixed(2)} ms per record`);
    assert.equal(prototypeSnapshot(), before, 'a prototype gained or lost properties');
    for (const k of ['polluted', 'isAdmin', ...PROTO_KEYS.slice(2)])
      assert.equal(({} as Record<string, unknown>)[k], undefined, `Object.prototype.${k} appeared`);
    process.stdout.write(
      `# engine fuzz: ${FUZZ_RUNS} inputs, ${records} records, ${rules.length} rules, ${evaluations} evaluations (${fired} fired) in ${(total / 1000).toFixed(1)} s; ${((total * 1000) / Math.max(1, records)).toFixed(0)} µs per record; slowest ${slowest.ms.toFixed(1)} ms (${slowest.kind})\n`,
    );
  });
});
