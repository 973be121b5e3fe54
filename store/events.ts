/** Event claims: the two-phase, lease-based dedupe of CloudTrail eventIDs. */
import { DeleteItemCommand, UpdateItemCommand } from '@aws-sdk/client-dynamodb';
import { mapLimit } from '../lib/limit.js';
import {
  attempt,
  batchGetRaw,
  batchWriteRaw,
  CONDITION_FAILED,
  getRaw,
  nowSeconds,
  read,
  type StoreContext,
  ttlAfter,
} from './context.js';
import { ClaimLostError } from './errors.js';
import { Expr, fromItem, toItem, Update } from './marshal.js';
import { keys } from './schema.js';
import type { ClaimResult, DecisionSummary, EventClaim } from './types.js';

const CLAIM_CONCURRENCY = 16;

export function toEventClaim(raw: Record<string, unknown>): EventClaim {
  return {
    eventId: read.str(raw, 'eventId') ?? '',
    status: raw.status === 'decided' ? 'decided' : 'claimed',
    claimedBy: read.str(raw, 'claimedBy') ?? '',
    claimedAt: read.str(raw, 'claimedAt') ?? '',
    leaseUntil: read.str(raw, 'leaseUntil'),
    attempts: read.num(raw, 'attempts', 1),
    decidedAt: read.str(raw, 'decidedAt'),
    decision: read.obj<DecisionSummary>(raw, 'decision'),
  };
}

function validateClaimArgs(eventId: string, owner: string, leaseMs: number): void {
  if (!eventId) throw new TypeError('eventId is required');
  if (!owner) throw new TypeError('owner is required');
  if (!Number.isFinite(leaseMs) || leaseMs <= 0)
    throw new TypeError(`leaseMs must be positive, got ${leaseMs}`);
}

export async function claimEvent(
  ctx: StoreContext,
  eventId: string,
  owner: string,
  leaseMs: number,
  now: Date = new Date(),
): Promise<ClaimResult> {
  validateClaimArgs(eventId, owner, leaseMs);
  const nowIso = now.toISOString();
  for (let round = 0; round < 3; round++) {
    const x = new Expr();
    const u = new Update(x).assign({
      entity: 'event',
      eventId,
      status: 'claimed',
      claimedBy: owner,
      claimedAt: nowIso,
      leaseUntil: new Date(now.getTime() + leaseMs).toISOString(),
      ttl: ttlAfter(now, ctx.retention.eventDays),
      // A claim over an expired (TTL) item starts afresh.
      decidedAt: null,
      decision: null,
    });
    u.add.push(`${x.name('attempts')} ${x.value(1)}`);
    // Free, expired, ours already, or a lease that has run out.
    const cond =
      `attribute_not_exists(${x.name('pk')}) OR ${x.name('ttl')} <= ${x.value(nowSeconds(now))} OR ` +
      `(${x.name('status')} = ${x.value('claimed')} AND ` +
      `(${x.name('leaseUntil')} < ${x.value(nowIso)} OR ${x.name('claimedBy')} = ${x.value(owner)}))`;
    const r = await attempt('claimEvent', () =>
      ctx.client.send(
        new UpdateItemCommand({
          TableName: ctx.table,
          Key: toItem(keys.event(eventId)),
          UpdateExpression: u.toString(),
          ConditionExpression: cond,
          ...x.params(),
        }),
      ),
    );
    if (r !== CONDITION_FAILED) return 'claimed';
    const current = await getRaw(ctx, 'claimEvent', keys.event(eventId), now);
    if (!current) continue; // released or expired in between: try again
    return current.status === 'decided' ? 'duplicate' : 'busy';
  }
  return 'busy';
}

export async function claimEvents(
  ctx: StoreContext,
  eventIds: readonly string[],
  owner: string,
  leaseMs: number,
  now: Date = new Date(),
): Promise<Map<string, ClaimResult>> {
  const unique = [...new Set(eventIds)];
  const result = new Map<string, ClaimResult>();
  if (unique.length === 0) return result;
  // Pre-filter: a read is cheaper than a failed conditional write, and most redeliveries are decided.
  const known = await batchGetRaw(
    ctx,
    'claimEvents',
    unique.map((id) => keys.event(id)),
    now,
  );
  const nowIso = now.toISOString();
  for (const raw of known) {
    const c = toEventClaim(raw);
    if (c.status === 'decided') result.set(c.eventId, 'duplicate');
    else if (c.claimedBy !== owner && c.leaseUntil && c.leaseUntil >= nowIso) result.set(c.eventId, 'busy');
  }
  const toClaim = unique.filter((id) => !result.has(id));
  const claimed = await mapLimit(toClaim, CLAIM_CONCURRENCY, (id) =>
    claimEvent(ctx, id, owner, leaseMs, now),
  );
  toClaim.forEach((id, i) => {
    result.set(id, claimed[i] as ClaimResult);
  });
  return result;
}

/**
 * What is already known of these eventIDs, in one BatchGetItem per 100: `duplicate` when decided,
 * `busy` when another drainer holds a live claim on it; unknown ids are left out (free to decide).
 */
export async function checkEvents(
  ctx: StoreContext,
  eventIds: readonly string[],
  owner: string,
  now: Date = new Date(),
): Promise<Map<string, ClaimResult>> {
  const unique = [...new Set(eventIds)];
  const result = new Map<string, ClaimResult>();
  if (unique.length === 0) return result;
  const known = await batchGetRaw(
    ctx,
    'checkEvents',
    unique.map((id) => keys.event(id)),
    now,
  );
  const nowIso = now.toISOString();
  for (const raw of known) {
    const c = toEventClaim(raw);
    if (c.status === 'decided') result.set(c.eventId, 'duplicate');
    else if (c.claimedBy !== owner && c.leaseUntil && c.leaseUntil >= nowIso) result.set(c.eventId, 'busy');
  }
  return result;
}

/**
 * Mark events decided, 25 to a BatchWriteItem: the record a redelivery is recognised by. Unconditional
 * (BatchWriteItem takes no conditions): the effects that must happen once — a call joining a
 * verification, an alert — are conditional writes of their own, so two drainers racing on one record
 * write the same decision here.
 */
export async function recordDecisions(
  ctx: StoreContext,
  entries: readonly { eventId: string; owner: string; decision: DecisionSummary }[],
  now: Date = new Date(),
): Promise<void> {
  const nowIso = now.toISOString();
  const ttl = ttlAfter(now, ctx.retention.eventDays);
  await batchWriteRaw(
    ctx,
    'recordDecisions',
    entries.map((e) => ({
      ...keys.event(e.eventId),
      entity: 'event',
      eventId: e.eventId,
      status: 'decided',
      claimedBy: e.owner,
      claimedAt: nowIso,
      attempts: 1,
      decidedAt: nowIso,
      decision: e.decision,
      ttl,
    })),
  );
}

export async function completeEvent(
  ctx: StoreContext,
  eventId: string,
  owner: string,
  decision: DecisionSummary,
  now: Date = new Date(),
): Promise<EventClaim> {
  const x = new Expr();
  const u = new Update(x).assign({
    status: 'decided',
    decidedAt: now.toISOString(),
    decision,
    leaseUntil: null,
  });
  const cond = `${x.name('status')} = ${x.value('claimed')} AND ${x.name('claimedBy')} = ${x.value(owner)}`;
  const r = await attempt('completeEvent', () =>
    ctx.client.send(
      new UpdateItemCommand({
        TableName: ctx.table,
        Key: toItem(keys.event(eventId)),
        UpdateExpression: u.toString(),
        ConditionExpression: cond,
        ReturnValues: 'ALL_NEW',
        ...x.params(),
      }),
    ),
  );
  if (r !== CONDITION_FAILED) return toEventClaim(fromItem(r.Attributes ?? {}));
  const current = await getRaw(ctx, 'completeEvent', keys.event(eventId), now);
  // Completing twice is harmless when we were the one who decided.
  if (current && current.status === 'decided' && current.claimedBy === owner) return toEventClaim(current);
  throw new ClaimLostError(eventId, owner, current ? read.str(current, 'claimedBy') : undefined);
}

export async function releaseEvent(ctx: StoreContext, eventId: string, owner: string): Promise<boolean> {
  const x = new Expr();
  const cond = `${x.name('status')} = ${x.value('claimed')} AND ${x.name('claimedBy')} = ${x.value(owner)}`;
  const r = await attempt('releaseEvent', () =>
    ctx.client.send(
      new DeleteItemCommand({
        TableName: ctx.table,
        Key: toItem(keys.event(eventId)),
        ConditionExpression: cond,
        ...x.params(),
      }),
    ),
  );
  return r !== CONDITION_FAILED;
}

export async function getEventClaim(
  ctx: StoreContext,
  eventId: string,
  now: Date = new Date(),
): Promise<EventClaim | undefined> {
  const raw = await getRaw(ctx, 'getEventClaim', keys.event(eventId), now);
  return raw ? toEventClaim(raw) : undefined;
}
