import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { gzipSync } from 'node:zlib';
import { runCli } from '../helpers/cli.js';
import { makeRecord } from '../helpers/events.js';

const dir = mkdtempSync(join(tmpdir(), 'secbot-triage-'));

describe('secbot triage', () => {
  it('prints a table and a summary for every envelope in the bundled samples', async () => {
    const r = await runCli(['triage', 'samples/seed.jsonl']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^TIME\s+ACTION\s+RULE\s+PRINCIPAL\s+CALL\s+REASON/m);
    assert.match(r.stdout, /ALERT\s+ec2-security-group-opened-to-inte/);
    assert.match(r.stdout, /NOTIFY\s+iam-user-created\s+dana@example\.com \(PowerUser\)/);
    assert.match(r.stdout, /LOG\s+iam-group-created/);
    assert.match(r.stdout, /8 records: 3 alert, 3 notify, 2 log; 0 malformed/);
    assert.match(r.stdout, /by rule \(alert \/ notify \/ log after policy\):/);
    assert.match(r.stdout, /top principals:\n\s+sam\s+4/);
  });

  it('counts malformed inputs without crashing, and reads gzip and standard input', async () => {
    const good = makeRecord({ eventName: 'CreateUser', requestParameters: { userName: 'x' } });
    const lines = [
      JSON.stringify(good),
      'not json',
      '{"eventName":"CreateUser"}',
      JSON.stringify({ Records: [good, { nope: 1 }] }),
    ];
    const gz = join(dir, 'mixed.json.gz');
    writeFileSync(gz, gzipSync(`${lines.join('\n')}\n`));
    const r = await runCli(['triage', gz, '--format', 'json']);
    assert.equal(r.code, 0, r.stderr);
    const out = r.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    const summary = out.at(-1).summary;
    assert.equal(summary.records, 2);
    assert.equal(summary.malformed, 3);
    assert.deepEqual(Object.keys(summary.malformedByReason).sort(), ['missing_field', 'not_json']);
    assert.ok(summary.malformedExamples[0].startsWith(gz));
    const stdin = await runCli(['triage', '-', '--format', 'ecs'], { input: `${JSON.stringify(good)}\n` });
    assert.equal(stdin.code, 0, stdin.stderr);
    const ecs = JSON.parse(stdin.stdout.split('\n')[0] ?? '{}');
    assert.equal(ecs.event.action, 'CreateUser');
    assert.equal(ecs.secbot.action, 'notify');
  });

  it('reads a pretty-printed CloudTrail log file and filters rows by action', async () => {
    const file = join(dir, 'trail.json');
    const records = [
      makeRecord({ eventName: 'CreateGroup', requestParameters: { groupName: 'g' } }),
      makeRecord({
        eventSource: 'cloudtrail.amazonaws.com',
        eventName: 'StopLogging',
        requestParameters: { name: 't' },
      }),
    ];
    writeFileSync(file, JSON.stringify({ Records: records }, null, 2));
    const r = await runCli(['triage', file, '--actions', 'alert']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /ALERT\s+cloudtrail-logging-stopped/);
    assert.doesNotMatch(r.stdout, /LOG\s+iam-group-created/);
    assert.match(r.stdout, /2 records: 1 alert, 0 notify, 1 log/);
  });

  it('answers bad usage with a message and a non-zero exit', async () => {
    assert.equal((await runCli(['triage'])).code, 2);
    const bad = await runCli(['triage', 'samples/seed.jsonl', '--format', 'xml']);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /--format must be table, json or ecs/);
    const missing = await runCli(['triage', 'no-such-file.json']);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /no-such-file\.json/);
    const unknown = await runCli(['frobnicate']);
    assert.equal(unknown.code, 2);
    assert.match(unknown.stderr, /unknown command "frobnicate"/);
  });
});

describe('secbot rules and eventbridge-pattern', () => {
  it('rules test passes for the bundled rules; rules check reports none', async () => {
    const t = await runCli(['rules', 'test']);
    assert.equal(t.code, 0, t.stdout);
    assert.match(t.stdout, /\d+ passed, 0 failed/);
    const c = await runCli(['rules', 'check']);
    assert.equal(c.code, 0, c.stdout);
    assert.match(c.stdout, /rules loaded from .*: 0 errors/);
  });

  it('rules check names the file, line and reason of every broken rule', async () => {
    const broken = mkdtempSync(join(dir, 'rules-'));
    writeFileSync(join(broken, 'bad-yaml.yml'), 'title: x\nid: bad-yaml\n  detection: [\n');
    writeFileSync(
      join(broken, 'bad-modifier.yml'),
      'title: Bad modifier\nid: bad-modifier\nlevel: high\nlogsource: { product: aws, service: cloudtrail }\ndetection:\n  sel:\n    eventName|windash: x\n  condition: sel\n',
    );
    const c = await runCli(['rules', 'check', '--rules', broken]);
    assert.equal(c.code, 1);
    assert.match(c.stdout, /bad-yaml\.yml:\d+(:\d+)?: error: /);
    assert.match(c.stdout, /bad-modifier\.yml:7(:\d+)?: error: .*windash/);
    const start = await runCli(['triage', 'samples/seed.jsonl', '--rules', broken]);
    assert.equal(start.code, 1, 'a broken ruleset refuses to run');
    assert.match(start.stderr, /bad-modifier\.yml:7/);
  });

  it('eventbridge-pattern prints a pattern for the loaded rules', async () => {
    const r = await runCli(['eventbridge-pattern']);
    assert.equal(r.code, 0, r.stderr);
    const pattern = JSON.parse(r.stdout);
    assert.ok(pattern['detail-type'].includes('AWS API Call via CloudTrail'));
    assert.ok(JSON.stringify(pattern.detail).includes('"StopLogging"'));
    assert.equal(r.stderr, '', 'no bundled rule is broad');
  });
});
