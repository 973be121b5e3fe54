/**
 * `npm run build` (scripts/build.mjs) makes a dist/ that runs with plain node, as the Docker image does:
 * built into a temporary folder beside a copy of package.json and the checkout's node_modules.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import {
  copyFileSync,
  existsSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';

const REPO = fileURLToPath(new URL('../../', import.meta.url));
const env = {
  ...process.env,
  SECBOT_LOG_LEVEL: 'silent',
  AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
};

describe('npm run build', () => {
  let image: string;
  let dist: string;
  before(() => {
    image = mkdtempSync(join(tmpdir(), 'secbot-build-'));
    dist = join(image, 'dist');
    copyFileSync(join(REPO, 'package.json'), join(image, 'package.json'));
    symlinkSync(join(REPO, 'node_modules'), join(image, 'node_modules'), 'dir');
    const r = spawnSync(process.execPath, [join(REPO, 'scripts/build.mjs'), dist], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr + r.stdout);
  });
  after(() => rmSync(image, { recursive: true, force: true }));

  it('writes dist/app.js, the CLI, the bundled rules and the samples', () => {
    assert.ok(existsSync(join(dist, 'app.js')));
    assert.ok(existsSync(join(dist, 'cli/main.js')));
    const ymls = (dir: string) =>
      readdirSync(dir)
        .filter((f) => /\.ya?ml$/.test(f))
        .sort();
    const rules = ymls(join(REPO, 'rules/default'));
    assert.ok(rules.length > 100);
    assert.deepEqual(ymls(join(dist, 'rules/default')), rules);
    assert.ok(existsSync(join(dist, 'samples/seed.jsonl')));
    assert.ok(existsSync(join(dist, 'manifest.yml')), 'secbot doctor reads the bot scopes from it');
  });

  it('needs no TypeScript loader at run time', () => {
    const js = readFileSync(join(dist, 'app.js'), 'utf8');
    assert.doesNotMatch(js, /from ['"]tsx/);
    assert.doesNotMatch(js, /\.ts['"]/);
  });

  it('node dist/app.js refuses to start on a missing rules folder, fast, saying why', () => {
    const started = Date.now();
    const r = spawnSync(process.execPath, [join(dist, 'app.js')], {
      env: { ...env, SECBOT_RULES: '/nonexistent-secbot-rules' },
      encoding: 'utf8',
      timeout: 20_000,
    });
    assert.equal(r.status, 1);
    assert.match(r.stderr, /ruleset is broken; refusing to start/);
    assert.match(r.stderr, /nonexistent-secbot-rules.*cannot read rules folder/);
    assert.ok(Date.now() - started < 10_000);
  });

  it('the built CLI finds the bundled rules next to it', () => {
    const r = spawnSync(process.execPath, [join(dist, 'cli/main.js'), 'rules', 'check'], {
      env,
      encoding: 'utf8',
    });
    assert.equal(r.status, 0, r.stdout + r.stderr);
    assert.match(r.stdout, new RegExp(`rules loaded from ${join(dist, 'rules/default')}: 0 errors`));
  });
});
