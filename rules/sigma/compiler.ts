/** Compiles one Sigma rule file (with secbot's extension block) into a Rule, or reports why it cannot. */
import type { CloudTrailRecord } from '../../cloudtrail/record.js';
import { RULE_REMEDIATIONS } from '../../remediation/types.js';
import type { Rule, RuleIssue, SigmaLevel, SigmaStatus } from '../types.js';
import { compileDetection } from './detection.js';
import { actionForLevel, parseExtension } from './extension.js';
import { Reporter } from './report.js';
import { entry, type Pos, parseRuleYaml, type YMap, type YNode } from './yaml.js';

const LEVELS: readonly SigmaLevel[] = ['informational', 'low', 'medium', 'high', 'critical'];
const STATUSES: readonly SigmaStatus[] = ['stable', 'test', 'experimental', 'deprecated', 'unsupported'];

export interface CompileResult {
  rule?: Rule;
  issues: RuleIssue[];
  /** Where the rule's id is written, for duplicate-id reports. */
  idPos?: Pos;
  /** The compiled detection without `matches`' safety net, for tests that prove it does not throw. */
  evaluate?: (record: unknown) => boolean;
}

/** Compiles the rule in `text` (one YAML document) read from `file`. */
export function compileRuleFile(file: string, text: string): CompileResult {
  const rep = new Reporter(file);
  const { root, problems } = parseRuleYaml(text);
  for (const p of problems) (p.severity === 'error' ? rep.error : rep.warn).call(rep, p.pos, p.message);
  if (!root) return { issues: rep.issues };
  if (root.kind !== 'map') {
    rep.error(root.pos, 'a rule file must hold a YAML map (title, id, logsource, detection, …)');
    return { issues: rep.issues };
  }

  const idEntry = entry(root, 'id');
  const id = requiredString(root, 'id', rep);
  if (id !== undefined) rep.ruleId = id;
  const title = requiredString(root, 'title', rep);
  const description = optionalString(root, 'description', rep);
  const status = enumValue(root, 'status', STATUSES, rep, 'warning');
  const level = enumValue(root, 'level', LEVELS, rep, 'error');
  const tags = stringList(root, 'tags', rep);
  const falsepositives = stringList(root, 'falsepositives', rep);
  checkLogsource(root, rep);
  const ext = parseExtension(entry(root, 'secbot')?.value, rep);

  const detectionEntry = entry(root, 'detection');
  if (!detectionEntry) rep.error(root.pos, "missing 'detection'");
  const detection = detectionEntry ? compileDetection(detectionEntry.value, ext.within, rep) : undefined;

  const action = ext.action ?? (level ? actionForLevel(level) : undefined);
  if (action === undefined && !rep.hasErrors) {
    rep.error(root.pos, "the rule needs a 'level' or a 'secbot.action' to decide what to do on a match");
  }
  const idPos = idEntry?.keyPos;
  if (rep.hasErrors || !detection || id === undefined || title === undefined || action === undefined) {
    return idPos ? { issues: rep.issues, idPos } : { issues: rep.issues };
  }

  const test = detection.matches;
  const rule: Rule = {
    id,
    title,
    action,
    onFailure: ext.onFailure,
    tags,
    falsepositives,
    file,
    tests: ext.tests,
    // Staged: written so, else a Sigma rule still being tried out (status test / experimental).
    stage: ext.stage ?? (status === 'test' || status === 'experimental' ? 'shadow' : 'live'),
    matches(record: CloudTrailRecord): boolean {
      try {
        return test(record);
      } catch {
        // Compiled tests do not throw on JSON data; this only guards the contract.
        return false;
      }
    },
  };
  // The compiled test itself, without a wrapper: its caller (decide) guards it, as `matches` does here.
  if (detection.matchesCandidate) rule.matchesCandidate = detection.matchesCandidate;
  const line = (entry(root, 'title') ?? idEntry)?.keyPos.line;
  if (line !== undefined) rule.line = line;
  if (description !== undefined) rule.description = description;
  if (status !== undefined) rule.status = status;
  if (level !== undefined) rule.level = level;
  if (ext.runbook !== undefined) rule.runbook = ext.runbook;
  if (ext.reason !== undefined) rule.reason = ext.reason;
  if (detection.eventSources) rule.eventSources = detection.eventSources;
  if (detection.eventNames) rule.eventNames = detection.eventNames;
  if (detection.identityTypes) rule.identityTypes = detection.identityTypes;
  if (detection.indexFilter) rule.indexFilter = detection.indexFilter;
  if (ext.eventbridge) rule.eventbridge = ext.eventbridge;
  if (ext.remediations.length > 0) {
    // A remediation undoes named calls: one the rule can never match is a mistake in the rule.
    for (const r of ext.remediations) {
      const undoes: readonly string[] = RULE_REMEDIATIONS[r.kind];
      if (detection.eventNames && !detection.eventNames.some((n) => undoes.includes(n))) {
        rep.error(
          r.pos,
          `secbot.remediation ${r.kind} undoes ${undoes.join(', ')}, which this rule never matches`,
        );
      }
    }
    if (rep.hasErrors) return idPos ? { issues: rep.issues, idPos } : { issues: rep.issues };
    rule.remediations = ext.remediations.map((r) => r.kind);
  }
  return idPos
    ? { rule, issues: rep.issues, idPos, evaluate: test }
    : { rule, issues: rep.issues, evaluate: test };
}

function scalarString(node: YNode): string | undefined {
  return node.kind === 'scalar' && typeof node.value === 'string' ? node.value : undefined;
}

function requiredString(root: YMap, key: string, rep: Reporter): string | undefined {
  const e = entry(root, key);
  if (!e) {
    rep.error(root.pos, `missing '${key}'`);
    return undefined;
  }
  const s = scalarString(e.value)?.trim();
  if (!s) {
    rep.error(e.value.pos, `'${key}' must be a non-empty string`);
    return undefined;
  }
  return s;
}

function optionalString(root: YMap, key: string, rep: Reporter): string | undefined {
  const e = entry(root, key);
  if (!e || (e.value.kind === 'scalar' && e.value.value === null)) return undefined;
  const s = scalarString(e.value);
  if (s === undefined) rep.warn(e.value.pos, `'${key}' should be a string; ignored`);
  return s;
}

function enumValue<T extends string>(
  root: YMap,
  key: string,
  allowed: readonly T[],
  rep: Reporter,
  severity: 'error' | 'warning',
): T | undefined {
  const e = entry(root, key);
  if (!e) return undefined;
  const s = scalarString(e.value);
  if (s !== undefined && (allowed as readonly string[]).includes(s)) return s as T;
  const msg = `'${key}' must be one of ${allowed.join(', ')}${severity === 'warning' ? '; ignored' : ''}`;
  if (severity === 'error') rep.error(e.value.pos, msg);
  else rep.warn(e.value.pos, msg);
  return undefined;
}

function stringList(root: YMap, key: string, rep: Reporter): string[] {
  const e = entry(root, key);
  if (!e || (e.value.kind === 'scalar' && e.value.value === null)) return [];
  if (e.value.kind !== 'seq') {
    rep.warn(e.value.pos, `'${key}' should be a list of strings; ignored`);
    return [];
  }
  const out: string[] = [];
  for (const item of e.value.items) {
    const s = item.kind === 'scalar' && item.value !== null ? String(item.value) : undefined;
    if (s === undefined) rep.warn(item.pos, `'${key}' entries should be strings; entry ignored`);
    else out.push(s);
  }
  return out;
}

function checkLogsource(root: YMap, rep: Reporter): void {
  const e = entry(root, 'logsource');
  if (!e) {
    rep.error(root.pos, "missing 'logsource' (secbot reads product: aws, service: cloudtrail)");
    return;
  }
  if (e.value.kind !== 'map') {
    rep.error(e.value.pos, "'logsource' must be a map with product: aws and service: cloudtrail");
    return;
  }
  const product = entry(e.value, 'product');
  const service = entry(e.value, 'service');
  const p = product ? scalarString(product.value) : undefined;
  const s = service ? scalarString(service.value) : undefined;
  if (p !== 'aws' || s !== 'cloudtrail') {
    rep.error(
      (p !== 'aws' ? product?.value.pos : service?.value.pos) ?? e.keyPos,
      `logsource is product: ${p ?? '(none)'}, service: ${s ?? '(none)'}; secbot only evaluates product: aws, service: cloudtrail`,
    );
  }
}
