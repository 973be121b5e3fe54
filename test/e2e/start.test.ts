/**
 * `npm start` on a bare machine: no configuration at all, embedded queue and table, shadow mode.
 * Runs the app as a child process exactly as `npm start` does (tsx app.ts).
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { REPO, runCli } from '../helpers/cli.js';
import { makeRecord } from '../helpers/events.js';

/** The environment of a fresh machine: nothing of secbot's, no AWS credentials. */
function bareEnv(dataDir: string): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (v !== undefined && !/^(SECBOT_|SLACK_|DUO_|PAGERDUTY_|AWS_)/.test(k)) env[k] = v;
  }
  return { ...env, SECBOT_DATA_DIR: dataDir, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' };
}

function waitFor(out: { text: string }, child: ChildProcess, re: RegExp, timeoutMs: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setInterval(() => {
      if (re.test(out.text)) {
        clearInterval(timer);
        resolve();
      } else if (child.exitCode !== null) {
        clearInterval(timer);
        reject(new Error(`secbot exited ${child.exitCode} before ${re}:\n${out.text}`));
      }
    }, 50);
    setTimeout(() => {
      clearInterval(timer);
      reject(new Error(`no ${re} within ${timeoutMs} ms:\n${out.text}`));
    }, timeoutMs).unref();
  });
}

describe('npm start with no configuration', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'secbot-start-'));
  let child: ChildProcess | undefined;
  after(() => {
    if (child && child.exitCode === null) child.kill('SIGKILL');
  });

  it('seeds, decides the samples, prints what it would send, takes `secbot enqueue`, and exits 0 on SIGTERM', async () => {
    const started = Date.now();
    child = spawn(process.execPath, ['--import', 'tsx', 'app.ts'], {
      cwd: REPO,
      env: bareEnv(dataDir),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const out = { text: '' };
    child.stdout?.on('data', (d) => {
      out.text += d;
    });
    const err = { text: '' };
    child.stderr?.on('data', (d) => {
      err.text += d;
    });
    await waitFor(out, child, /would trigger PagerDuty/, 30_000);
    await waitFor(out, child, /would DM dana@example\.com/, 5_000);
    const elapsed = Date.now() - started;
    assert.ok(elapsed < 30_000, `decisions printed after ${elapsed} ms`);
    assert.match(out.text, /\[seed\] enqueued 8 sample CloudTrail events/);
    assert.equal((out.text.match(/^\[decide\]/gm) ?? []).length, 8, out.text);
    for (const action of ['LOG', 'NOTIFY', 'ALERT'])
      assert.match(out.text, new RegExp(`\\[decide\\] ${action}`));
    assert.match(out.text, /shadow mode \(no Slack tokens/);
    assert.match(out.text, /npx secbot enqueue/);
    assert.match(out.text, /would post in the alert channel/);
    assert.ok(existsSync(join(dataDir, 'audit.jsonl')), 'the audit trail is written');

    // `secbot enqueue` finds the running embedded queue through the data directory.
    const file = join(dataDir, 'more.jsonl');
    writeFileSync(
      file,
      `${JSON.stringify(makeRecord({ eventSource: 'cloudtrail.amazonaws.com', eventName: 'DeleteTrail', requestParameters: { name: 'org-trail' } }))}\n`,
    );
    const enq = await runCli(['enqueue', file], { env: bareEnv(dataDir) });
    assert.equal(enq.code, 0, enq.stderr);
    assert.match(enq.stdout, /enqueued 1 records/);
    await waitFor(out, child, /\[decide\] ALERT .*DeleteTrail/, 25_000);

    const exited = new Promise<number | null>((resolve) => child?.on('exit', (code) => resolve(code)));
    child.kill('SIGTERM');
    assert.equal(await exited, 0, err.text);
    assert.ok(!existsSync(join(dataDir, 'embedded.json')), 'the embedded endpoints file is removed on exit');
  });
});
