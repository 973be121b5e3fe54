/**
 * 3. Triage a file: `secbot triage file.json.gz > /dev/null` (bin/secbot.js, the default table of every
 *    record, as a user runs it; tsx's start-up included) over 1,000,000 generated records (JSON Lines,
 *    gzip), against `zcat file | node -e '<parse every line>'`. Peak memory is the triage process's own
 *    (`process.resourceUsage().maxRSS` at exit). The file is generated once into bench/.cache/ and reused.
 */
import { spawn } from 'node:child_process';
import { createWriteStream, existsSync, mkdirSync, renameSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createGzip } from 'node:zlib';
import { generateRecords, REPO_ROOT } from './inputs.js';
import { type BenchResult, figure, perSecond, rate } from './report.js';
import type { BenchContext } from './timing.js';

const CACHE_DIR = fileURLToPath(new URL('./.cache/', import.meta.url));
/** Bump when the generator changes, so a cached file is not reused across versions. */
const FORMAT = 1;
/** Records are spread over the day before this (offline triage judges each call as of its own time). */
const ANCHOR_MS = Date.parse('2025-06-02T12:00:00Z');
const CHUNK = 20_000;

/** The gzipped JSON Lines file of `n` generated records (made once, then reused). */
export async function triageInput(bc: BenchContext, n: number): Promise<string> {
  mkdirSync(CACHE_DIR, { recursive: true });
  const file = join(CACHE_DIR, `triage-v${FORMAT}-seed${bc.seed}-${n}.json.gz`);
  if (existsSync(file)) return file;
  bc.log(`triage: generating ${n.toLocaleString('en')} records into ${file} (once)`);
  const tmp = `${file}.${process.pid}.tmp`;
  const out = createWriteStream(tmp);
  const gz = createGzip({ level: 6 });
  gz.pipe(out);
  const write = (s: string) =>
    new Promise<void>((resolve) => {
      if (gz.write(s)) resolve();
      else gz.once('drain', resolve);
    });
  for (let i = 0; i < n; i += CHUNK) {
    const records = generateRecords(bc.corpus, Math.min(CHUNK, n - i), {
      seed: bc.seed + i,
      anchorMs: ANCHOR_MS,
      spreadMs: 86_400_000,
    });
    await write(`${records.map((r) => JSON.stringify(r)).join('\n')}\n`);
  }
  gz.end();
  await new Promise<void>((resolve, reject) => {
    out.once('finish', resolve);
    out.once('error', reject);
  });
  renameSync(tmp, file);
  return file;
}

interface Timed {
  ms: number;
  maxRssKb?: number;
  stdout: string;
}

function run(
  command: string,
  args: string[],
  opts: { env?: NodeJS.ProcessEnv; discardStdout?: boolean } = {},
): Promise<Timed> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const child = spawn(command, args, {
      cwd: REPO_ROOT,
      // Discarded: the child writes to /dev/null, as `> /dev/null` would have it.
      stdio: ['ignore', opts.discardStdout ? 'ignore' : 'pipe', 'pipe'],
      env: { ...process.env, ...opts.env },
    });
    let stdout = '';
    let stderr = '';
    child.stdout?.on('data', (d: Buffer) => {
      if (stdout.length < 4096) stdout += d.toString();
    });
    child.stderr?.on('data', (d: Buffer) => {
      stderr += d.toString();
    });
    child.once('error', reject);
    child.once('close', (code) => {
      const ms = performance.now() - t0;
      if (code !== 0) {
        reject(new Error(`${command} ${args.join(' ')} exited ${code}: ${stderr.slice(-2000)}`));
        return;
      }
      const rss = /SECBOT_BENCH_MAXRSS=(\d+)/.exec(stderr)?.[1];
      resolve({ ms, maxRssKb: rss ? Number(rss) : undefined, stdout });
    });
  });
}

/** Reports the process's peak resident set size on stderr as it exits. */
const MAX_RSS_HOOK =
  "data:text/javascript,process.on('exit',()=>process.stderr.write('SECBOT_BENCH_MAXRSS='+process.resourceUsage().maxRSS+'\\n'))";

/** What the issue names as the floor: gunzip with zcat, then JSON.parse of every line in node. */
const PARSE_EVERY_LINE =
  "const rl=require('readline').createInterface({input:process.stdin,crlfDelay:Infinity});let n=0;rl.on('line',(l)=>{if(l){JSON.parse(l);n++}});rl.on('close',()=>console.log(n))";

export async function benchTriage(bc: BenchContext): Promise<BenchResult> {
  const n = bc.quick ? 100_000 : 1_000_000;
  const file = await triageInput(bc, n);
  const bytes = statSync(file).size;
  const rounds = bc.quick ? 1 : 3;
  const base: number[] = [];
  const secbot: Timed[] = [];
  for (let r = 0; r < rounds; r++) {
    bc.log(`triage: zcat | node parse (round ${r + 1})`);
    const b = await run('sh', ['-c', `zcat '${file}' | '${process.execPath}' -e "${PARSE_EVERY_LINE}"`]);
    if (Number(b.stdout.trim()) !== n)
      throw new Error(`the baseline parsed ${b.stdout.trim()} lines, not ${n}`);
    base.push(b.ms);
    bc.log(`triage: secbot triage (round ${r + 1})`);
    const s = await run(
      process.execPath,
      ['--import', MAX_RSS_HOOK, 'bin/secbot.js', 'triage', file, '--quiet'],
      {
        env: { SECBOT_LOG_LEVEL: 'error', AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' },
        discardStdout: true,
      },
    );
    secbot.push(s);
  }
  // Each round pairs a baseline with a triage run just after it; the round with the median ratio is
  // reported (a round another process slowed down, in either half, does not decide the figure).
  const order = base
    .map((b, i) => ({ baseMs: b, secbotMs: (secbot[i] as Timed).ms }))
    .sort((x, y) => x.baseMs / x.secbotMs - y.baseMs / y.secbotMs);
  const { baseMs, secbotMs } = order[order.length >> 1] as { baseMs: number; secbotMs: number };
  const peakMb = Math.max(...secbot.map((s) => s.maxRssKb ?? 0)) / 1024;
  const baseRate = perSecond(n, baseMs);
  const secbotRate = perSecond(n, secbotMs);
  return {
    bench: 'triage',
    title: `secbot triage over a ${n.toLocaleString('en')}-record .json.gz (${(bytes / 2 ** 20).toFixed(0)} MB), table to /dev/null`,
    figures: [
      figure(
        'triage / zcat|parse throughput',
        secbotRate / baseRate,
        'ratio',
        `zcat|parse ${rate(baseRate)} rec/s (${(baseMs / 1000).toFixed(1)} s); triage ${rate(secbotRate)} rec/s (${(secbotMs / 1000).toFixed(1)} s, tsx start-up included)${rounds > 1 ? `; median of ${rounds} rounds` : ''}`,
        { op: '>=', value: 0.6 },
      ),
      figure('triage peak memory (max RSS)', Math.round(peakMb), 'MB', `${rounds} run(s)`, {
        op: '<',
        value: 250,
      }),
    ],
    absolute: {
      records: n,
      fileBytes: bytes,
      baselineMs: Math.round(baseMs),
      triageMs: Math.round(secbotMs),
      baselinePerSecond: Math.round(baseRate),
      triagePerSecond: Math.round(secbotRate),
      peakRssMb: Math.round(peakMb),
      rounds: base
        .map(
          (b, i) =>
            `${(b / 1000).toFixed(1)} s / ${((secbot[i] as Timed).ms / 1000).toFixed(1)} s, ${Math.round(((secbot[i] as Timed).maxRssKb ?? 0) / 1024)} MB`,
        )
        .join('; '),
    },
    notes: [
      'stdout of both goes nowhere: triage writes its table to /dev/null, the baseline prints a count.',
    ],
  };
}
