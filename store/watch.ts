/**
 * Watching the watcher: each monitored account's last heartbeat and last decided call, the per-day
 * histogram of the lag from a call's `eventTime` to its decision, and the watchdog's incidents.
 * See schema.ts for the layout.
 */
import { PutItemCommand, UpdateItemCommand } from '@aws-sdk/client-dynamodb';
import {
  attempt,
  CONDITION_FAILED,
  call,
  getRaw,
  queryAll,
  read,
  type StoreContext,
  ttlAfter,
} from './context.js';
import { StoreError } from './errors.js';
import { Expr, fromItem, toItem, Update } from './marshal.js';
import { COUNTER_PREFIX, keys } from './schema.js';
import type {
  AccountActivity,
  Counters,
  Incident,
  IncidentKind,
  IncidentState,
  NewIncident,
} from './types.js';

const ACCOUNT = /^\d{12}$/;
const DAY = /^\d{4}-\d{2}-\d{2}$/;

function checkAccount(account: string): void {
  if (!ACCOUNT.test(account)) throw new TypeError(`not a 12-digit account id: ${JSON.stringify(account)}`);
}

// ---------------------------------------------------------------------------------------------------
// Accounts

/**
 * Move an account's last heartbeat and/or last event forward (never back: each is a conditional SET
 * on the older value, so replicas and late batches cannot rewind it). One call per account per drain.
 */
export async function recordAccountActivity(
  ctx: StoreContext,
  account: string,
  activity: { heartbeatAt?: Date; heartbeatRegion?: string; eventAt?: Date },
  now: Date,
): Promise<void> {
  checkAccount(account);
  const moves: { field: 'lastHeartbeatAt' | 'lastEventAt'; at: Date; extra?: Record<string, unknown> }[] = [];
  if (activity.heartbeatAt)
    moves.push({
      field: 'lastHeartbeatAt',
      at: activity.heartbeatAt,
      extra: { lastHeartbeatRegion: activity.heartbeatRegion },
    });
  if (activity.eventAt) moves.push({ field: 'lastEventAt', at: activity.eventAt });
  for (const m of moves) {
    const at = m.at.toISOString();
    const x = new Expr();
    const u = new Update(x).assign({
      entity: 'account',
      account,
      [m.field]: at,
      ...m.extra,
      updatedAt: now.toISOString(),
    });
    await attempt('recordAccountActivity', () =>
      ctx.client.send(
        new UpdateItemCommand({
          TableName: ctx.table,
          Key: toItem(keys.account(account)),
          UpdateExpression: u.toString(),
          ConditionExpression: `attribute_not_exists(${x.name(m.field)}) OR ${x.name(m.field)} < ${x.value(at)}`,
          ...x.params(),
        }),
      ),
    );
  }
}

function toAccount(raw: Record<string, unknown>): AccountActivity {
  return {
    account: read.str(raw, 'account') ?? '',
    lastHeartbeatAt: read.str(raw, 'lastHeartbeatAt'),
    lastHeartbeatRegion: read.str(raw, 'lastHeartbeatRegion'),
    lastEventAt: read.str(raw, 'lastEventAt'),
    updatedAt: read.str(raw, 'updatedAt'),
  };
}

/** Every account secbot has heard from, by account id. */
export async function listAccounts(ctx: StoreContext): Promise<AccountActivity[]> {
  const x = new Expr();
  const rows = await queryAll(ctx, 'listAccounts', {
    KeyConditionExpression: `${x.name('pk')} = ${x.value(keys.accounts)}`,
    ...x.params(),
  });
  return rows.filter((r) => r.entity === 'account').map(toAccount);
}

/** Add lag histogram counts (`<bucket>` → n) to an account's day. */
export async function addAccountLag(
  ctx: StoreContext,
  account: string,
  day: string,
  counts: Counters,
): Promise<void> {
  checkAccount(account);
  if (!DAY.test(day)) throw new TypeError(`day must be YYYY-MM-DD, got ${JSON.stringify(day)}`);
  const entries = Object.entries(counts).filter(([, n]) => Number.isSafeInteger(n) && n !== 0);
  if (entries.length === 0) return;
  const x = new Expr();
  const u = new Update(x).assign({
    entity: 'account_day',
    account,
    day,
    ttl: ttlAfter(`${day}T00:00:00.000Z`, ctx.retention.counterDays),
  });
  for (const [name, n] of entries) u.add.push(`${x.name(COUNTER_PREFIX + name)} ${x.value(n)}`);
  await call('addAccountLag', () =>
    ctx.client.send(
      new UpdateItemCommand({
        TableName: ctx.table,
        Key: toItem(keys.accountDay(day, account)),
        UpdateExpression: u.toString(),
        ...x.params(),
      }),
    ),
  );
}

/** The lag histograms of every account over `days`, summed per account. */
export async function readAccountLag(
  ctx: StoreContext,
  days: readonly string[],
): Promise<Map<string, Counters>> {
  const out = new Map<string, Counters>();
  for (const day of new Set(days)) {
    if (!DAY.test(day)) throw new TypeError(`day must be YYYY-MM-DD, got ${JSON.stringify(day)}`);
    const x = new Expr();
    const rows = await queryAll(ctx, 'readAccountLag', {
      KeyConditionExpression: `${x.name('pk')} = ${x.value(keys.accountDayPk(day))}`,
      ...x.params(),
    });
    for (const raw of rows) {
      const account = read.str(raw, 'account');
      if (!account) continue;
      const c = out.get(account) ?? {};
      for (const [k, v] of Object.entries(raw)) {
        if (k.startsWith(COUNTER_PREFIX) && typeof v === 'number') {
          const name = k.slice(COUNTER_PREFIX.length);
          c[name] = (c[name] ?? 0) + v;
        }
      }
      out.set(account, c);
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------------
// Incidents

export function toIncident(raw: Record<string, unknown>): Incident {
  const followUp = read.str(raw, 'followUp');
  return {
    key: read.str(raw, 'key') ?? '',
    kind: (read.str(raw, 'kind') ?? 'heartbeat') as IncidentKind,
    subject: read.str(raw, 'subject'),
    state: (read.str(raw, 'state') ?? 'OPEN') as IncidentState,
    seq: read.num(raw, 'seq', 1),
    alertId: read.str(raw, 'alertId') ?? '',
    alerted: read.bool(raw, 'alerted'),
    page: read.bool(raw, 'page'),
    openedAt: read.str(raw, 'openedAt') ?? '',
    detail: read.str(raw, 'detail') ?? '',
    recoveredAt: read.str(raw, 'recoveredAt'),
    recoveryDetail: read.str(raw, 'recoveryDetail'),
    followUp: followUp === 'pending' || followUp === 'sending' || followUp === 'sent' ? followUp : undefined,
    followUpUpdatedAt: read.str(raw, 'followUpUpdatedAt'),
    pagerResolved: raw.pagerResolved === undefined ? undefined : read.bool(raw, 'pagerResolved'),
    closedAt: read.str(raw, 'closedAt'),
    updatedAt: read.str(raw, 'updatedAt') ?? '',
  };
}

/** The alert of a key's `seq`-th incident: its PagerDuty dedup_key too. */
export function incidentAlertId(key: string, seq: number): string {
  return `a_wd_${key.replace(/[^A-Za-z0-9_-]/g, '-')}_${seq}`;
}

export async function getIncident(ctx: StoreContext, key: string): Promise<Incident | undefined> {
  const raw = await getRaw(ctx, 'getIncident', keys.incident(key));
  return raw?.entity === 'incident' ? toIncident(raw) : undefined;
}

/** Every incident's latest state (closed ones too), by key. */
export async function listIncidents(ctx: StoreContext): Promise<Incident[]> {
  const x = new Expr();
  const rows = await queryAll(ctx, 'listIncidents', {
    KeyConditionExpression: `${x.name('pk')} = ${x.value(keys.incidents)}`,
    ...x.params(),
  });
  return rows.filter((r) => r.entity === 'incident').map(toIncident);
}

/**
 * Open an incident unless one is open or recovering under the key (conditional put on the previous
 * item: absent, or CLOSED with the seq we read). `opened: false` returns the incident that stands.
 */
export async function openIncident(
  ctx: StoreContext,
  input: NewIncident,
): Promise<{ incident: Incident; opened: boolean }> {
  for (let round = 0; round < 3; round++) {
    const current = await getIncident(ctx, input.key);
    if (current && current.state !== 'CLOSED') return { incident: current, opened: false };
    const seq = (current?.seq ?? 0) + 1;
    const at = input.at.toISOString();
    const item = {
      ...keys.incident(input.key),
      entity: 'incident',
      key: input.key,
      kind: input.kind,
      subject: input.subject,
      state: 'OPEN',
      seq,
      alertId: incidentAlertId(input.key, seq),
      alerted: false,
      page: input.page,
      openedAt: at,
      detail: input.detail.slice(0, 1000),
      updatedAt: at,
    };
    const x = new Expr();
    const cond = current
      ? `${x.name('state')} = ${x.value('CLOSED')} AND ${x.name('seq')} = ${x.value(current.seq)}`
      : `attribute_not_exists(${x.name('pk')})`;
    const r = await attempt('openIncident', () =>
      ctx.client.send(
        new PutItemCommand({
          TableName: ctx.table,
          Item: toItem(item),
          ConditionExpression: cond,
          ...x.params(),
        }),
      ),
    );
    if (r !== CONDITION_FAILED) return { incident: toIncident(item), opened: true };
    // Another replica opened (or closed) it meanwhile: read again.
  }
  const last = await getIncident(ctx, input.key);
  if (!last) throw new StoreError('openIncident', new Error(`incident ${input.key} is contended`));
  return { incident: last, opened: false };
}

/**
 * A conditional update of an incident (the `seq` it must still be, the states it must be in, and
 * optionally its follow-up status). Returns the incident as written, or undefined when it lost.
 */
export async function updateIncident(
  ctx: StoreContext,
  key: string,
  input: {
    seq: number;
    from: readonly IncidentState[];
    followUpFrom?: readonly (Incident['followUp'] | 'none')[];
    /** The follow-up status must also be unchanged since this time (taking over a stale `sending`). */
    followUpUpdatedAt?: string;
    set: Partial<
      Pick<
        Incident,
        'state' | 'alerted' | 'recoveredAt' | 'recoveryDetail' | 'followUp' | 'pagerResolved' | 'closedAt'
      >
    >;
    at: Date;
  },
): Promise<Incident | undefined> {
  const x = new Expr();
  const fields: Record<string, unknown> = { ...input.set, updatedAt: input.at.toISOString() };
  if (input.set.followUp) fields.followUpUpdatedAt = input.at.toISOString();
  const u = new Update(x).assign(fields);
  const conds = [`${x.name('seq')} = ${x.value(input.seq)}`, x.oneOf('state', input.from)];
  if (input.followUpFrom) {
    const named = input.followUpFrom.filter(
      (f): f is NonNullable<Incident['followUp']> => !!f && f !== 'none',
    );
    const alts = named.length > 0 ? [x.oneOf('followUp', named)] : [];
    if (input.followUpFrom.includes('none')) alts.push(`attribute_not_exists(${x.name('followUp')})`);
    conds.push(`(${alts.join(' OR ')})`);
  }
  if (input.followUpUpdatedAt)
    conds.push(`${x.name('followUpUpdatedAt')} = ${x.value(input.followUpUpdatedAt)}`);
  const r = await attempt('updateIncident', () =>
    ctx.client.send(
      new UpdateItemCommand({
        TableName: ctx.table,
        Key: toItem(keys.incident(key)),
        UpdateExpression: u.toString(),
        ConditionExpression: conds.join(' AND '),
        ReturnValues: 'ALL_NEW',
        ...x.params(),
      }),
    ),
  );
  if (r === CONDITION_FAILED) return undefined;
  return toIncident(fromItem(r.Attributes ?? {}));
}
