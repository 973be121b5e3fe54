/** Per-day counters, the last drain run, and named run leases. */
import { DeleteItemCommand, PutItemCommand, UpdateItemCommand } from '@aws-sdk/client-dynamodb';
import {
  attempt,
  batchGetRaw,
  CONDITION_FAILED,
  call,
  getRaw,
  read,
  type StoreContext,
  ttlAfter,
} from './context.js';
import { Expr, toItem, Update } from './marshal.js';
import { COUNTER_PREFIX, keys } from './schema.js';
import type { Counters, DrainRun } from './types.js';

const DAY = /^\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])$/;
/** Counters per UpdateItem; keeps each expression well under DynamoDB's 4 KB limit. */
const COUNTERS_PER_UPDATE = 100;
const MAX_NAME = 255;

function checkDay(day: string): void {
  if (!DAY.test(day)) throw new TypeError(`day must be YYYY-MM-DD, got ${JSON.stringify(day)}`);
}

export async function incrementCounters(ctx: StoreContext, day: string, counts: Counters): Promise<void> {
  checkDay(day);
  const entries = Object.entries(counts).filter(([, n]) => n !== 0);
  for (const [name, n] of entries) {
    if (!name || name.length > MAX_NAME) throw new TypeError(`bad counter name ${JSON.stringify(name)}`);
    if (!Number.isSafeInteger(n)) throw new TypeError(`counter ${name} must be an integer, got ${n}`);
  }
  for (let i = 0; i < entries.length; i += COUNTERS_PER_UPDATE) {
    const x = new Expr();
    const u = new Update(x).assign({
      entity: 'counters',
      day,
      ttl: ttlAfter(`${day}T00:00:00.000Z`, ctx.retention.counterDays),
    });
    for (const [name, n] of entries.slice(i, i + COUNTERS_PER_UPDATE)) {
      u.add.push(`${x.name(COUNTER_PREFIX + name)} ${x.value(n)}`);
    }
    await call('incrementCounters', () =>
      ctx.client.send(
        new UpdateItemCommand({
          TableName: ctx.table,
          Key: toItem(keys.counters(day)),
          UpdateExpression: u.toString(),
          ...x.params(),
        }),
      ),
    );
  }
}

export async function readCounters(ctx: StoreContext, days: readonly string[]): Promise<Counters> {
  const unique = [...new Set(days)];
  unique.forEach(checkDay);
  const rows = await batchGetRaw(
    ctx,
    'readCounters',
    unique.map((d) => keys.counters(d)),
  );
  const out: Counters = {};
  for (const raw of rows) {
    for (const [k, v] of Object.entries(raw)) {
      if (k.startsWith(COUNTER_PREFIX) && typeof v === 'number') {
        const name = k.slice(COUNTER_PREFIX.length);
        out[name] = (out[name] ?? 0) + v;
      }
    }
  }
  return out;
}

export async function recordDrainRun(
  ctx: StoreContext,
  run: { at: Date; received: number; decided: number; errors: number; durationMs: number },
): Promise<void> {
  const at = run.at.toISOString();
  const x = new Expr();
  await attempt('recordDrainRun', () =>
    ctx.client.send(
      new PutItemCommand({
        TableName: ctx.table,
        Item: toItem({
          ...keys.drainRun(),
          entity: 'run',
          at,
          received: run.received,
          decided: run.decided,
          errors: run.errors,
          durationMs: run.durationMs,
        }),
        // Replicas finish in any order; the newest run wins.
        ConditionExpression: `attribute_not_exists(${x.name('pk')}) OR ${x.name('at')} <= ${x.value(at)}`,
        ...x.params(),
      }),
    ),
  );
}

export async function lastDrainRun(ctx: StoreContext): Promise<DrainRun | undefined> {
  const raw = await getRaw(ctx, 'lastDrainRun', keys.drainRun());
  if (!raw) return undefined;
  return {
    at: read.str(raw, 'at') ?? '',
    received: read.num(raw, 'received'),
    decided: read.num(raw, 'decided'),
    errors: read.num(raw, 'errors'),
    durationMs: read.num(raw, 'durationMs'),
  };
}

export async function acquireLease(
  ctx: StoreContext,
  name: string,
  owner: string,
  leaseMs: number,
  now: Date = new Date(),
): Promise<boolean> {
  if (!name || !owner) throw new TypeError('lease name and owner are required');
  const x = new Expr();
  const u = new Update(x).assign({
    entity: 'lease',
    name,
    owner,
    leaseUntil: new Date(now.getTime() + leaseMs).toISOString(),
    acquiredAt: now.toISOString(),
  });
  const cond = `attribute_not_exists(${x.name('pk')}) OR ${x.name('owner')} = ${x.value(owner)} OR ${x.name('leaseUntil')} < ${x.value(now.toISOString())}`;
  const r = await attempt('acquireLease', () =>
    ctx.client.send(
      new UpdateItemCommand({
        TableName: ctx.table,
        Key: toItem(keys.lease(name)),
        UpdateExpression: u.toString(),
        ConditionExpression: cond,
        ...x.params(),
      }),
    ),
  );
  return r !== CONDITION_FAILED;
}

export async function releaseLease(ctx: StoreContext, name: string, owner: string): Promise<boolean> {
  const x = new Expr();
  const r = await attempt('releaseLease', () =>
    ctx.client.send(
      new DeleteItemCommand({
        TableName: ctx.table,
        Key: toItem(keys.lease(name)),
        ConditionExpression: `${x.name('owner')} = ${x.value(owner)}`,
        ...x.params(),
      }),
    ),
  );
  return r !== CONDITION_FAILED;
}
