/** Collects the issues found while compiling one rule file, each with its position. */
import type { RuleIssue } from '../types.js';
import type { Pos } from './yaml.js';

export class Reporter {
  readonly issues: RuleIssue[] = [];
  ruleId: string | undefined;

  constructor(readonly file: string) {}

  error(pos: Pos, message: string): void {
    this.push('error', pos, message);
  }

  warn(pos: Pos, message: string): void {
    this.push('warning', pos, message);
  }

  get hasErrors(): boolean {
    return this.issues.some((i) => i.severity === 'error');
  }

  private push(severity: RuleIssue['severity'], pos: Pos, message: string): void {
    const issue: RuleIssue = { severity, file: this.file, message };
    if (pos.line !== undefined) issue.line = pos.line;
    if (pos.column !== undefined) issue.column = pos.column;
    if (this.ruleId !== undefined) issue.ruleId = this.ruleId;
    this.issues.push(issue);
  }
}
