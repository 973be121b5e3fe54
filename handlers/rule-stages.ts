/**
 * Staged rules for staff: `/secbot rules` (every rule's stage and figures) and `/secbot promote | demote`
 * (a stage override kept in DynamoDB over the rule file's default, read by the next drain run).
 *
 * Figures are over the last 7 UTC days, from the per-day counters and the per-day engineer sets:
 * - live rules: calls matched (`rule.<id>.<action>`), questions asked (`rule.<id>.notify`), distinct
 *   engineers asked, and of the questions that closed, the share confirmed versus escalated;
 * - staged rules: matches (`rule.<id>.staged.match`), would-be questions and alerts
 *   (`…staged.would_notify | would_alert`), would-be pages, and distinct engineers it would have asked.
 * A rule that changed stage within the window shows both.
 */
import { auditEvent } from '../audit/ecs.js';
import type { AuditTrail } from '../audit/trail.js';
import type { Action, Rule, RuleStage } from '../rules/types.js';
import type { Store } from '../store/store.js';
import type { RuleStageOverride } from '../store/types.js';
import { echo } from './commands.js';
import { lastDays } from './metrics.js';

export interface RuleCommandDeps {
  store: Store;
  rules: readonly Rule[];
  audit: AuditTrail;
  clock?: () => Date;
}

/** One rule as `/secbot rules` shows it. */
export interface RuleFigures {
  ruleId: string;
  title: string;
  action: Action;
  /** The rule file's stage, and the stage in force (an override, if staff set one). */
  fileStage: RuleStage;
  stage: RuleStage;
  override?: RuleStageOverride;
  live: {
    matches: number;
    asked: number;
    engineers: number;
    confirmed: number;
    escalated: number;
    /** confirmed / (confirmed + escalated), when any question closed. */
    confirmedShare?: number;
  };
  staged: {
    matches: number;
    wouldNotify: number;
    wouldAlert: number;
    wouldPage: number;
    /** Distinct engineers it would have asked. */
    engineers: number;
  };
  /** An engineer set reached its cap on some day: the counts are at least those shown. */
  engineersCapped: boolean;
}

export interface RulesReport {
  at: string;
  days: number;
  rules: RuleFigures[];
}

export const RULES_DAYS = 7;

/**
 * Every rule with its stage and figures; staged rules first, then by matches (audited: `rules.viewed`).
 *
 * @example const report = await gatherRules(deps, 'U0STAFF');
 */
export async function gatherRules(deps: RuleCommandDeps, actor: string): Promise<RulesReport> {
  const now = deps.clock?.() ?? new Date();
  const days = lastDays(now, RULES_DAYS);
  const [overrides, counters, engineers] = await Promise.all([
    deps.store.listRuleStages(),
    deps.store.readCounters(days),
    deps.store.readRuleEngineers(days),
  ]);
  const byId = new Map(overrides.map((o) => [o.ruleId, o]));
  const n = (name: string) => counters[name] ?? 0;
  const rules = deps.rules.map((r): RuleFigures => {
    const override = byId.get(r.id);
    const fileStage = r.stage ?? 'live';
    const e = engineers.get(r.id);
    const confirmed = n(`rule.${r.id}.confirmed`);
    const escalated = n(`rule.${r.id}.escalated`);
    return {
      ruleId: r.id,
      title: r.title,
      action: r.action,
      fileStage,
      stage: override?.stage ?? fileStage,
      override,
      live: {
        matches: n(`rule.${r.id}.log`) + n(`rule.${r.id}.notify`) + n(`rule.${r.id}.alert`),
        asked: n(`rule.${r.id}.notify`),
        engineers: e?.asked.size ?? 0,
        confirmed,
        escalated,
        confirmedShare: confirmed + escalated > 0 ? confirmed / (confirmed + escalated) : undefined,
      },
      staged: {
        matches: n(`rule.${r.id}.staged.match`),
        wouldNotify: n(`rule.${r.id}.staged.would_notify`),
        wouldAlert: n(`rule.${r.id}.staged.would_alert`),
        wouldPage: n(`rule.${r.id}.staged.would_page`),
        engineers: e?.wouldAsk.size ?? 0,
      },
      engineersCapped: e?.capped ?? false,
    };
  });
  const activity = (f: RuleFigures) => f.live.matches + f.staged.matches;
  rules.sort(
    (a, b) =>
      (a.stage === b.stage ? 0 : a.stage === 'shadow' ? -1 : 1) ||
      activity(b) - activity(a) ||
      (a.ruleId < b.ruleId ? -1 : a.ruleId > b.ruleId ? 1 : 0),
  );
  deps.audit.write(
    auditEvent({
      action: 'rules.viewed',
      outcome: 'success',
      category: ['configuration'],
      message: `${actor} viewed /secbot rules`,
      actor,
      at: now,
    }),
  );
  return { at: now.toISOString(), days: RULES_DAYS, rules };
}

export type StageChange =
  | { ok: true; changed: boolean; rule: Rule; from: RuleStage; to: RuleStage; override?: RuleStageOverride }
  | { ok: false; problem: string };

/** The rule with this id (exactly, else ignoring case, as rule ids are unique ignoring case). */
export function findRule(rules: readonly Rule[], id: string): Rule | undefined {
  return rules.find((r) => r.id === id) ?? rules.find((r) => r.id.toLowerCase() === id.toLowerCase());
}

/**
 * `/secbot promote | demote`: set a rule's stage (from the next drain run), audited with who did it.
 * An unknown rule id changes nothing and says so (the caller answers with the usage).
 *
 * @example await setStageFor(deps, { actor: 'U0STAFF', ruleId: 'iam-create-access-key', stage: 'live' })
 */
export async function setStageFor(
  deps: RuleCommandDeps,
  input: { actor: string; ruleId: string; stage: RuleStage },
): Promise<StageChange> {
  const now = deps.clock?.() ?? new Date();
  const rule = findRule(deps.rules, input.ruleId);
  if (!rule)
    return { ok: false, problem: `there is no rule ${echo(input.ruleId)} (\`/secbot rules\` lists them)` };
  const current = (await deps.store.listRuleStages()).find((o) => o.ruleId === rule.id);
  const from = current?.stage ?? rule.stage ?? 'live';
  const verb = input.stage === 'live' ? 'promoted' : 'demoted';
  if (from === input.stage) {
    deps.audit.write(
      auditEvent({
        action: `rule.${verb}`,
        outcome: 'unknown',
        category: ['configuration'],
        message: `${input.actor} asked to make rule ${rule.id} ${input.stage}; it already was (nothing changed)`,
        actor: input.actor,
        at: now,
        secbot: { rule_id: rule.id, stage: input.stage, changed: false },
      }),
    );
    return { ok: true, changed: false, rule, from, to: input.stage, override: current };
  }
  const override = await deps.store.setRuleStage(rule.id, { stage: input.stage, by: input.actor, at: now });
  deps.audit.write(
    auditEvent({
      action: `rule.${verb}`,
      outcome: 'success',
      category: ['configuration'],
      message: `${input.actor} ${verb} rule ${rule.id}: ${from} → ${input.stage} (the file says ${rule.stage ?? 'live'})`,
      actor: input.actor,
      at: now,
      secbot: { rule_id: rule.id, stage: input.stage, from, file_stage: rule.stage ?? 'live', changed: true },
    }),
  );
  return { ok: true, changed: true, rule, from, to: input.stage, override };
}
