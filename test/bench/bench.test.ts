/**
 * `npm run bench -- --quick` runs every benchmark small, under a minute, and writes the figures as JSON:
 * run here so the benchmark cannot rot. The bars themselves are not asserted (a shared, noisy machine);
 * that every figure is measured is.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import type { Figure } from '../../bench/report.js';
import type { RunReport } from '../../bench/run.js';

const dir = mkdtempSync(join(tmpdir(), 'secbot-bench-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const EXPECTED: Record<string, string[]> = {
  decide: ['decide+parse / parse throughput', 'decode+decide / parse throughput'],
  rules: ['1,000 rules / 10 rules throughput', '100 rules / 10 rules throughput'],
  triage: ['triage / zcat|parse throughput', 'triage peak memory (max RSS)'],
  drain: [
    'secbot (until all sent) / bare drain throughput',
    'queue drained / bare drain throughput',
    'DMs (questions asked)',
    'Slack calls per notify record',
  ],
  latency: ['p95 enqueue → DM'],
};

describe('npm run bench -- --quick', () => {
  it('runs every benchmark in under a minute and writes every figure, with its bar, as JSON', {
    timeout: 180_000,
  }, async () => {
    const started = Date.now();
    const { code, output } = await new Promise<{ code: number | null; output: string }>((resolve) => {
      const child = spawn('npm', ['run', 'bench', '--', '--quick'], {
        env: { ...process.env, SECBOT_BENCH_RESULTS: dir },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let output = '';
      child.stdout.on('data', (d: Buffer) => {
        output += d.toString();
      });
      child.stderr.on('data', (d: Buffer) => {
        output += d.toString();
      });
      child.on('close', (c) => resolve({ code: c, output }));
    });
    const seconds = (Date.now() - started) / 1000;
    // 0: every bar met; 1: some missed (a noisy machine). Anything else is a failure to run.
    assert.ok(code === 0 || code === 1, `npm run bench -- --quick exited ${code}:\n${output.slice(-3000)}`);
    assert.ok(seconds < 60, `the quick run took ${seconds.toFixed(0)} s`);
    assert.match(output, /bench\s+figure\s+value\s+bar/, 'the table is printed');

    const report = JSON.parse(readFileSync(join(dir, 'latest-quick.json'), 'utf8')) as RunReport;
    assert.equal(report.quick, true);
    assert.ok(report.machine.cores > 0 && report.machine.node.startsWith('v'));
    for (const [bench, names] of Object.entries(EXPECTED)) {
      const result = report.results.find((r) => r.bench === bench);
      assert.ok(result, `${bench} is in the JSON`);
      for (const name of names) {
        const fig: Figure | undefined = result.figures.find((x: Figure) => x.name === name);
        assert.ok(fig, `${bench}: ${name}`);
        assert.equal(typeof fig.value, 'number', `${bench}: ${name} has a value`);
        assert.ok(Number.isFinite(fig.value), `${bench}: ${name} = ${fig.value}`);
        assert.ok(fig.detail.length > 0, `${bench}: ${name} says what it compared`);
      }
      // Every bar of the issue is there, with its verdict.
      assert.ok(
        result.figures.some((f) => f.bar && typeof f.ok === 'boolean'),
        `${bench} has a bar`,
      );
    }
  });
});
