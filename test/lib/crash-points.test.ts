/** The test-only crash points: SECBOT_CRASH_AT's syntax, and that an armed point SIGKILLs at its count. */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { describe, it } from 'node:test';
import { loadConfig } from '../../config/index.js';
import { armCrashPoint, CRASH_AT_PATTERN, CRASH_POINTS } from '../../lib/crash-points.js';
import { REPO } from '../helpers/cli.js';

describe('crash points', () => {
  it('SECBOT_CRASH_AT takes a point and an optional count, and nothing else', () => {
    for (const p of CRASH_POINTS) {
      assert.equal(loadConfig({ SECBOT_CRASH_AT: p }).crashAt, p);
      assert.equal(loadConfig({ SECBOT_CRASH_AT: `${p}:3` }).crashAt, `${p}:3`);
    }
    assert.equal(loadConfig({}).crashAt, undefined);
    for (const bad of ['after_everything', 'before_page:0', 'before_page:x', 'before_page:', ' :1']) {
      assert.throws(() => loadConfig({ SECBOT_CRASH_AT: bad }), /SECBOT_CRASH_AT/, bad);
      assert.ok(!CRASH_AT_PATTERN.test(bad));
    }
    assert.throws(() => armCrashPoint('nope'), /not a crash point/);
    armCrashPoint(undefined); // disarmed: reaching a point does nothing
  });

  it('an armed point SIGKILLs the process the n-th time it is reached, and only then', async () => {
    const script = [
      "import { armCrashPoint, crashPoint } from './lib/crash-points.ts';",
      "armCrashPoint('before_page:2');",
      "crashPoint('after_receive');",
      "crashPoint('before_page');",
      "console.log('after the first');",
      "crashPoint('before_page');",
      "console.log('after the second');",
    ].join('\n');
    const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
      cwd: REPO,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (d) => {
      out += d;
    });
    child.stderr.on('data', (d) => {
      out += d;
    });
    const signal = await new Promise((resolve) => child.on('exit', (_code, sig) => resolve(sig)));
    assert.equal(signal, 'SIGKILL', out);
    assert.match(out, /after the first/);
    assert.match(out, /crash point before_page:2 reached: SIGKILL/);
    assert.doesNotMatch(out, /after the second/);
  });
});
