/** `secbot eventbridge-pattern`: the pattern on stdout, rules that widen it on stderr. */
import { buildEventBridgePattern } from '../rules/eventbridge.js';
import { loadRulesForCli } from './rules.js';

export async function runEventBridgePattern(flag: string[] | undefined): Promise<number> {
  const ruleSet = await loadRulesForCli(flag);
  const { pattern, broadRules } = buildEventBridgePattern(ruleSet);
  for (const b of broadRules) {
    process.stderr.write(`warning: rule ${b.ruleId} (${b.file}) can match ${b.scope}\n`);
  }
  process.stdout.write(`${JSON.stringify(pattern, null, 2)}\n`);
  return 0;
}
