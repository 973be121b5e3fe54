/** `secbot eventbridge-pattern`: the pattern on stdout, rules that widen it on stderr. */
import { buildEventBridgePattern } from '../rules/eventbridge.js';
import { EVENT_PATTERN_MAX_CHARS, splitEventPattern } from '../rules/eventbridge-split.js';
import { loadRulesForCli } from './rules.js';

/**
 * `split`: print a JSON array of patterns of at most that many characters each (EventBridge's default
 * limit is 2048), one per EventBridge rule; without it, the one pattern.
 */
export async function runEventBridgePattern(flag: string[] | undefined, split?: string): Promise<number> {
  let maxChars: number | undefined;
  if (split !== undefined) {
    maxChars = Number(split);
    if (!Number.isInteger(maxChars) || maxChars < 100) {
      process.stderr.write(
        `secbot eventbridge-pattern: --split takes a number of characters (e.g. ${EVENT_PATTERN_MAX_CHARS})\n`,
      );
      return 2;
    }
  }
  const ruleSet = await loadRulesForCli(flag);
  const { pattern, broadRules } = buildEventBridgePattern(ruleSet);
  for (const b of broadRules) {
    process.stderr.write(`warning: rule ${b.ruleId} (${b.file}) can match ${b.scope}\n`);
  }
  const out = maxChars === undefined ? pattern : splitEventPattern(pattern, maxChars);
  process.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
  return 0;
}
