import { readFileSync, readdirSync } from 'node:fs';
const dir = '.tmp-fault/prof';
for (const f of readdirSync(dir)) {
  const p = JSON.parse(readFileSync(`${dir}/${f}`, 'utf8'));
  const self = new Map();
  const dt = p.timeDeltas; const byId = new Map(p.nodes.map(n => [n.id, n]));
  const counts = new Map();
  for (let i = 0; i < p.samples.length; i++) counts.set(p.samples[i], (counts.get(p.samples[i]) ?? 0) + (dt[i] ?? 0));
  for (const [id, t] of counts) { const n = byId.get(id); const k = `${n.callFrame.functionName || '(anon)'} ${n.callFrame.url.split('/').slice(-2).join('/')}:${n.callFrame.lineNumber}`; self.set(k, (self.get(k) ?? 0) + t); }
  const tot = [...self.values()].reduce((a, b) => a + b, 0);
  console.log(f, (tot/1e6).toFixed(1), 's');
  for (const [k, t] of [...self].sort((a, b) => b[1] - a[1]).slice(0, 25)) console.log((t / 1e3).toFixed(0).padStart(7), 'ms', k);
}
