/** `secbot rules check` and `secbot rules test`. */
import { loadConfig } from '../config/index.js';
import { BUNDLED_RULES_DIR, checkRuleDirs, loadRuleDirs } from '../rules/loader.js';
import { runRuleTests } from '../rules/testing.js';
import { formatRuleIssue, type RuleSet } from '../rules/types.js';

/** The rule folders to use: --rules, else SECBOT_RULES, else the bundled rules. */
export function ruleDirs(flag: string[] | undefined): string[] {
  if (flag && flag.length > 0) return flag;
  return loadConfig().rulesDirs ?? [BUNDLED_RULES_DIR];
}

export async function loadRulesForCli(flag: string[] | undefined): Promise<RuleSet> {
  return loadRuleDirs(ruleDirs(flag));
}

export async function runRulesCheck(flag: string[] | undefined): Promise<number> {
  const dirs = ruleDirs(flag);
  const { ruleSet, issues } = await checkRuleDirs(dirs);
  for (const issue of issues) process.stdout.write(`${formatRuleIssue(issue)}\n`);
  const errors = issues.filter((i) => i.severity === 'error').length;
  const warnings = issues.length - errors;
  process.stdout.write(
    `${ruleSet.rules.length} rules loaded from ${dirs.join(', ')}: ${errors} errors, ${warnings} warnings\n`,
  );
  return errors > 0 ? 1 : 0;
}

export async function runRulesTest(flag: string[] | undefined): Promise<number> {
  const ruleSet = await loadRulesForCli(flag);
  const report = runRuleTests(ruleSet);
  for (const f of report.failures)
    process.stdout.write(`FAIL ${f.file} [${f.ruleId}] ${f.test}: ${f.message}\n`);
  for (const u of report.untested) process.stdout.write(`MISSING ${u.file} [${u.ruleId}]: no ${u.missing}\n`);
  const failed = report.failures.length + report.untested.length;
  process.stdout.write(
    `rules test: ${report.rules} rules, ${report.cases} cases\n${report.passed} passed, ${failed} failed\n`,
  );
  return failed > 0 ? 1 : 0;
}
