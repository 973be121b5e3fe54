/**
 * Verifications: one OPEN verification per engineer (the lock item), calls joining it exactly once,
 * and the state machine's conditional transitions.
 */
import { randomUUID } from 'node:crypto';
import { DeleteItemCommand, PutItemCommand, UpdateItemCommand } from '@aws-sdk/client-dynamodb';
import {
  attempt,
  batchGetRaw,
  batchWriteRaw,
  CONDITION_FAILED,
  call,
  getRaw,
  historyOf,
  iso,
  lastTransitionToken,
  queryAll,
  read,
  type StoreContext,
  sleep,
  ttlAfter,
} from './context.js';
import { AlreadyDecidedError, NotFoundError, StaleVerificationError, StoreError } from './errors.js';
import { newId } from './ids.js';
import { Expr, fromItem, toItem, Update } from './marshal.js';
import { GSI1, gsi, keys } from './schema.js';
import type { TransitionInput, VerificationUpdate } from './store.js';
import {
  type AddNotifyCallResult,
  type DmStatus,
  type MessageRef,
  TERMINAL_VERIFICATION_STATES,
  type Transition,
  type Verification,
  type VerificationCall,
  type VerificationPatch,
  type VerificationState,
} from './types.js';

/** How many calls the header keeps in `preview`. */
export const PREVIEW_CALLS = 5;
/** Calls live a little longer than the verification they belong to. */
const CALL_EXTRA_DAYS = 7;
const MAX_ROUNDS = 100;

/** The edges of the state machine (DESIGN.md). */
export const ALLOWED_TRANSITIONS: Readonly<Record<VerificationState, readonly VerificationState[]>> = {
  OPEN: ['DUO_PENDING', 'ESCALATED'],
  DUO_PENDING: ['CONFIRMED', 'ESCALATED'],
  CONFIRMED: [],
  ESCALATED: [],
};

const isTerminal = (s: VerificationState) => TERMINAL_VERIFICATION_STATES.includes(s);

export function toVerification(raw: Record<string, unknown>): Verification {
  const joined = read.obj<Record<string, unknown>>(raw, 'joined') ?? {};
  const eventIds = Object.entries(joined)
    .map(([id, t]) => [id, typeof t === 'string' ? t : ''] as const)
    .sort((a, b) => (a[1] === b[1] ? (a[0] < b[0] ? -1 : 1) : a[1] < b[1] ? -1 : 1))
    .map(([id]) => id);
  const preview = read.list<VerificationCall>(raw, 'preview').sort(byEventTime);
  return {
    id: read.str(raw, 'id') ?? '',
    engineerKey: read.str(raw, 'engineerKey') ?? '',
    state: (read.str(raw, 'state') ?? 'OPEN') as VerificationState,
    createdAt: read.str(raw, 'createdAt') ?? '',
    updatedAt: read.str(raw, 'updatedAt') ?? '',
    deadline: read.str(raw, 'deadline') ?? '',
    callCount: read.num(raw, 'callCount'),
    eventIds,
    preview,
    lastCallAt: read.str(raw, 'lastCallAt') ?? '',
    history: historyOf<VerificationState>(raw),
    dm: read.obj<MessageRef>(raw, 'dm'),
    dmStatus: (read.str(raw, 'dmStatus') ?? 'pending') as DmStatus,
    dmError: read.str(raw, 'dmError'),
    needsUpdate: read.bool(raw, 'needsUpdate'),
    duoTxid: read.str(raw, 'duoTxid'),
    duoStartedAt: read.str(raw, 'duoStartedAt'),
    duoResult: read.str(raw, 'duoResult'),
    escalationReason: read.str(raw, 'escalationReason'),
    closedAt: read.str(raw, 'closedAt'),
  };
}

function byEventTime(a: VerificationCall, b: VerificationCall): number {
  if (a.eventTime !== b.eventTime) return a.eventTime < b.eventTime ? -1 : 1;
  return a.eventId < b.eventId ? -1 : a.eventId > b.eventId ? 1 : 0;
}

/** Only the patch's known fields, dates as ISO strings (nobody overwrites keys or state this way). */
function patchFields(p: VerificationPatch): Record<string, unknown> {
  return {
    deadline: p.deadline === undefined ? undefined : iso(p.deadline),
    dm: p.dm ? { channel: p.dm.channel, ts: p.dm.ts } : undefined,
    dmStatus: p.dmStatus,
    dmError: p.dmError,
    needsUpdate: p.needsUpdate,
    duoTxid: p.duoTxid,
    duoStartedAt: p.duoStartedAt === undefined ? undefined : iso(p.duoStartedAt),
    duoResult: p.duoResult,
    escalationReason: p.escalationReason,
  };
}

function callSummary(c: VerificationCall): VerificationCall {
  // Only the summary fields; undefined ones are dropped by the marshaller.
  return {
    eventId: c.eventId,
    eventName: c.eventName,
    eventSource: c.eventSource,
    eventTime: c.eventTime,
    account: c.account,
    region: c.region,
    ruleIds: [...c.ruleIds],
    action: c.action,
    reason: c.reason,
    summary: c.summary,
    principal: c.principal,
    resource: c.resource,
    sourceIp: c.sourceIp,
    userAgent: c.userAgent?.slice(0, 300),
    matchedBy: c.matchedBy,
  };
}

// ------------------------------------------------------------------------------------------------
// Reads

export async function getVerification(ctx: StoreContext, id: string): Promise<Verification | undefined> {
  const raw = await getRaw(ctx, 'getVerification', keys.verification(id));
  return raw && raw.entity === 'verification' ? toVerification(raw) : undefined;
}

export async function findOpenVerification(
  ctx: StoreContext,
  engineerKey: string,
): Promise<Verification | undefined> {
  const lock = await getRaw(ctx, 'findOpenVerification', keys.openLock(engineerKey));
  const vid = lock ? read.str(lock, 'verificationId') : undefined;
  if (!vid) return undefined;
  const v = await getVerification(ctx, vid);
  return v?.state === 'OPEN' ? v : undefined;
}

export async function listVerificationCalls(
  ctx: StoreContext,
  id: string,
  opts: { limit?: number } = {},
): Promise<VerificationCall[]> {
  const x = new Expr();
  const k = keys.verification(id);
  const rows = await queryAll(
    ctx,
    'listVerificationCalls',
    {
      KeyConditionExpression: `${x.name('pk')} = ${x.value(k.pk)} AND begins_with(${x.name('sk')}, ${x.value(keys.callPrefix)})`,
      ConsistentRead: true,
      ...x.params(),
    },
    opts.limit,
  );
  return rows
    .map((r) => read.obj<VerificationCall>(r, 'call'))
    .filter((c): c is VerificationCall => c !== undefined);
}

export async function listVerifications(
  ctx: StoreContext,
  state: VerificationState,
  opts: { dueBefore?: Date; limit?: number; newestFirst?: boolean } = {},
): Promise<Verification[]> {
  const x = new Expr();
  let kc = `${x.name('gsi1pk')} = ${x.value(gsi.verificationState(state))}`;
  if (opts.dueBefore) kc += ` AND ${x.name('gsi1sk')} <= ${x.value(opts.dueBefore.toISOString())}`;
  const rows = await queryAll(
    ctx,
    'listVerifications',
    { IndexName: GSI1, KeyConditionExpression: kc, ScanIndexForward: !opts.newestFirst, ...x.params() },
    opts.limit,
  );
  // The index is eventually consistent: trust the item's own state.
  return rows.filter((r) => r.entity === 'verification' && r.state === state).map(toVerification);
}

/** An engineer's own verifications, newest first (pointers whose header is gone are skipped). */
export async function listEngineerVerifications(
  ctx: StoreContext,
  engineerKey: string,
  opts: { limit?: number } = {},
): Promise<Verification[]> {
  const x = new Expr();
  const refs = await queryAll(
    ctx,
    'listEngineerVerifications',
    {
      KeyConditionExpression: `${x.name('pk')} = ${x.value(keys.engineerPrefix(engineerKey))}`,
      ScanIndexForward: false,
      ...x.params(),
    },
    opts.limit ?? 10,
  );
  const ids = refs.map((r) => read.str(r, 'verificationId')).filter((id): id is string => !!id);
  if (ids.length === 0) return [];
  const headers = await batchGetRaw(
    ctx,
    'listEngineerVerifications',
    ids.map((id) => keys.verification(id)),
  );
  const byId = new Map(
    headers.filter((h) => h.entity === 'verification').map((h) => [read.str(h, 'id'), toVerification(h)]),
  );
  return ids.map((id) => byId.get(id)).filter((v): v is Verification => v !== undefined);
}

// ------------------------------------------------------------------------------------------------
// addNotifyCall

/** Calls joined with one conditional UpdateItem (the expression stays well under DynamoDB's 4 KB). */
const JOIN_CHUNK = 40;

type ChunkOutcome = { kind: 'joined'; callCount: number } | { kind: 'conflict' };

/** Join `calls` (at most JOIN_CHUNK) in one conditional update: the header is OPEN and none has joined. */
async function joinChunk(
  ctx: StoreContext,
  vid: string,
  calls: readonly VerificationCall[],
  now: Date,
): Promise<ChunkOutcome> {
  const x = new Expr();
  const u = new Update(x);
  const conds = [`${x.name('state')} = ${x.value('OPEN')}`];
  for (const c of calls) {
    u.set.push(`${x.path('joined', c.eventId)} = ${x.value(c.eventTime)}`);
    conds.push(`attribute_not_exists(${x.path('joined', c.eventId)})`);
  }
  u.assign({ needsUpdate: true, lastCallAt: now.toISOString(), updatedAt: now.toISOString() });
  u.add.push(`${x.name('callCount')} ${x.value(calls.length)}`);
  const r = await attempt('addNotifyCall', () =>
    ctx.client.send(
      new UpdateItemCommand({
        TableName: ctx.table,
        Key: toItem(keys.verification(vid)),
        UpdateExpression: u.toString(),
        ConditionExpression: conds.join(' AND '),
        ReturnValues: 'UPDATED_NEW',
        ...x.params(),
      }),
    ),
  );
  if (r === CONDITION_FAILED) return { kind: 'conflict' };
  return { kind: 'joined', callCount: Number(r.Attributes?.callCount?.N ?? 0) };
}

interface JoinResult {
  joined: VerificationCall[];
  /** Already members (a redelivery, or another drainer that joined them first). */
  duplicates: VerificationCall[];
  /** Not joined because the verification is no longer OPEN. */
  rest: VerificationCall[];
}

/**
 * Join calls to an OPEN verification, JOIN_CHUNK per conditional update. A chunk whose condition fails is
 * sorted out against the header: members become duplicates and the others are tried again, unless the
 * verification has left OPEN (then they are returned in `rest`).
 */
async function joinVerification(
  ctx: StoreContext,
  vid: string,
  calls: readonly VerificationCall[],
  now: Date,
): Promise<JoinResult> {
  const out: JoinResult = { joined: [], duplicates: [], rest: [] };
  const queue = [...calls];
  for (let conflicts = 0; queue.length > 0; ) {
    const chunk = queue.splice(0, JOIN_CHUNK);
    const r = await joinChunk(ctx, vid, chunk, now);
    if (r.kind === 'joined') {
      out.joined.push(...chunk);
      // The first PREVIEW_CALLS calls of a verification are kept on its header.
      const slots = PREVIEW_CALLS - (r.callCount - chunk.length);
      if (slots > 0) await appendPreview(ctx, vid, chunk.slice(0, slots));
      continue;
    }
    const current = await getRaw(ctx, 'addNotifyCall', keys.verification(vid), now);
    if (current?.state !== 'OPEN') {
      out.rest.push(...chunk, ...queue);
      break;
    }
    const members = read.obj<Record<string, unknown>>(current, 'joined') ?? {};
    const fresh = chunk.filter((c) => members[c.eventId] === undefined);
    out.duplicates.push(...chunk.filter((c) => members[c.eventId] !== undefined));
    queue.unshift(...fresh);
    // A condition that fails with no member among the chunk is a race with another joiner: try again.
    if (fresh.length === chunk.length && ++conflicts > MAX_ROUNDS) {
      throw new StoreError(
        'addNotifyCall',
        new Error(`cannot join calls to ${vid}: condition keeps failing`),
      );
    }
  }
  return out;
}

/** The call items (details beside the header's membership); plain puts, so writing again is harmless. */
async function writeCallItems(
  ctx: StoreContext,
  vid: string,
  calls: readonly VerificationCall[],
  now: Date,
): Promise<void> {
  if (calls.length === 0) return;
  const ttl = ttlAfter(now, ctx.retention.closedDays + CALL_EXTRA_DAYS);
  const item = (c: VerificationCall) => ({
    ...keys.verificationCall(vid, c.eventTime, c.eventId),
    entity: 'call',
    verificationId: vid,
    // Remediations live on the call item only (the header's preview stays small).
    call: { ...callSummary(c), remediations: c.remediations, remediationGaps: c.remediationGaps },
    ttl,
  });
  if (calls.length === 1) {
    await call('addNotifyCall', () =>
      ctx.client.send(
        new PutItemCommand({ TableName: ctx.table, Item: toItem(item(calls[0] as VerificationCall)) }),
      ),
    );
    return;
  }
  await batchWriteRaw(ctx, 'addNotifyCall', calls.map(item));
}

async function appendPreview(
  ctx: StoreContext,
  vid: string,
  calls: readonly VerificationCall[],
): Promise<void> {
  const x = new Expr();
  await call('addNotifyCall', () =>
    ctx.client.send(
      new UpdateItemCommand({
        TableName: ctx.table,
        Key: toItem(keys.verification(vid)),
        UpdateExpression: `SET ${x.name('preview')} = list_append(${x.name('preview')}, ${x.value(calls.map(callSummary))})`,
        ConditionExpression: `attribute_exists(${x.name('pk')})`,
        ...x.params(),
      }),
    ),
  ).catch((err: unknown) => {
    // The preview is a convenience; the header and the call item are what count.
    ctx.logger?.warn({ err, verificationId: vid }, 'could not extend verification preview');
  });
}

async function createHeader(
  ctx: StoreContext,
  engineerKey: string,
  calls: readonly VerificationCall[],
  now: Date,
  deadline: Date,
): Promise<string> {
  const id = newId('v_', now);
  const nowIso = now.toISOString();
  const item = {
    ...keys.verification(id),
    entity: 'verification',
    id,
    engineerKey,
    state: 'OPEN',
    createdAt: nowIso,
    updatedAt: nowIso,
    deadline: deadline.toISOString(),
    callCount: calls.length,
    joined: Object.fromEntries(calls.map((c) => [c.eventId, c.eventTime])),
    preview: calls.slice(0, PREVIEW_CALLS).map(callSummary),
    lastCallAt: nowIso,
    history: [],
    dmStatus: 'pending',
    needsUpdate: false,
    gsi1pk: gsi.verificationState('OPEN'),
    gsi1sk: deadline.toISOString(),
  };
  // A plain put: the id is fresh (time + 80 random bits), so nothing can be overwritten, and a put
  // the SDK retries after a lost answer is harmless.
  await call('addNotifyCall', () =>
    ctx.client.send(new PutItemCommand({ TableName: ctx.table, Item: toItem(item) })),
  );
  return id;
}

/** The engineer's pointer to a new verification (their own list, newest first). Written before the lock. */
async function putEngineerRef(ctx: StoreContext, engineerKey: string, vid: string, now: Date): Promise<void> {
  await call('addNotifyCall', () =>
    ctx.client.send(
      new PutItemCommand({
        TableName: ctx.table,
        Item: toItem({
          ...keys.engineerVerification(engineerKey, now.toISOString(), vid),
          entity: 'engineer_ref',
          engineerKey,
          verificationId: vid,
          ttl: ttlAfter(now, ctx.retention.closedDays + CALL_EXTRA_DAYS),
        }),
      }),
    ),
  );
}

/** Point the engineer's lock at `vid`: only if free (`previous` undefined) or still at `previous`. */
async function takeLock(
  ctx: StoreContext,
  engineerKey: string,
  vid: string,
  previous: string | undefined,
  now: Date,
): Promise<boolean> {
  const x = new Expr();
  const cond =
    previous === undefined
      ? `attribute_not_exists(${x.name('pk')})`
      : `${x.name('verificationId')} = ${x.value(previous)}`;
  const r = await attempt('addNotifyCall', () =>
    ctx.client.send(
      new PutItemCommand({
        TableName: ctx.table,
        Item: toItem({
          ...keys.openLock(engineerKey),
          entity: 'lock',
          engineerKey,
          verificationId: vid,
          since: now.toISOString(),
        }),
        ConditionExpression: cond,
        ...x.params(),
      }),
    ),
  );
  if (r !== CONDITION_FAILED) return true;
  // Lost, unless it was our own write retried by the SDK after its answer was lost.
  const lock = await getRaw(ctx, 'addNotifyCall', keys.openLock(engineerKey), now);
  return lock !== undefined && read.str(lock, 'verificationId') === vid;
}

async function deleteItem(ctx: StoreContext, operation: string, key: Record<string, string>): Promise<void> {
  await call(operation, () =>
    ctx.client.send(new DeleteItemCommand({ TableName: ctx.table, Key: toItem(key) })),
  );
}

/** Mark a header as the engineer's open verification, once the lock points at it. False if it is gone. */
async function confirmLocked(ctx: StoreContext, vid: string, now: Date): Promise<boolean> {
  const x = new Expr();
  const r = await attempt('addNotifyCall', () =>
    ctx.client.send(
      new UpdateItemCommand({
        TableName: ctx.table,
        Key: toItem(keys.verification(vid)),
        UpdateExpression: `SET ${x.name('lockedAt')} = ${x.value(now.toISOString())}`,
        ConditionExpression: `attribute_exists(${x.name('pk')})`,
        ...x.params(),
      }),
    ),
  );
  return r !== CONDITION_FAILED;
}

/** The engineer's recent verifications that have left OPEN, by the eventIDs they hold. */
async function answeredVerificationsHolding(
  ctx: StoreContext,
  engineerKey: string,
  eventIds: readonly string[],
): Promise<Map<string, string>> {
  const recent = await listEngineerVerifications(ctx, engineerKey, { limit: 10 });
  const home = new Map<string, string>();
  for (const id of eventIds) {
    const v = recent.find((r) => r.state !== 'OPEN' && r.eventIds.includes(id));
    if (v) home.set(id, v.id);
  }
  return home;
}

/**
 * Delete a header left by a creator that died before its lock (see `addNotifyCall`): only while it is
 * OPEN, unsent and was never confirmed as locked. The caller checks first that the lock is elsewhere.
 */
export async function discardUnlockedVerification(ctx: StoreContext, id: string): Promise<boolean> {
  const x = new Expr();
  const r = await attempt('discardUnlockedVerification', () =>
    ctx.client.send(
      new DeleteItemCommand({
        TableName: ctx.table,
        Key: toItem(keys.verification(id)),
        ConditionExpression: `${x.name('state')} = ${x.value('OPEN')} AND ${x.name('dmStatus')} = ${x.value('pending')} AND attribute_not_exists(${x.name('lockedAt')})`,
        ReturnValues: 'ALL_OLD',
        ...x.params(),
      }),
    ),
  );
  if (r === CONDITION_FAILED) return false;
  const old = r.Attributes ? fromItem(r.Attributes) : undefined;
  const engineerKey = old ? read.str(old, 'engineerKey') : undefined;
  const createdAt = old ? read.str(old, 'createdAt') : undefined;
  if (engineerKey && createdAt) {
    await deleteItem(
      ctx,
      'discardUnlockedVerification',
      keys.engineerVerification(engineerKey, createdAt, id),
    );
  }
  return old !== undefined;
}

/**
 * Call items of several verifications, 25 to a BatchWriteItem: for callers of `addNotifyCalls` with
 * `deferCallItems`, before they count the calls as stored.
 */
export async function putVerificationCalls(
  ctx: StoreContext,
  entries: readonly { verificationId: string; call: VerificationCall }[],
  now: Date,
): Promise<void> {
  if (entries.length === 0) return;
  const ttl = ttlAfter(now, ctx.retention.closedDays + CALL_EXTRA_DAYS);
  await batchWriteRaw(
    ctx,
    'putVerificationCalls',
    entries.map(({ verificationId, call: c }) => ({
      ...keys.verificationCall(verificationId, c.eventTime, c.eventId),
      entity: 'call',
      verificationId,
      call: { ...callSummary(c), remediations: c.remediations, remediationGaps: c.remediationGaps },
      ttl,
    })),
  );
}

function validateCall(c: VerificationCall): void {
  for (const f of ['eventId', 'eventName', 'eventSource', 'eventTime', 'action'] as const) {
    if (typeof c[f] !== 'string' || c[f] === '') throw new TypeError(`call.${f} is required`);
  }
  if (!Array.isArray(c.ruleIds)) throw new TypeError('call.ruleIds must be an array');
}

/**
 * Join the engineer's OPEN verification or open one. The header's conditional update (state = OPEN,
 * eventID not yet joined) is the join; the lock is replaced only conditionally on what we read, and a
 * new header is written before the lock points at it (and deleted if the lock went elsewhere), so
 * concurrent replicas converge on one OPEN verification holding every call exactly once.
 */
export async function addNotifyCall(
  ctx: StoreContext,
  engineerKey: string,
  c: VerificationCall,
  opts: { now: Date; deadline: Date },
): Promise<AddNotifyCallResult> {
  return (await addNotifyCalls(ctx, engineerKey, [c], opts))[0] as AddNotifyCallResult;
}

/**
 * `addNotifyCall` for several calls of one engineer at once (a drain's burst): the calls join with one
 * conditional update per JOIN_CHUNK, or open the verification together, with the same guarantees, call
 * by call. `verificationId`: where this engineer's calls joined last (a hint: used only while OPEN,
 * which it stays only as long as the lock points at it). Results are in the order of `calls`.
 */
export async function addNotifyCalls(
  ctx: StoreContext,
  engineerKey: string,
  calls: readonly VerificationCall[],
  opts: { now: Date; deadline: Date; verificationId?: string; deferCallItems?: boolean },
): Promise<AddNotifyCallResult[]> {
  // Deferred: the caller writes the call items (putVerificationCalls) with the rest of its batch.
  const putCallItems = opts.deferCallItems ? async () => {} : writeCallItems;
  if (!engineerKey) throw new TypeError('engineerKey is required');
  for (const c of calls) validateCall(c);
  const { now, deadline } = opts;
  const results = new Map<string, AddNotifyCallResult>();
  let pending = [...new Map(calls.map((c) => [c.eventId, c])).values()];
  const settle = (
    list: readonly VerificationCall[],
    r: (c: VerificationCall, i: number) => AddNotifyCallResult,
  ) => {
    list.forEach((c, i) => {
      results.set(c.eventId, r(c, i));
    });
  };
  let hint = opts.verificationId;
  let searched = false;
  for (let round = 0; pending.length > 0; round++) {
    if (round >= MAX_ROUNDS) {
      throw new StoreError(
        'addNotifyCall',
        new Error(`no stable open verification for ${engineerKey} after ${MAX_ROUNDS} rounds`),
      );
    }
    if (round > 0 && hint === undefined) await sleep(Math.random() * Math.min(50, 2 * round));
    let current: string | undefined;
    const hinted = hint !== undefined;
    if (hint !== undefined) {
      current = hint;
      hint = undefined;
    } else {
      const lock = await getRaw(ctx, 'addNotifyCall', keys.openLock(engineerKey), now);
      current = lock ? read.str(lock, 'verificationId') : undefined;
    }
    if (current) {
      const vid = current;
      const j = await joinVerification(ctx, vid, pending, now);
      // Duplicates get their call item again: it repairs a crash between the join and the call item.
      await putCallItems(ctx, vid, [...j.joined, ...j.duplicates], now);
      settle(j.joined, () => ({ verificationId: vid, created: false, duplicate: false }));
      settle(j.duplicates, () => ({ verificationId: vid, created: false, duplicate: true }));
      pending = j.rest;
      if (pending.length === 0) break;
      // The verification is no longer OPEN: replace the lock, or read it when we only had a hint.
      if (hinted) continue;
    }
    if (!searched) {
      // About to open a verification: a call redelivered after a crash may already belong to one the
      // engineer has answered since (its lock is gone). It stays there; it is not asked about again.
      searched = true;
      const home = await answeredVerificationsHolding(
        ctx,
        engineerKey,
        pending.map((c) => c.eventId),
      );
      settle(
        pending.filter((c) => home.has(c.eventId)),
        (c) => ({ verificationId: home.get(c.eventId) as string, created: false, duplicate: true }),
      );
      pending = pending.filter((c) => !home.has(c.eventId));
      if (pending.length === 0) break;
    }
    const vid = await createHeader(ctx, engineerKey, pending, now, deadline);
    await putEngineerRef(ctx, engineerKey, vid, now);
    if (await takeLock(ctx, engineerKey, vid, current, now)) {
      // Only a confirmed header is beyond the sweep's reach: an unlocked one is discarded as its dead
      // creator's leftover, and one discarded meanwhile cannot be confirmed (the next round replaces the lock).
      if (!(await confirmLocked(ctx, vid, now))) continue;
      await putCallItems(ctx, vid, pending, now);
      settle(pending, (_c, i) => ({ verificationId: vid, created: i === 0, duplicate: false }));
      pending = [];
      break;
    }
    // Someone else moved the lock first; nobody can know our header, so drop it and join theirs.
    await deleteItem(ctx, 'addNotifyCall', keys.verification(vid));
    await deleteItem(ctx, 'addNotifyCall', keys.engineerVerification(engineerKey, now.toISOString(), vid));
  }
  // A call given twice in one request is one call: its repeat is a duplicate.
  const seen = new Set<string>();
  return calls.map((c) => {
    const r = results.get(c.eventId) as AddNotifyCallResult;
    if (!seen.has(c.eventId)) {
      seen.add(c.eventId);
      return r;
    }
    return { verificationId: r.verificationId, created: false, duplicate: true };
  });
}

// ------------------------------------------------------------------------------------------------
// Transitions and updates

/**
 * Free the engineer's lock if it still points at `vid`. Never throws: the transition has already
 * happened and its winner must go on to the side effect; a lock left behind is replaced by the next
 * `addNotifyCall`, which sees that its verification is no longer OPEN.
 */
async function releaseLock(ctx: StoreContext, engineerKey: string, vid: string): Promise<void> {
  const x = new Expr();
  await attempt('releaseLock', () =>
    ctx.client.send(
      new DeleteItemCommand({
        TableName: ctx.table,
        Key: toItem(keys.openLock(engineerKey)),
        ConditionExpression: `${x.name('verificationId')} = ${x.value(vid)}`,
        ...x.params(),
      }),
    ),
  ).catch((err: unknown) => {
    ctx.logger?.warn(
      { err, verificationId: vid },
      'could not release the open-verification lock; it will be replaced',
    );
  });
}

export async function transitionVerification(
  ctx: StoreContext,
  id: string,
  input: TransitionInput,
): Promise<Verification> {
  const { from, to, by, reason, at } = input;
  for (const f of from) {
    if (!ALLOWED_TRANSITIONS[f]?.includes(to)) throw new TypeError(`no transition ${f} → ${to}`);
  }
  if (!by) throw new TypeError('transition.by is required');
  const atIso = at.toISOString();
  const tid = randomUUID();
  for (let round = 0; round < 5; round++) {
    // Read first so the history entry names the state we actually leave, then write on that state.
    const raw = await getRaw(ctx, 'transitionVerification', keys.verification(id), at);
    if (raw?.entity !== 'verification') throw new NotFoundError(id);
    const current = toVerification(raw);
    if (round > 0 && lastTransitionToken(raw) === tid) {
      // Our write landed but its answer was lost: we are the winner.
      if (current.history.at(-1)?.from === 'OPEN') await releaseLock(ctx, current.engineerKey, id);
      return current;
    }
    if (!from.includes(current.state)) throw new AlreadyDecidedError(id, current.state);
    if (input.expectCallCount !== undefined && current.callCount !== input.expectCallCount) {
      throw new StaleVerificationError(id, input.expectCallCount, current.callCount);
    }
    const entry: Transition = { from: current.state, to, at: atIso, by, reason };
    const x = new Expr();
    const fields = patchFields(input.set ?? {});
    const u = new Update(x).assign({
      ...fields,
      state: to,
      updatedAt: atIso,
      gsi1pk: gsi.verificationState(to),
    });
    u.set.push(`${x.name('history')} = list_append(${x.name('history')}, ${x.value([{ ...entry, tid }])})`);
    if (isTerminal(to)) {
      u.assign({ closedAt: atIso, gsi1sk: atIso, ttl: ttlAfter(at, ctx.retention.closedDays) });
    } else if (fields.deadline !== undefined) {
      u.assign({ gsi1sk: fields.deadline });
    } else {
      u.set.push(`${x.name('gsi1sk')} = ${x.name('deadline')}`);
    }
    let cond = `${x.name('state')} = ${x.value(current.state)}`;
    if (input.expectCallCount !== undefined)
      cond += ` AND ${x.name('callCount')} = ${x.value(input.expectCallCount)}`;
    const r = await attempt('transitionVerification', () =>
      ctx.client.send(
        new UpdateItemCommand({
          TableName: ctx.table,
          Key: toItem(keys.verification(id)),
          UpdateExpression: u.toString(),
          ConditionExpression: cond,
          ReturnValues: 'ALL_NEW',
          ...x.params(),
        }),
      ),
    );
    if (r === CONDITION_FAILED) continue; // changed since we read it: read again and decide
    const updated = toVerification(fromItem(r.Attributes ?? {}));
    if (current.state === 'OPEN') await releaseLock(ctx, updated.engineerKey, id);
    return updated;
  }
  const last = await getVerification(ctx, id);
  throw new AlreadyDecidedError(id, last?.state, 'contended');
}

export async function updateVerification(
  ctx: StoreContext,
  id: string,
  input: VerificationUpdate,
): Promise<Verification> {
  const { set, at, when = {} } = input;
  const fields = patchFields(set);
  const x = new Expr();
  const u = new Update(x).assign({ ...fields, updatedAt: at.toISOString() });
  const conds = [`attribute_exists(${x.name('pk')})`];
  if (when.state) conds.push(x.oneOf('state', when.state));
  if (when.dmStatus) conds.push(x.oneOf('dmStatus', when.dmStatus));
  if (when.callCount !== undefined) conds.push(`${x.name('callCount')} = ${x.value(when.callCount)}`);
  if (when.updatedAt !== undefined) conds.push(`${x.name('updatedAt')} = ${x.value(when.updatedAt)}`);
  if (fields.deadline !== undefined) {
    // The deadline is also the index sort key, which only OPEN / DUO_PENDING items use for it.
    if (!when.state || when.state.some(isTerminal)) {
      throw new TypeError('changing the deadline needs when.state limited to OPEN / DUO_PENDING');
    }
    u.assign({ gsi1sk: fields.deadline });
  }
  const r = await attempt('updateVerification', () =>
    ctx.client.send(
      new UpdateItemCommand({
        TableName: ctx.table,
        Key: toItem(keys.verification(id)),
        UpdateExpression: u.toString(),
        ConditionExpression: conds.join(' AND '),
        ReturnValues: 'ALL_NEW',
        ...x.params(),
      }),
    ),
  );
  if (r !== CONDITION_FAILED) return toVerification(fromItem(r.Attributes ?? {}));
  const current = await getVerification(ctx, id);
  if (!current) throw new NotFoundError(id);
  const why: string[] = [];
  if (when.dmStatus && !when.dmStatus.includes(current.dmStatus)) why.push(`dmStatus is ${current.dmStatus}`);
  if (when.callCount !== undefined && current.callCount !== when.callCount)
    why.push(`callCount is ${current.callCount}`);
  if (when.updatedAt !== undefined && current.updatedAt !== when.updatedAt)
    why.push(`changed at ${current.updatedAt}`);
  throw new AlreadyDecidedError(id, current.state, why.join(', ') || undefined);
}
