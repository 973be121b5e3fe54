/**
 * Loads rule folders: every *.yml / *.yaml file is one Sigma rule (with secbot's extension block, see
 * rules/sigma/extension.ts). Checking reports every problem with its file, line and column; loading
 * refuses a folder with any error.
 */
import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SecbotError } from '../lib/errors.js';
import { compileRuleFile } from './sigma/compiler.js';
import { buildRuleSet } from './sigma/ruleset.js';
import { MAX_RULE_FILE_BYTES } from './sigma/yaml.js';
import { formatRuleIssue, type Rule, type RuleIssue, type RuleSet } from './types.js';

/** The rules shipped with secbot. */
export const BUNDLED_RULES_DIR: string = fileURLToPath(new URL('./default', import.meta.url));

/** Rule files that cannot be loaded. The message lists every issue, one per line. */
export class RuleLoadError extends SecbotError {
  readonly code = 'rules_invalid';
  constructor(readonly issues: RuleIssue[]) {
    super(issues.map(formatRuleIssue).join('\n'));
  }
}

export interface RuleCheck {
  /** The rules that compiled (a duplicate id keeps the first file's rule). */
  ruleSet: RuleSet;
  /** Errors and warnings, in file order. */
  issues: RuleIssue[];
}

/**
 * Compiles one rule file: one file = one rule.
 *
 * @example
 * const { rule, issues } = compileRule('stop-logging.yml', text);
 * if (rule?.matches(record)) console.log(rule.action);
 */
export function compileRule(file: string, text: string): { rule?: Rule; issues: RuleIssue[] } {
  const { rule, issues } = compileRuleFile(file, text);
  return rule ? { rule, issues } : { issues };
}

/** Compiles every source, then checks that rule ids are unique across them. */
export function checkRuleSources(sources: { file: string; text: string }[]): RuleCheck {
  const issues: RuleIssue[] = [];
  const rules: Rule[] = [];
  const seen = new Map<string, string>();
  for (const { file, text } of sources) {
    const r = compileRuleFile(file, text);
    issues.push(...r.issues);
    if (!r.rule) continue;
    const key = r.rule.id.toLowerCase();
    const first = seen.get(key);
    if (first !== undefined) {
      const issue: RuleIssue = {
        severity: 'error',
        file,
        ruleId: r.rule.id,
        message: `duplicate rule id '${r.rule.id}': also used by ${first}`,
      };
      if (r.idPos?.line !== undefined) issue.line = r.idPos.line;
      if (r.idPos?.column !== undefined) issue.column = r.idPos.column;
      issues.push(issue);
      continue;
    }
    seen.set(key, file);
    rules.push(r.rule);
  }
  const warnings = issues.filter((i) => i.severity === 'warning');
  return { ruleSet: buildRuleSet(rules, warnings), issues };
}

/** Checks every *.yml / *.yaml file under each folder (recursively, in sorted order). */
export async function checkRuleDirs(dirs: string[]): Promise<RuleCheck> {
  const sources: { file: string; text: string }[] = [];
  const early: RuleIssue[] = [];
  for (const dir of dirs) {
    let files: string[];
    try {
      files = await ruleFiles(dir);
    } catch (err) {
      early.push({
        severity: 'error',
        file: dir,
        message: `cannot read rules folder: ${(err as Error).message}`,
      });
      continue;
    }
    for (const file of files) {
      try {
        const size = (await stat(file)).size;
        if (size > MAX_RULE_FILE_BYTES) {
          early.push({
            severity: 'error',
            file,
            message: `file is ${size} bytes; rule files are limited to ${MAX_RULE_FILE_BYTES} bytes`,
          });
          continue;
        }
        sources.push({ file, text: await readFile(file, 'utf8') });
      } catch (err) {
        early.push({ severity: 'error', file, message: `cannot read rule file: ${(err as Error).message}` });
      }
    }
  }
  const check = checkRuleSources(sources);
  return { ruleSet: check.ruleSet, issues: [...early, ...check.issues] };
}

/** Loads every rule under `dirs`; throws RuleLoadError when any file has an error. */
export async function loadRuleDirs(dirs: string[]): Promise<RuleSet> {
  const { ruleSet, issues } = await checkRuleDirs(dirs);
  if (issues.some((i) => i.severity === 'error')) throw new RuleLoadError(issues);
  return ruleSet;
}

const RULE_FILE = /\.ya?ml$/i;

/** Rule files under `dir`, recursively, sorted by path. Symlinked folders are not followed. */
async function ruleFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (d: string): Promise<void> => {
    const entries = await readdir(d, { withFileTypes: true });
    for (const e of entries) {
      const p = join(d, e.name);
      if (e.isDirectory()) await walk(p);
      else if (
        RULE_FILE.test(e.name) &&
        (e.isFile() || (e.isSymbolicLink() && (await stat(p).catch(() => undefined))?.isFile() === true))
      )
        out.push(p);
    }
  };
  const s = await stat(dir);
  if (!s.isDirectory()) throw new Error(`${dir} is not a folder`);
  await walk(dir);
  return out.sort();
}
