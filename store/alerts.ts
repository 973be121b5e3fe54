/** Alerts: idempotent creation by stable id (the PagerDuty dedup_key), the page outbox, ack / resolve. */
import { createHash, randomUUID } from 'node:crypto';
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
import { burstRemediations, newRemediations, remediationsOf } from './remediations.js';
import { GSI1, gsi, keys } from './schema.js';
import type { AlertUpdate, ChannelOutcome } from './store.js';
import type {
  AddAlertCallResult,
  AlertBurst,
  AlertItem,
  AlertKind,
  AlertSeverity,
  AlertState,
  BurstCall,
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
    // A burst appends each join's rules: shown once each.
    ruleIds: [...new Set(read.strings(raw, 'ruleIds'))],
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
    ...(raw.burst === true ? { burst: true, sealed: read.str(raw, 'sealed') } : {}),
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

// ------------------------------------------------------------------------------------------------
// Alert bursts: the alert calls of one principal close together in time share one alert

/** Calls one burst alert holds; the next ones open the burst's next alert (`…_<seq + 1>`). */
export const MAX_BURST_CALLS = 50;
/** Calls joined in one conditional update. */
const BURST_JOIN_CHUNK = 25;
/** Failed joins (each sorted out by a read) before giving up: only racing joiners make many. */
const MAX_BURST_CONFLICTS = 200;
/** Requests for one burst in one call, whatever happens (a bound, not a budget). */
const MAX_BURST_ROUNDS = 5_000;

/**
 * A burst's alert id: `a_<window start>_<hash of the key>_<seq>`. The key (principal, account,
 * severity, paging, window) comes from the record alone, so a redelivered call finds the alert it joined.
 */
export function burstAlertId(burst: AlertBurst, seq: number): string {
  const hash = createHash('sha256').update(burst.key).digest('hex').slice(0, 20);
  const window = burst.windowStart.replace(/[-:]/g, '').slice(0, 13);
  return `a_${window}_${hash}_${seq}`;
}

async function createBurstAlert(
  ctx: StoreContext,
  id: string,
  burst: AlertBurst,
  calls: readonly BurstCall[],
  now: Date,
): Promise<boolean> {
  const at = now.toISOString();
  const first = calls[0] as BurstCall;
  const item = {
    ...keys.alert(id),
    entity: 'alert',
    id,
    kind: 'call',
    burst: true,
    burstKey: burst.key,
    engineerKey: burst.engineerKey,
    severity: burst.severity,
    summary: first.summary,
    eventIds: calls.map((c) => c.eventId),
    joined: Object.fromEntries(calls.map((c) => [c.eventId, c.eventTime])),
    callCount: calls.length,
    ruleIds: [...new Set(calls.flatMap((c) => c.ruleIds))],
    reasons: calls.flatMap((c) => c.reasons),
    page: burst.page,
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
    // Always present, so that joins can add to them.
    remediations: Object.fromEntries(burstRemediations(calls).map((r) => [r.id, r.entry])),
    remediationGaps: calls.flatMap((c) => c.remediationGaps ?? []),
  };
  const x = new Expr();
  const r = await attempt('addAlertCalls', () =>
    ctx.client.send(
      new PutItemCommand({
        TableName: ctx.table,
        Item: toItem(item),
        ConditionExpression: `attribute_not_exists(${x.name('pk')})`,
        ...x.params(),
      }),
    ),
  );
  return r !== CONDITION_FAILED;
}

/** Join calls to a burst alert that is not sealed (not yet sent) and has room for them. */
async function joinBurstAlert(
  ctx: StoreContext,
  id: string,
  calls: readonly BurstCall[],
  now: Date,
): Promise<boolean> {
  const x = new Expr();
  const u = new Update(x);
  const conds = [
    `attribute_exists(${x.name('pk')})`,
    `attribute_not_exists(${x.name('sealed')})`,
    `${x.name('callCount')} <= ${x.value(MAX_BURST_CALLS - calls.length)}`,
  ];
  for (const c of calls) {
    u.set.push(`${x.path('joined', c.eventId)} = ${x.value(c.eventTime)}`);
    conds.push(`attribute_not_exists(${x.path('joined', c.eventId)})`);
  }
  const append = (attr: string, values: unknown[]) =>
    `${x.name(attr)} = list_append(${x.name(attr)}, ${x.value(values)})`;
  u.set.push(
    append(
      'eventIds',
      calls.map((c) => c.eventId),
    ),
    append('ruleIds', [...new Set(calls.flatMap((c) => c.ruleIds))]),
    append(
      'reasons',
      calls.flatMap((c) => c.reasons),
    ),
    append(
      'remediationGaps',
      calls.flatMap((c) => c.remediationGaps ?? []),
    ),
  );
  for (const { id: rid, entry } of burstRemediations(calls)) {
    const path = x.path('remediations', rid);
    u.set.push(`${path} = if_not_exists(${path}, ${x.value(entry)})`);
  }
  u.assign({ updatedAt: now.toISOString() });
  u.add.push(`${x.name('callCount')} ${x.value(calls.length)}`);
  const r = await attempt('addAlertCalls', () =>
    ctx.client.send(
      new UpdateItemCommand({
        TableName: ctx.table,
        Key: toItem(keys.alert(id)),
        UpdateExpression: u.toString(),
        ConditionExpression: conds.join(' AND '),
        ...x.params(),
      }),
    ),
  );
  return r !== CONDITION_FAILED;
}

/**
 * Add alert calls of one burst to its alert, opening it when it does not exist yet. An alert takes calls
 * until the outbox seals it (just before its channel post and page) or it holds MAX_BURST_CALLS; later
 * calls open the burst's next alert (`seq + 1`). Every join is a conditional update that refuses a call
 * already there, so a call is in one alert however often it is delivered.
 *
 * `seq` is a hint: the alert of the burst this process joined last, for calls seen for the first time.
 * Without it (a redelivered message) the burst's alerts are read from the first, so that a call that
 * joined one before a crash is found there and reported `duplicate`.
 */
export async function addAlertCalls(
  ctx: StoreContext,
  burst: AlertBurst,
  calls: readonly BurstCall[],
  opts: { now: Date; seq?: number; redelivered?: boolean },
): Promise<{ results: AddAlertCallResult[]; seq: number }> {
  if (!burst.key) throw new TypeError('burst.key is required');
  const { now } = opts;
  const results = new Map<string, AddAlertCallResult>();
  let pending = [...new Map(calls.map((c) => [c.eventId, c])).values()];
  let seq = opts.seq ?? 0;
  // What is known of the alert at `seq`: joinable (with `room` for calls, if known), absent, or unknown.
  let state: 'open' | 'absent' | 'unknown' =
    opts.seq !== undefined ? 'open' : opts.redelivered ? 'unknown' : 'absent';
  let room: number | undefined;
  let conflicts = 0;
  for (let round = 0; pending.length > 0; round++) {
    // Each round sends or reads one request and moves on; a burst of 1,000 alerts is far below this.
    if (round > MAX_BURST_ROUNDS) {
      throw new StoreError(
        'addAlertCalls',
        new Error(`no alert of burst ${burst.key} takes its calls after ${MAX_BURST_ROUNDS} requests`),
      );
    }
    const id = burstAlertId(burst, seq);
    if (state === 'unknown') {
      const raw = await getRaw(ctx, 'addAlertCalls', keys.alert(id), now);
      if (raw?.entity !== 'alert') {
        state = 'absent';
        continue;
      }
      const members = read.obj<Record<string, unknown>>(raw, 'joined') ?? {};
      for (const c of pending) {
        if (members[c.eventId] !== undefined)
          results.set(c.eventId, { alertId: id, created: false, duplicate: true });
      }
      pending = pending.filter((c) => members[c.eventId] === undefined);
      room = raw.sealed !== undefined ? 0 : MAX_BURST_CALLS - read.num(raw, 'callCount');
      state = 'open';
      continue;
    }
    if (state === 'absent') {
      const chunk = pending.slice(0, MAX_BURST_CALLS);
      if (await createBurstAlert(ctx, id, burst, chunk, now)) {
        chunk.forEach((c, i) => {
          results.set(c.eventId, { alertId: id, created: i === 0, duplicate: false });
        });
        pending = pending.slice(chunk.length);
        state = 'open';
        room = MAX_BURST_CALLS - chunk.length;
      } else state = 'unknown';
      continue;
    }
    if (room !== undefined && room <= 0) {
      // Sealed or full: the burst goes on in its next alert.
      seq++;
      state = opts.redelivered ? 'unknown' : 'absent';
      room = undefined;
      continue;
    }
    const chunk = pending.slice(0, Math.min(BURST_JOIN_CHUNK, room ?? BURST_JOIN_CHUNK));
    if (await joinBurstAlert(ctx, id, chunk, now)) {
      for (const c of chunk) results.set(c.eventId, { alertId: id, created: false, duplicate: false });
      pending = pending.slice(chunk.length);
      if (room !== undefined) room -= chunk.length;
      continue;
    }
    // Sealed, full, a member already, or another joiner got there first: read it and sort it out.
    state = 'unknown';
    if (++conflicts > MAX_BURST_CONFLICTS) {
      throw new StoreError('addAlertCalls', new Error(`cannot join calls to ${id}: condition keeps failing`));
    }
  }
  const seen = new Set<string>();
  return {
    seq,
    results: calls.map((c) => {
      const r = results.get(c.eventId) as AddAlertCallResult;
      if (!seen.has(c.eventId)) {
        seen.add(c.eventId);
        return r;
      }
      return { alertId: r.alertId, created: false, duplicate: true };
    }),
  };
}

/**
 * Seal a burst alert before it is sent: no call joins it after this, so the channel post and the page
 * show every call it holds. Returns the alert as sealed.
 */
export async function sealAlert(ctx: StoreContext, id: string, at: Date): Promise<AlertItem> {
  const x = new Expr();
  const r = await attempt('sealAlert', () =>
    ctx.client.send(
      new UpdateItemCommand({
        TableName: ctx.table,
        Key: toItem(keys.alert(id)),
        UpdateExpression: `SET ${x.name('sealed')} = if_not_exists(${x.name('sealed')}, ${x.value(at.toISOString())})`,
        ConditionExpression: `attribute_exists(${x.name('pk')})`,
        ReturnValues: 'ALL_NEW',
        ...x.params(),
      }),
    ),
  );
  if (r === CONDITION_FAILED) throw new NotFoundError(id);
  return toAlert(fromItem(r.Attributes ?? {}));
}
