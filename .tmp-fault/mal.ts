import { compileRuleFile } from '../rules/sigma/compiler.ts';
import { formatRuleIssue } from '../rules/types.ts';
const head = 'title: T\nid: t\nlevel: high\nlogsource: { product: aws, service: cloudtrail }\n';
const show = (name: string, text: string) => {
  const t0 = performance.now();
  let out: string;
  try { const r = compileRuleFile(`/rules/${name}.yml`, text); out = (r.rule ? 'LOADED ' : 'REFUSED ') + r.issues.map(formatRuleIssue).join(' | ').slice(0, 300); }
  catch (e) { out = 'THREW ' + (e as Error).message.slice(0, 200); }
  console.log(name, (performance.now() - t0).toFixed(0) + 'ms', out);
};
show('nested', head + "detection:\n  sel:\n    userAgent|re: '(a+)+$'\n  condition: sel\n");
show('alt', head + "detection:\n  sel:\n    userAgent|re: '(a|aa)+$'\n  condition: sel\n");
show('look', head + "detection:\n  sel:\n    userAgent|re: 'a(?=b)'\n  condition: sel\n");
show('unknownmod', head + "detection:\n  sel:\n    userAgent|foo: 'x'\n  condition: sel\n");
show('windash', head + "detection:\n  sel:\n    userAgent|windash|contains: '-x'\n  condition: sel\n");
for (const n of [1000, 10000, 100000]) show('deepflow' + n, head + 'detection:\n  sel:\n    userAgent: ' + '['.repeat(n) + ']'.repeat(n) + '\n  condition: sel\n');
show('deepblock', head + 'detection:\n' + Array.from({ length: 500 }, (_, i) => ' '.repeat(2 * (i + 1)) + 'k' + i + ':').join('\n') + ' x\n');
const bomb = head + 'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\nc: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]\nd: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]\ne: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]\nf: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]\ng: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]\nh: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]\ni: &i [*h,*h,*h,*h,*h,*h,*h,*h,*h]\ndetection:\n  sel:\n    userAgent: *i\n  condition: sel\n';
show('bomb', bomb);
for (const n of [50000, 100001]) show('list' + n, head + 'detection:\n  sel:\n    userAgent:\n' + Array.from({ length: n }, (_, i) => `      - v${i}`).join('\n') + '\n  condition: sel\n');
show('flowlist', head + 'detection:\n  sel:\n    userAgent: [' + Array.from({ length: 90000 }, (_, i) => `v${i}`).join(',') + ']\n  condition: sel\n');
show('bigcount', head + "detection:\n  sel:\n    userAgent|re: 'a{5000}'\n  condition: sel\n");
show('wild', head + "detection:\n  sel:\n    userAgent: '" + '*a'.repeat(5000) + "'\n  condition: sel\n");
