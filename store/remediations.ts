/**
 * Remediations on an alert item. They are stored as a map `remediations.<id>` (not a list) so that
 * each one changes by a conditional write on its own path: a claim (`available → running`) succeeds
 * once, whoever presses and whichever replica runs it.
 */
import { createHash } from 'node:crypto';
import { UpdateItemCommand } from '@aws-sdk/client-dynamodb';
import { planKey, type RemediationGap, type RemediationPlan } from '../remediation/types.js';
// alerts.ts imports this module too; toAlert is only called at run time, so the cycle is harmless.
import { toAlert } from './alerts.js';
import { attempt, CONDITION_FAILED, getRaw, read, type StoreContext } from './context.js';
import { AlreadyDecidedError, NotFoundError } from './errors.js';
import { Expr, fromItem, toItem } from './marshal.js';
import { keys } from './schema.js';
import type { AlertItem, AlertRemediation, NewAlert, RemediationChange, RemediationStatus } from './types.js';

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

/** The attributes a new alert item gets for its remediations (none when there are none). */
export function newRemediations(
  input: Pick<NewAlert, 'remediations' | 'remediationGaps'>,
): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const plans = input.remediations ?? [];
  if (plans.length > 0) {
    out.remediations = Object.fromEntries(
      plans.map((plan, i) => [
        `r${i + 1}`,
        { id: `r${i + 1}`, order: i, plan, status: 'available', attempts: 0 },
      ]),
    );
  }
  if (input.remediationGaps && input.remediationGaps.length > 0) out.remediationGaps = input.remediationGaps;
  return out;
}

/**
 * The remediations of a burst's calls, as `remediations.<id>` entries: the id is a hash of the plan (its
 * account, region, service, command and input: `planKey`), so
 * a plan two calls share is one entry (a join sets it only if absent, never resetting a running one);
 * `order` is the call's time, so they are shown in the order of the calls.
 */
export function burstRemediations(
  calls: readonly { eventTime: string; remediations?: RemediationPlan[] }[],
): { id: string; entry: Record<string, unknown> }[] {
  const out = new Map<string, Record<string, unknown>>();
  for (const c of calls) {
    const t = Date.parse(c.eventTime);
    (c.remediations ?? []).forEach((plan, i) => {
      const id = `r_${createHash('sha256').update(planKey(plan)).digest('hex').slice(0, 12)}`;
      if (!out.has(id))
        out.set(id, { id, order: (Number.isFinite(t) ? t : 0) + i, plan, status: 'available', attempts: 0 });
    });
  }
  return [...out].map(([id, entry]) => ({ id, entry }));
}

function toRemediation(raw: Record<string, unknown>): AlertRemediation | undefined {
  const id = read.str(raw, 'id');
  const plan = read.obj<RemediationPlan>(raw, 'plan');
  if (!id || !plan) return undefined;
  const last = read.obj<Record<string, unknown>>(raw, 'lastAttempt');
  const phase = read.str(raw, 'phase');
  return {
    id,
    plan,
    status: (read.str(raw, 'status') ?? 'available') as RemediationStatus,
    phase: phase === 'duo' || phase === 'executing' ? phase : undefined,
    by: read.str(raw, 'by'),
    startedAt: read.str(raw, 'startedAt'),
    finishedAt: read.str(raw, 'finishedAt'),
    outcome: read.str(raw, 'outcome'),
    requestId: read.str(raw, 'requestId'),
    attempts: read.num(raw, 'attempts'),
    lastAttempt: last
      ? { by: String(last.by ?? ''), at: String(last.at ?? ''), result: String(last.result ?? '') }
      : undefined,
  };
}

/** An alert item's remediations, in order, and its gaps; `{}` when it has neither. */
export function remediationsOf(
  raw: Record<string, unknown>,
): Pick<AlertItem, 'remediations' | 'remediationGaps'> {
  const out: Pick<AlertItem, 'remediations' | 'remediationGaps'> = {};
  const map = read.obj<Record<string, unknown>>(raw, 'remediations');
  if (map && Object.keys(map).length > 0) {
    out.remediations = Object.values(map)
      .filter(isObject)
      .sort((a, b) => read.num(a, 'order') - read.num(b, 'order'))
      .map(toRemediation)
      .filter((r): r is AlertRemediation => r !== undefined);
  }
  // A burst's calls may share a gap: each is listed once.
  const gaps = [
    ...new Map(
      read
        .list<RemediationGap>(raw, 'remediationGaps')
        .filter(isObject)
        .map((g) => [`${g.kind}|${g.eventName ?? ''}|${g.reason}`, g]),
    ).values(),
  ];
  if (gaps.length > 0) out.remediationGaps = gaps;
  return out;
}

/**
 * One conditional change of one remediation. Returns the whole alert as written; throws
 * `AlreadyDecidedError` (state: the remediation's status) when the change does not apply, and
 * `NotFoundError` when the alert or the remediation is gone.
 */
export async function transitionRemediation(
  ctx: StoreContext,
  alertId: string,
  remediationId: string,
  change: RemediationChange,
): Promise<AlertItem> {
  const x = new Expr();
  const field = (f: string) => x.path('remediations', remediationId, f);
  const sets = [`${field('status')} = ${x.value(change.to)}`];
  const removes: string[] = [];
  for (const [k, v] of Object.entries(change.set)) {
    if (v === undefined) continue;
    if (v === null) removes.push(field(k));
    else if (v instanceof Date) sets.push(`${field(k)} = ${x.value(v.toISOString())}`);
    else if (k === 'lastAttempt' && isObject(v))
      sets.push(`${field(k)} = ${x.value({ ...v, at: (v.at as Date).toISOString() })}`);
    else sets.push(`${field(k)} = ${x.value(v)}`);
  }
  if (change.countAttempt) {
    sets.push(`${field('attempts')} = if_not_exists(${field('attempts')}, ${x.value(0)}) + ${x.value(1)}`);
  }
  sets.push(`${x.name('updatedAt')} = ${x.value(change.at.toISOString())}`);

  if (change.from.length === 0) throw new TypeError('a remediation change needs at least one from status');
  let applies = `${field('status')} IN (${change.from.map((st) => x.value(st)).join(', ')})`;
  if (change.expectPhase) applies += ` AND ${field('phase')} = ${x.value(change.expectPhase)}`;
  if (change.expectBy) applies += ` AND ${field('by')} = ${x.value(change.expectBy)}`;
  if (change.staleDuoBefore) {
    applies = `(${applies}) OR (${field('status')} = ${x.value('running')} AND ${field('phase')} = ${x.value('duo')} AND ${field('startedAt')} < ${x.value(change.staleDuoBefore.toISOString())})`;
  }
  const conds = [`attribute_exists(${field('status')})`, `(${applies})`];
  if (change.alertStates) conds.push(x.oneOf('state', change.alertStates));

  const r = await attempt('transitionRemediation', () =>
    ctx.client.send(
      new UpdateItemCommand({
        TableName: ctx.table,
        Key: toItem(keys.alert(alertId)),
        UpdateExpression: `SET ${sets.join(', ')}${removes.length ? ` REMOVE ${removes.join(', ')}` : ''}`,
        ConditionExpression: conds.join(' AND '),
        ReturnValues: 'ALL_NEW',
        ...x.params(),
      }),
    ),
  );
  if (r !== CONDITION_FAILED) return toAlert(fromItem(r.Attributes ?? {}));
  const raw = await getRaw(ctx, 'transitionRemediation', keys.alert(alertId), change.at);
  const current = raw ? remediationsOf(raw).remediations?.find((rem) => rem.id === remediationId) : undefined;
  if (!raw || !current) throw new NotFoundError(`${alertId}/${remediationId}`);
  const state = read.str(raw, 'state');
  throw new AlreadyDecidedError(
    `${alertId}/${remediationId}`,
    current.status,
    change.alertStates && state && !change.alertStates.includes(state as never)
      ? `alert is ${state}`
      : undefined,
  );
}
