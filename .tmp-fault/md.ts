import { cloudtrail, md } from '../views/format.ts';
const t = md('*Why*\n' + Array.from({ length: 10 }, () => `• ${cloudtrail('<!channel> *EVIL* '.repeat(40), 280)}`).join('\n')).text;
console.log(t.length, t.slice(-80), (t.match(/`/g) ?? []).length);
