#!/usr/bin/env node
// `npm run build`: compile the product code (tsconfig.build.json) into dist/ — or the folder given — and
// copy beside it what it reads at run time relative to its own files: the bundled rules
// (rules/loader.js → ./default), the sample events (app.js seeds ./samples on an embedded first start)
// and the Slack app manifest (secbot doctor checks the token's scopes against it).
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const out = resolve(process.argv[2] ?? join(root, 'dist'));
if (out === root || root.startsWith(out + sep)) {
  process.stderr.write(`build: refusing to build into ${out}, which holds the sources\n`);
  process.exit(2);
}

rmSync(out, { recursive: true, force: true }); // no stale files (a deleted rule must not ship)
const tsc = join(dirname(createRequire(import.meta.url).resolve('typescript/package.json')), 'bin', 'tsc');
const r = spawnSync(process.execPath, [tsc, '-p', join(root, 'tsconfig.build.json'), '--outDir', out], {
  stdio: 'inherit',
});
if (r.status !== 0) process.exit(r.status ?? 1);

const assets = [
  ['rules/default', 'rules/default'],
  ['samples', 'samples'],
  ['manifest.yml', 'manifest.yml'],
];
for (const [from, to] of assets) {
  const src = join(root, from);
  if (existsSync(src)) cpSync(src, join(out, to), { recursive: true });
}
process.stdout.write(`build: ${out}\n`);
