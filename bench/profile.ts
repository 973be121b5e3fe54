/**
 * Summarise a V8 CPU profile (`node --cpu-prof`): self time by function and by file, heaviest first.
 *
 *   node --cpu-prof --cpu-prof-dir=bench/.cache/prof --import tsx bench/run.ts --only decide
 *   npx tsx bench/profile.ts bench/.cache/prof/*.cpuprofile [--top 30]
 */
import { readFileSync } from 'node:fs';
import { relative } from 'node:path';
import { REPO_ROOT } from './inputs.js';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
  children?: number[];
}
interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

export interface ProfileLine {
  name: string;
  selfMs: number;
  share: number;
}

/** Self time per function (`name file:line`) and per file, in milliseconds, heaviest first. */
export function summarise(profile: CpuProfile): {
  functions: ProfileLine[];
  files: ProfileLine[];
  totalMs: number;
} {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const selfUs = new Map<number, number>();
  for (let i = 0; i < profile.samples.length; i++) {
    const id = profile.samples[i] as number;
    selfUs.set(id, (selfUs.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0));
  }
  const fns = new Map<string, number>();
  const files = new Map<string, number>();
  let total = 0;
  for (const [id, us] of selfUs) {
    const n = byId.get(id);
    if (!n) continue;
    total += us;
    const url = n.callFrame.url.replace(/^file:\/\//, '');
    const file = url ? (url.startsWith(REPO_ROOT) ? relative(REPO_ROOT, url) : url) : '(native)';
    const fn = `${n.callFrame.functionName || '(anonymous)'} ${file}${url ? `:${n.callFrame.lineNumber + 1}` : ''}`;
    fns.set(fn, (fns.get(fn) ?? 0) + us);
    const fileKey = file.includes('node_modules/')
      ? `node_modules/${file.split('node_modules/').at(-1)?.split('/').slice(0, 2).join('/')}`
      : file;
    files.set(fileKey, (files.get(fileKey) ?? 0) + us);
  }
  const lines = (m: Map<string, number>) =>
    [...m]
      .map(([name, us]) => ({ name, selfMs: us / 1000, share: total > 0 ? us / total : 0 }))
      .sort((a, b) => b.selfMs - a.selfMs);
  return { functions: lines(fns), files: lines(files), totalMs: total / 1000 };
}

if (process.argv[1] && import.meta.url.endsWith(process.argv[1].split('/').at(-1) ?? '')) {
  const args = process.argv.slice(2);
  const topIdx = args.indexOf('--top');
  const top = topIdx >= 0 ? Number(args.splice(topIdx, 2)[1]) : 25;
  for (const file of args) {
    const s = summarise(JSON.parse(readFileSync(file, 'utf8')) as CpuProfile);
    process.stdout.write(`\n${file}: ${s.totalMs.toFixed(0)} ms sampled\n\nself time by function:\n`);
    for (const l of s.functions.slice(0, top))
      process.stdout.write(
        `  ${(l.share * 100).toFixed(1).padStart(5)}%  ${l.selfMs.toFixed(0).padStart(7)} ms  ${l.name}\n`,
      );
    process.stdout.write('\nself time by file:\n');
    for (const l of s.files.slice(0, top))
      process.stdout.write(
        `  ${(l.share * 100).toFixed(1).padStart(5)}%  ${l.selfMs.toFixed(0).padStart(7)} ms  ${l.name}\n`,
      );
  }
}
