/**
 * secbot's extension block. Plain Sigma tools ignore the unknown top-level `secbot:` key, so a rule
 * stays a valid Sigma rule; secbot reads it for what Sigma cannot say:
 *
 * ```yaml
 * secbot:
 *   action: notify        # log | notify | alert. Optional; else from `level`:
 *                         #   informational/low → log, medium → notify, high/critical → alert
 *   runbook: One line the responder should do.
 *   reason: "{eventName} attached {requestParameters.policyArn} to {requestParameters.userName}"
 *                         # optional template; placeholders are dotted field paths (rendered by rules/reason.ts)
 *   on_failure: keep      # log (default) | keep: does a failed call (errorCode set) keep the action?
 *   within:               # "one element" scoping, see below
 *     selection_open_world: requestParameters.ipPermissions.items
 *   tests:                # run by `secbot rules test`
 *     - name: opens port 22 to the world
 *       fires: true
 *       action: alert     # optional: the action decide() must reach with the default policy
 *       record: { eventName: AuthorizeSecurityGroupIngress, requestParameters: { … } }
 *     - name: internal range
 *       fires: false
 *       record: { … }
 *   stage: shadow         # optional: live | shadow. shadow (staged): decided and recorded, nothing sent,
 *                         # would-be DMs and pages counted. Default: shadow for Sigma status test or
 *                         # experimental, else live. Staff override it with /secbot promote | demote.
 *   remediation: revoke_security_group_ingress   # optional: a one-click inverse staff may run from
 *                         # the alert (a kind of remediation/types.ts RULE_REMEDIATIONS, or a list of them)
 *   eventbridge:          # only for rules that pin no eventSource/eventName: the EventBridge pattern
 *     userIdentity:       # (for `detail`) that delivers every call the rule can match
 *       type: [Root]
 * ```
 *
 * `within: { S: P }` — Sigma resolves every field independently with "any array element" semantics,
 * so `fromPort: 22` and `cidrIp: 0.0.0.0/0` would match when they come from two different
 * permissions. With `within`, the fields of selection S whose names start with `P.` are evaluated
 * relative to each element of the array(s) at P, and S matches only when ONE element satisfies all of
 * them (S's other fields are evaluated as usual). A plain Sigma tool that ignores the block fires
 * on a superset of what secbot fires on, which errs on the safe side.
 */
import {
  isRuleRemediationKind,
  RULE_REMEDIATION_KINDS,
  type RuleRemediationKind,
} from '../../remediation/types.js';
import type { Action, OnFailure, RuleStage, RuleTestCase, SigmaLevel } from '../types.js';
import { ACTIONS, RULE_STAGES } from '../types.js';
import { fieldNameProblem } from './fieldpath.js';
import type { Reporter } from './report.js';
import { type Pos, toPlain, type YMap, type YNode } from './yaml.js';

export interface Extension {
  action?: Action;
  runbook?: string;
  reason?: string;
  onFailure: OnFailure;
  /** selection name → array path, with the positions for later validation. */
  within: { selection: string; path: string; pos: Pos }[];
  /** A hand-written EventBridge pattern for `detail`, for rules that pin no event source or name. */
  eventbridge?: Record<string, unknown>;
  /** `secbot.remediation`: the one-click inverses staff may run from the alert, with where each is written. */
  remediations: { kind: RuleRemediationKind; pos: Pos }[];
  tests: RuleTestCase[];
  /** `secbot.stage`, when written. */
  stage?: RuleStage;
}

const KEYS = new Set([
  'action',
  'runbook',
  'reason',
  'on_failure',
  'within',
  'tests',
  'eventbridge',
  'remediation',
  'stage',
]);

export const actionForLevel = (level: SigmaLevel): Action =>
  level === 'informational' || level === 'low' ? 'log' : level === 'medium' ? 'notify' : 'alert';

const PLACEHOLDER = /\{([^{}]*)\}/g;

/**
 * Checks a reason template: balanced braces, each placeholder a dotted field path with an optional
 * `|filter` (rendering and filters live in rules/reason.ts).
 */
export function templateProblem(template: string): string | undefined {
  let problem: string | undefined;
  const stripped = template.replace(PLACEHOLDER, (_m, inner: string) => {
    const path = inner.split('|')[0]?.trim() ?? '';
    problem ??= fieldNameProblem(path) && `placeholder {${inner}}: ${fieldNameProblem(path)}`;
    return '';
  });
  if (problem) return problem;
  if (stripped.includes('{') || stripped.includes('}')) return 'unbalanced { or } in template';
  return undefined;
}

export function parseExtension(node: YNode | undefined, rep: Reporter): Extension {
  const ext: Extension = { onFailure: 'log', within: [], tests: [], remediations: [] };
  if (node === undefined) return ext;
  if (node.kind !== 'map') {
    rep.error(node.pos, "'secbot' must be a map");
    return ext;
  }
  for (const e of node.entries) {
    if (!KEYS.has(e.key)) {
      rep.error(e.keyPos, `unknown key 'secbot.${e.key}' (expected one of ${[...KEYS].join(', ')})`);
      continue;
    }
    const v = e.value;
    switch (e.key) {
      case 'action':
        if (
          v.kind === 'scalar' &&
          typeof v.value === 'string' &&
          (ACTIONS as readonly string[]).includes(v.value)
        ) {
          ext.action = v.value as Action;
        } else rep.error(v.pos, `secbot.action must be one of ${ACTIONS.join(', ')}`);
        break;
      case 'runbook':
        if (v.kind === 'scalar' && typeof v.value === 'string' && v.value.trim() !== '')
          ext.runbook = v.value.trim();
        else rep.error(v.pos, 'secbot.runbook must be a non-empty string');
        break;
      case 'reason':
        if (v.kind === 'scalar' && typeof v.value === 'string') {
          const bad = templateProblem(v.value);
          if (bad) rep.error(v.pos, `secbot.reason: ${bad}`);
          else ext.reason = v.value;
        } else rep.error(v.pos, 'secbot.reason must be a string');
        break;
      case 'on_failure':
        if (v.kind === 'scalar' && (v.value === 'log' || v.value === 'keep')) ext.onFailure = v.value;
        else rep.error(v.pos, "secbot.on_failure must be 'log' or 'keep'");
        break;
      case 'within':
        parseWithin(v, ext, rep);
        break;
      case 'tests':
        parseTests(v, ext, rep);
        break;
      case 'remediation':
        parseRemediation(v, ext, rep);
        break;
      case 'stage':
        if (v.kind === 'scalar' && (RULE_STAGES as readonly unknown[]).includes(v.value))
          ext.stage = v.value as RuleStage;
        else rep.error(v.pos, `secbot.stage must be one of ${RULE_STAGES.join(', ')}`);
        break;
      case 'eventbridge':
        if (v.kind === 'map' && v.entries.length > 0) ext.eventbridge = toPlain(v) as Record<string, unknown>;
        else
          rep.error(
            v.pos,
            'secbot.eventbridge must be a map: an EventBridge pattern for the record (`detail`)',
          );
        break;
    }
  }
  return ext;
}

/** `remediation: kind` or `remediation: [kind, …]`, each a known kind, once. */
function parseRemediation(v: YNode, ext: Extension, rep: Reporter): void {
  const nodes = v.kind === 'seq' ? v.items : [v];
  if (nodes.length === 0) rep.error(v.pos, 'secbot.remediation must name at least one remediation');
  for (const n of nodes) {
    const kind = n.kind === 'scalar' ? n.value : undefined;
    if (!isRuleRemediationKind(kind)) {
      rep.error(
        n.pos,
        `secbot.remediation: ${JSON.stringify(kind ?? null)} is not a remediation (expected one of ${RULE_REMEDIATION_KINDS.join(', ')})`,
      );
    } else if (ext.remediations.some((r) => r.kind === kind)) {
      rep.warn(n.pos, `secbot.remediation names ${kind} twice`);
    } else {
      ext.remediations.push({ kind, pos: n.pos });
    }
  }
}

function parseWithin(v: YNode, ext: Extension, rep: Reporter): void {
  if (v.kind !== 'map') {
    rep.error(v.pos, 'secbot.within must map a selection name to an array field path');
    return;
  }
  for (const e of v.entries) {
    if (e.value.kind !== 'scalar' || typeof e.value.value !== 'string') {
      rep.error(e.value.pos, `secbot.within.${e.key} must be a field path`);
      continue;
    }
    const path = e.value.value.trim();
    const bad = fieldNameProblem(path) ?? (path.includes('|') ? 'a path takes no modifiers' : undefined);
    if (bad) {
      rep.error(e.value.pos, `secbot.within.${e.key}: ${bad}`);
      continue;
    }
    ext.within.push({ selection: e.key, path, pos: e.keyPos });
  }
}

function parseTests(v: YNode, ext: Extension, rep: Reporter): void {
  if (v.kind !== 'seq') {
    rep.error(v.pos, 'secbot.tests must be a list');
    return;
  }
  v.items.forEach((item, idx) => {
    const label = `secbot.tests[${idx}]`;
    if (item.kind !== 'map') {
      rep.error(item.pos, `${label} must be a map with name, fires and record`);
      return;
    }
    const t = testCase(item, label, rep);
    if (t) ext.tests.push(t);
  });
}

function testCase(item: YMap, label: string, rep: Reporter): RuleTestCase | undefined {
  let name: string | undefined;
  let fires: boolean | undefined;
  let action: Action | undefined;
  let record: Record<string, unknown> | undefined;
  let ok = true;
  for (const e of item.entries) {
    const v = e.value;
    switch (e.key) {
      case 'name':
        if (v.kind === 'scalar' && typeof v.value === 'string' && v.value !== '') name = v.value;
        else {
          rep.error(v.pos, `${label}.name must be a non-empty string`);
          ok = false;
        }
        break;
      case 'fires':
        if (v.kind === 'scalar' && typeof v.value === 'boolean') fires = v.value;
        else {
          rep.error(v.pos, `${label}.fires must be true or false`);
          ok = false;
        }
        break;
      case 'action':
        if (
          v.kind === 'scalar' &&
          typeof v.value === 'string' &&
          (ACTIONS as readonly string[]).includes(v.value)
        ) {
          action = v.value as Action;
        } else {
          rep.error(v.pos, `${label}.action must be one of ${ACTIONS.join(', ')}`);
          ok = false;
        }
        break;
      case 'record':
        if (v.kind === 'map') record = toPlain(v) as Record<string, unknown>;
        else {
          rep.error(v.pos, `${label}.record must be a map (a partial CloudTrail record)`);
          ok = false;
        }
        break;
      default:
        rep.error(e.keyPos, `${label}: unknown key '${e.key}' (expected name, fires, action, record)`);
        ok = false;
    }
  }
  const label2 = name ? `${label} '${name}'` : label;
  if (name === undefined && ok) rep.error(item.pos, `${label} needs a name`);
  if (fires === undefined && ok) rep.error(item.pos, `${label2} needs fires: true or fires: false`);
  if (record === undefined && ok) rep.error(item.pos, `${label2} needs a record`);
  if (action !== undefined && fires === false)
    rep.warn(item.pos, `${label2}: action is only checked when fires is true`);
  if (!ok || name === undefined || fires === undefined || record === undefined) return undefined;
  return action === undefined ? { name, fires, record } : { name, fires, record, action };
}
