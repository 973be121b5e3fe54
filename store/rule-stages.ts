/**
 * Staged rules: staff overrides of a rule file's stage (`/secbot promote | demote`), and the distinct
 * engineers each rule asked (live) or would have asked (staged) per day. See schema.ts for the layout.
 */
import { PutItemCommand, UpdateItemCommand } from '@aws-sdk/client-dynamodb';
import type { RuleStage } from '../rules/types.js';
import { attempt, CONDITION_FAILED, queryAll, read, type StoreContext, ttlAfter } from './context.js';
import { Expr, toItem, Update } from './marshal.js';
import { keys } from './schema.js';
import type { RuleEngineers, RuleStageOverride } from './types.js';

/** At most this many engineers are kept per rule, day and set (a count beyond reads "at least"). */
export const RULE_ENGINEERS_CAP = 500;
const RULE_ID = /^[A-Za-z0-9._-]{1,128}$/;
const DAY = /^\d{4}-\d{2}-\d{2}$/;

export async function setRuleStage(
  ctx: StoreContext,
  ruleId: string,
  input: { stage: RuleStage; by: string; at: Date },
): Promise<RuleStageOverride> {
  if (!RULE_ID.test(ruleId)) throw new TypeError(`bad rule id ${JSON.stringify(ruleId)}`);
  const item: RuleStageOverride = { ruleId, stage: input.stage, by: input.by, at: input.at.toISOString() };
  await attempt('setRuleStage', () =>
    ctx.client.send(
      new PutItemCommand({
        TableName: ctx.table,
        Item: toItem({ ...keys.ruleStage(ruleId), entity: 'rule_stage', ...item }),
      }),
    ),
  );
  return item;
}

export async function listRuleStages(ctx: StoreContext): Promise<RuleStageOverride[]> {
  const x = new Expr();
  const rows = await queryAll(ctx, 'listRuleStages', {
    KeyConditionExpression: `${x.name('pk')} = ${x.value(keys.ruleStages)}`,
    ...x.params(),
  });
  return rows
    .filter((r) => r.entity === 'rule_stage')
    .map((r) => ({
      ruleId: read.str(r, 'ruleId') ?? '',
      stage: read.str(r, 'stage') === 'shadow' ? 'shadow' : 'live',
      by: read.str(r, 'by') ?? '',
      at: read.str(r, 'at') ?? '',
    }));
}

/**
 * Add engineers to a rule's day: `asked` (live notify) and `wouldAsk` (staged would-notify), each a
 * string set (ADD). A set at its cap is left as it is (the condition fails; the figure reads "at least").
 */
export async function addRuleEngineers(
  ctx: StoreContext,
  day: string,
  ruleId: string,
  engineers: { asked?: readonly string[]; wouldAsk?: readonly string[] },
): Promise<void> {
  if (!DAY.test(day)) throw new TypeError(`day must be YYYY-MM-DD, got ${JSON.stringify(day)}`);
  if (!RULE_ID.test(ruleId)) return;
  for (const field of ['asked', 'wouldAsk'] as const) {
    const names = [...new Set(engineers[field] ?? [])].filter((e) => e !== '').slice(0, RULE_ENGINEERS_CAP);
    if (names.length === 0) continue;
    const x = new Expr();
    const u = new Update(x).assign({
      entity: 'rule_day',
      ruleId,
      day,
      ttl: ttlAfter(`${day}T00:00:00.000Z`, ctx.retention.counterDays),
    });
    // A string set: Expr marshals arrays as lists, so this one value is written by hand.
    const set = ':engineers';
    u.add.push(`${x.name(field)} ${set}`);
    const cond = `attribute_not_exists(${x.name(field)}) OR size(${x.name(field)}) < ${x.value(RULE_ENGINEERS_CAP)}`;
    const params = x.params();
    const r = await attempt('addRuleEngineers', () =>
      ctx.client.send(
        new UpdateItemCommand({
          TableName: ctx.table,
          Key: toItem(keys.ruleDay(day, ruleId)),
          UpdateExpression: u.toString(),
          ConditionExpression: cond,
          ExpressionAttributeNames: params.ExpressionAttributeNames,
          ExpressionAttributeValues: { ...params.ExpressionAttributeValues, [set]: { SS: names } },
        }),
      ),
    );
    if (r === CONDITION_FAILED) ctx.logger?.debug(`rule ${ruleId}: ${field} engineers of ${day} at the cap`);
  }
}

/** Distinct engineers per rule over `days`. */
export async function readRuleEngineers(
  ctx: StoreContext,
  days: readonly string[],
): Promise<Map<string, RuleEngineers>> {
  const out = new Map<string, RuleEngineers>();
  for (const day of new Set(days)) {
    if (!DAY.test(day)) throw new TypeError(`day must be YYYY-MM-DD, got ${JSON.stringify(day)}`);
    const x = new Expr();
    const rows = await queryAll(ctx, 'readRuleEngineers', {
      KeyConditionExpression: `${x.name('pk')} = ${x.value(keys.ruleDayPk(day))}`,
      ...x.params(),
    });
    for (const r of rows) {
      const ruleId = read.str(r, 'ruleId');
      if (!ruleId) continue;
      const e = out.get(ruleId) ?? { asked: new Set<string>(), wouldAsk: new Set<string>(), capped: false };
      const asked = read.strings(r, 'asked');
      const wouldAsk = read.strings(r, 'wouldAsk');
      for (const a of asked) e.asked.add(a);
      for (const w of wouldAsk) e.wouldAsk.add(w);
      if (asked.length >= RULE_ENGINEERS_CAP || wouldAsk.length >= RULE_ENGINEERS_CAP) e.capped = true;
      out.set(ruleId, e);
    }
  }
  return out;
}
