#!/usr/bin/env node
// Runs every test/**/*.test.ts with Node's own test runner (tsx as the loader).
// Node 20's --test takes no globs, so the files are listed here; extra args filter by path substring.
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';

function walk(dir) {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? walk(join(dir, e.name)) : e.name.endsWith('.test.ts') ? [join(dir, e.name)] : [],
  );
}
const filters = process.argv.slice(2);
// test/soak/ holds the long variants (npm run test:soak): only when a filter names them.
const soak = (f) => f.startsWith(join('test', 'soak'));
const files = walk('test')
  .filter((f) => filters.length === 0 || filters.some((x) => f.includes(x)))
  .filter((f) => !soak(f) || filters.some((x) => x.includes('soak')))
  .sort();
const r = spawnSync(
  process.execPath,
  ['--import', 'tsx', '--test', '--test-concurrency=2', '--test-reporter=spec', ...files],
  // The AWS SDK warns every process about Node 20's end of support; tests need not repeat it.
  { stdio: 'inherit', env: { ...process.env, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' } },
);
process.exit(r.status ?? 1);
