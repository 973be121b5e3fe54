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
// Tests that time something against a bound (test/bench/: the quick benchmark must finish within a
// minute) run after the others, alone: beside two other test files on two cores they timed the load.
const timed = (f) => f.startsWith(join('test', 'bench'));
const run = (list, concurrency) =>
  list.length === 0
    ? 0
    : (spawnSync(
        process.execPath,
        ['--import', 'tsx', '--test', `--test-concurrency=${concurrency}`, '--test-reporter=spec', ...list],
        // The AWS SDK warns every process about Node 20's end of support; tests need not repeat it.
        {
          stdio: 'inherit',
          env: { ...process.env, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' },
        },
      ).status ?? 1);
const rest = run(
  files.filter((f) => !timed(f)),
  2,
);
const alone = run(files.filter(timed), 1);
process.exit(rest !== 0 ? rest : alone);
