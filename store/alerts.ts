/** Alerts: idempotent creation by stable id (the PagerDuty dedup_key), the page outbox, ack / resolve. */
import { randomUUID } from 'node:crypto';
import { PutItemCommand, UpdateItemCommand } from '@aws-sdk/client-dynamodb';
import {
  attempt,
  batchGetRaw,
  CONDITION_FAILED,
  getRaw,
  historyOf,
  lastTransitionToken,
  nowSeconds,
  queryAll,
  read,
  type StoreContext,
  ttlAfter,
} from './context.js';
import { AlreadyDecidedError, NotFoundError, StoreError } from './errors.js';
import { Expr, fromItem, toItem, Update } from './marshal.js';
import { newRemediations, remediationsOf } from './remediations.js';
import { GSI1, gsi, keys } from './schema.js';
import type { AlertUpdate, ChannelOutcome } from './store.js';
import type {
  AlertItem,
  AlertKind,
  AlertSeverity,
  AlertState,
  ChannelStatus,
  MessageRef,
  NewAlert,
  PageStatus,
  Transition,
} from './types.js';

/** The alert id for a single call or an escalated verification; it is also the PagerDuty dedup_key. */
export function alertIdFor(subject: { eventId: string } | { verificationId: string }): string {
  return 'eventId' in subject ? `a_${subject.eventId}` : `a_${subject.verificationId}`;
}

export function toAlert(raw: Record<string, unknown>): AlertItem {
  return {
    id: read.str(raw, 'id') ?? '',
    kind: (read.str(raw, 'kind') ?? 'call') as AlertKind,
    verificationId: read.str(raw, 'verificationId'),
    engineerKey: read.str(raw, 'engineerKey'),
    severity: (read.str(raw, 'severity') ?? 'critical') as AlertSeverity,
    summary: read.str(raw, 'summary') ?? '',
    eventIds: read.strings(raw, 'eventIds'),
    ruleIds: read.strings(raw, 'ruleIds'),
    reasons: read.strings(raw, 'reasons'),
    page: raw.page !== false,
    state: (read.str(raw, 'state') ?? 'OPEN') as AlertState,
    createdAt: read.str(raw, 'createdAt') ?? '',
    updatedAt: read.str(raw, 'updatedAt') ?? '',
    pageStatus: (read.str(raw, 'pageStatus') ?? 'pending') as PageStatus,
    pageAttempts: read.num(raw, 'pageAttempts'),
    lastError: read.str(raw, 'lastError'),
    lastAttemptAt: read.str(raw, 'lastAttemptAt'),
    nextAttemptAt: read.str(raw, 'nextAttemptAt'),
    pageSentAt: read.str(raw, 'pageSentAt'),
    channelMessage: read.obj<MessageRef>(raw, 'channelMessage'),
    channelLink: read.str(raw, 'channelLink'),
    channelStatus: (read.str(raw, 'channelStatus') ?? 'pending') as ChannelStatus,
    history: historyOf<AlertState>(raw),
    acknowledgedBy: read.str(raw, 'acknowledgedBy'),
    resolvedBy: read.str(raw, 'resolvedBy'),
    ...remediationsOf(raw),
  };
}

/** Several alerts by id, strongly consistent, one BatchGetItem per 100 (missing ones left out). */
export async function getAlerts(ctx: StoreContext, ids: readonly string[]): Promise<AlertItem[]> {
  if (ids.length === 0) return [];
  const raws = await batchGetRaw(
    ctx,
    'getAlerts',
    [...new Set(ids)].map((id) => keys.alert(id)),
  );
  return raws.filter((r) => r.entity === 'alert').map(toAlert);
}

export async function getAlert(ctx: StoreContext, id: string): Promise<AlertItem | undefined> {
  const raw = await getRaw(ctx, 'getAlert', keys.alert(id));
  return raw && raw.entity === 'alert' ? toAlert(raw) : undefined;
}

export async function createAlert(
  ctx: StoreContext,
  input: NewAlert,
): Promise<{ alert: AlertItem; created: boolean }> {
  const id =
    input.kind === 'call'
      ? alertIdFor({ eventId: input.eventId })
      : input.kind === 'watchdog'
        ? input.alertId
        : alertIdFor({ verificationId: input.verificationId });
  const at = input.at.toISOString();
  const eventIds = input.eventIds ?? (input.kind === 'call' ? [input.eventId] : []);
  const item = {
    ...keys.alert(id),
    entity: 'alert',
    id,
    kind: input.kind,
    verificationId: input.verificationId,
    engineerKey: input.engineerKey,
    severity: input.severity,
    summary: input.summary,
    eventIds,
    ruleIds: input.ruleIds ?? [],
    reasons: input.reasons,
    page: input.page !== false,
    state: 'OPEN',
    stateKey: gsi.alertState('OPEN'),
    createdAt: at,
    updatedAt: at,
    pageStatus: 'pending',
    pageAttempts: 0,
    nextAttemptAt: at,
    channelStatus: 'pending',
    history: [],
    gsi1pk: gsi.pagePending,
    gsi1sk: at,
    ...newRemediations(input),
  };
  const x = new Expr();
  const r = await attempt('createAlert', () =>
    ctx.client.send(
      new PutItemCommand({
        TableName: ctx.table,
        Item: toItem(item),
        // An expired item that DynamoDB has not deleted yet counts as absent.
        ConditionExpression: `attribute_not_exists(${x.name('pk')}) OR ${x.name('ttl')} <= ${x.value(nowSeconds(input.at))}`,
        ...x.params(),
      }),
    ),
  );
  if (r !== CONDITION_FAILED) return { alert: toAlert(item), created: true };
  const existing = await getAlert(ctx, id);
  if (!existing) throw new StoreError('createAlert', new Error(`alert ${id} exists but cannot be read`));
  return { alert: existing, created: false };
}

export async function listDuePages(ctx: StoreContext, now: Date, limit = 100): Promise<AlertItem[]> {
  const x = new Expr();
  const rows = await queryAll(
    ctx,
    'listDuePages',
    {
      IndexName: GSI1,
      KeyConditionExpression: `${x.name('gsi1pk')} = ${x.value(gsi.pagePending)} AND ${x.name('gsi1sk')} <= ${x.value(now.toISOString())}`,
      ...x.params(),
    },
    limit,
    now,
  );
  return rows.filter((r) => r.entity === 'alert' && r.pageStatus === 'pending').map(toAlert);
}

export async function listAlerts(
  ctx: StoreContext,
  state: AlertState,
  opts: { limit?: number } = {},
): Promise<AlertItem[]> {
  const limit = opts.limit ?? 100;
  const q = async (pk: string) => {
    const x = new Expr();
    return queryAll(
      ctx,
      'listAlerts',
      {
        IndexName: GSI1,
        KeyConditionExpression: `${x.name('gsi1pk')} = ${x.value(pk)}`,
        ScanIndexForward: false,
        ...x.params(),
      },
      pk === gsi.pagePending ? undefined : limit,
    );
  };
  // Alerts whose page is still pending sit under PAGE#PENDING; they are the most urgent of all.
  const [pending, paged] = await Promise.all([q(gsi.pagePending), q(gsi.alertState(state))]);
  return [...pending, ...paged]
    .filter((r) => r.entity === 'alert' && r.state === state)
    .map(toAlert)
    .sort((a, b) => (a.createdAt < b.createdAt ? 1 : a.createdAt > b.createdAt ? -1 : 0))
    .slice(0, limit);
}

export async function markPageSent(
  ctx: StoreContext,
  id: string,
  at: Date,
  channel?: ChannelOutcome,
): Promise<boolean> {
  const x = new Expr();
  const u = new Update(x).assign({
    pageStatus: 'sent',
    pageSentAt: at.toISOString(),
    updatedAt: at.toISOString(),
    nextAttemptAt: null,
    ...channelFields(channel),
  });
  // Off the outbox, onto the by-state listing (stateKey holds `ALERT#<state>`).
  u.set.push(`${x.name('gsi1pk')} = ${x.name('stateKey')}`, `${x.name('gsi1sk')} = ${x.name('createdAt')}`);
  const r = await attempt('markPageSent', () =>
    ctx.client.send(
      new UpdateItemCommand({
        TableName: ctx.table,
        Key: toItem(keys.alert(id)),
        UpdateExpression: u.toString(),
        ConditionExpression: `${x.name('pageStatus')} = ${x.value('pending')}`,
        ...x.params(),
      }),
    ),
  );
  return r !== CONDITION_FAILED;
}

function channelFields(channel: ChannelOutcome | undefined): Record<string, unknown> {
  if (!channel) return {};
  return {
    channelStatus: channel.channelStatus,
    channelMessage: channel.channelMessage
      ? { channel: channel.channelMessage.channel, ts: channel.channelMessage.ts }
      : undefined,
  };
}

export async function recordPageFailure(
  ctx: StoreContext,
  id: string,
  failure: { at: Date; error: string; nextAttemptAt: Date },
  channel?: ChannelOutcome,
): Promise<boolean> {
  const x = new Expr();
  const next = failure.nextAttemptAt.toISOString();
  const u = new Update(x).assign({
    lastError: failure.error.slice(0, 1000),
    lastAttemptAt: failure.at.toISOString(),
    nextAttemptAt: next,
    gsi1sk: next,
    updatedAt: failure.at.toISOString(),
    ...channelFields(channel),
  });
  u.add.push(`${x.name('pageAttempts')} ${x.value(1)}`);
  const r = await attempt('recordPageFailure', () =>
    ctx.client.send(
      new UpdateItemCommand({
        TableName: ctx.table,
        Key: toItem(keys.alert(id)),
        UpdateExpression: u.toString(),
        ConditionExpression: `${x.name('pageStatus')} = ${x.value('pending')}`,
        ...x.params(),
      }),
    ),
  );
  return r !== CONDITION_FAILED;
}

/**
 * One conditional state change. While the page is pending the item stays on the outbox index; once
 * sent, the index follows the state. Two variants of the update, chosen by the pageStatus condition.
 */
async function changeAlertState(
  ctx: StoreContext,
  operation: string,
  id: string,
  change: {
    from: AlertState[];
    to: AlertState;
    by: string;
    at: Date;
    reason: string;
    fields: Record<string, unknown>;
  },
): Promise<AlertItem> {
  const atIso = change.at.toISOString();
  const tid = randomUUID();
  for (let round = 0; round < 5; round++) {
    const raw = await getRaw(ctx, operation, keys.alert(id), change.at);
    if (raw?.entity !== 'alert') throw new NotFoundError(id);
    const current = toAlert(raw);
    if (round > 0 && lastTransitionToken(raw) === tid) return current; // our write landed, its answer was lost
    if (!change.from.includes(current.state)) throw new AlreadyDecidedError(id, current.state);
    const entry: Transition<AlertState> = {
      from: current.state,
      to: change.to,
      at: atIso,
      by: change.by,
      reason: change.reason,
    };
    const x = new Expr();
    const u = new Update(x).assign({
      ...change.fields,
      state: change.to,
      stateKey: gsi.alertState(change.to),
      updatedAt: atIso,
    });
    u.set.push(`${x.name('history')} = list_append(${x.name('history')}, ${x.value([{ ...entry, tid }])})`);
    if (current.pageStatus === 'sent') u.assign({ gsi1pk: gsi.alertState(change.to) });
    const cond = `${x.name('state')} = ${x.value(current.state)} AND ${x.name('pageStatus')} = ${x.value(current.pageStatus)}`;
    const r = await attempt(operation, () =>
      ctx.client.send(
        new UpdateItemCommand({
          TableName: ctx.table,
          Key: toItem(keys.alert(id)),
          UpdateExpression: u.toString(),
          ConditionExpression: cond,
          ReturnValues: 'ALL_NEW',
          ...x.params(),
        }),
      ),
    );
    if (r !== CONDITION_FAILED) return toAlert(fromItem(r.Attributes ?? {}));
  }
  const last = await getAlert(ctx, id);
  throw new AlreadyDecidedError(id, last?.state, 'contended');
}

export function acknowledgeAlert(
  ctx: StoreContext,
  id: string,
  by: string,
  at: Date = new Date(),
): Promise<AlertItem> {
  return changeAlertState(ctx, 'acknowledgeAlert', id, {
    from: ['OPEN'],
    to: 'ACKNOWLEDGED',
    by,
    at,
    reason: 'acknowledged',
    fields: { acknowledgedBy: by },
  });
}

export function resolveAlert(
  ctx: StoreContext,
  id: string,
  by: string,
  at: Date = new Date(),
  reason = 'resolved',
): Promise<AlertItem> {
  return changeAlertState(ctx, 'resolveAlert', id, {
    from: ['OPEN', 'ACKNOWLEDGED'],
    to: 'RESOLVED',
    by,
    at,
    reason,
    fields: { resolvedBy: by, ttl: ttlAfter(at, ctx.retention.closedDays) },
  });
}

export async function updateAlert(ctx: StoreContext, id: string, input: AlertUpdate): Promise<AlertItem> {
  const { set, at, when = {} } = input;
  const x = new Expr();
  const u = new Update(x).assign({
    channelMessage: set.channelMessage
      ? { channel: set.channelMessage.channel, ts: set.channelMessage.ts }
      : undefined,
    channelLink: set.channelLink,
    channelStatus: set.channelStatus,
    summary: set.summary,
    updatedAt: at.toISOString(),
  });
  const conds = [`attribute_exists(${x.name('pk')})`];
  if (when.state) conds.push(x.oneOf('state', when.state));
  if (when.channelStatus) conds.push(x.oneOf('channelStatus', when.channelStatus));
  const r = await attempt('updateAlert', () =>
    ctx.client.send(
      new UpdateItemCommand({
        TableName: ctx.table,
        Key: toItem(keys.alert(id)),
        UpdateExpression: u.toString(),
        ConditionExpression: conds.join(' AND '),
        ReturnValues: 'ALL_NEW',
        ...x.params(),
      }),
    ),
  );
  if (r !== CONDITION_FAILED) return toAlert(fromItem(r.Attributes ?? {}));
  const current = await getAlert(ctx, id);
  if (!current) throw new NotFoundError(id);
  throw new AlreadyDecidedError(
    id,
    current.state,
    when.channelStatus && !when.channelStatus.includes(current.channelStatus)
      ? `channelStatus is ${current.channelStatus}`
      : undefined,
  );
}
