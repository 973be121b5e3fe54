/** The Dockerfile cannot be built here (no container engine): check its shape and its build context. */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';

const REPO = fileURLToPath(new URL('../../', import.meta.url));
const dockerfile = readFileSync(`${REPO}Dockerfile`, 'utf8');
const ignored = readFileSync(`${REPO}.dockerignore`, 'utf8')
  .split('\n')
  .map((l) => l.trim())
  .filter((l) => l !== '' && !l.startsWith('#') && !l.startsWith('!'));

describe('Dockerfile', () => {
  const stages = dockerfile.split(/^FROM /m).slice(1);
  const runtime = stages.at(-1) ?? '';

  it('builds in one stage and runs from another with production dependencies only', () => {
    assert.equal(stages.length, 2);
    assert.match(stages[0] ?? '', /RUN npm ci[^\n]*\n[\s\S]*RUN npm run build/);
    assert.match(runtime, /RUN npm ci --omit=dev/);
    assert.match(runtime, /COPY --from=build \/app\/dist \.\/dist/);
    assert.doesNotMatch(runtime, /npm run build|COPY \. \./);
  });

  it('runs node dist/app.js as the unprivileged node user', () => {
    assert.match(runtime, /^USER node$/m);
    assert.match(runtime, /^CMD \["node", "dist\/app\.js"\]$/m);
    assert.ok(runtime.indexOf('USER node') < runtime.indexOf('CMD'));
  });

  it('keeps in the build context everything npm ci and npm run build read', () => {
    const { include } = JSON.parse(readFileSync(`${REPO}tsconfig.build.json`, 'utf8')) as {
      include: string[];
    };
    const needed = [
      'package.json',
      'package-lock.json',
      'tsconfig.json',
      'tsconfig.build.json',
      'scripts/build.mjs',
      'rules/default',
      'samples',
      ...include,
    ];
    const excluded = (path: string) =>
      ignored.some(
        (p) => path === p || path.startsWith(`${p}/`) || (p.endsWith('*') && path.startsWith(p.slice(0, -1))),
      );
    assert.deepEqual(
      needed.filter((p) => excluded(p)),
      [],
    );
    for (const p of ['node_modules', 'dist', '.git', '.env', 'test', 'terraform'])
      assert.ok(excluded(p), `${p} is sent`);
  });
});
