/** Silences: staff-set, expiring selectors that lower matching calls to log. */
import { PutItemCommand, UpdateItemCommand } from '@aws-sdk/client-dynamodb';
import { attempt, CONDITION_FAILED, getRaw, queryAll, read, type StoreContext, ttlAfter } from './context.js';
import { NotFoundError } from './errors.js';
import { newId } from './ids.js';
import { Expr, fromItem, toItem, Update } from './marshal.js';
import { GSI1, gsi, keys } from './schema.js';
import { type NewSilence, SILENCE_SELECTOR_KINDS, type Silence, type SilenceSelector } from './types.js';

export function toSilence(raw: Record<string, unknown>): Silence {
  return {
    id: read.str(raw, 'id') ?? '',
    selector: read.obj<SilenceSelector>(raw, 'selector') ?? { kind: 'rule', value: '' },
    reason: read.str(raw, 'reason') ?? '',
    createdBy: read.str(raw, 'createdBy') ?? '',
    createdAt: read.str(raw, 'createdAt') ?? '',
    expiresAt: read.str(raw, 'expiresAt') ?? '',
    hits: read.num(raw, 'hits'),
    lastHitAt: read.str(raw, 'lastHitAt'),
    deletedAt: read.str(raw, 'deletedAt'),
    deletedBy: read.str(raw, 'deletedBy'),
  };
}

export async function createSilence(ctx: StoreContext, input: NewSilence): Promise<Silence> {
  const now = input.now ?? new Date();
  const { selector } = input;
  if (!SILENCE_SELECTOR_KINDS.includes(selector.kind))
    throw new TypeError(`unknown selector kind ${selector.kind}`);
  if (!selector.value) throw new TypeError('selector.value is required');
  if (!input.reason) throw new TypeError('a silence needs a reason');
  if (!input.createdBy) throw new TypeError('createdBy is required');
  if (input.expiresAt.getTime() <= now.getTime()) throw new TypeError('expiresAt must be in the future');
  const id = newId('s_', now);
  const expiresAt = input.expiresAt.toISOString();
  const item = {
    ...keys.silence(id),
    entity: 'silence',
    id,
    selector: { kind: selector.kind, value: selector.value },
    reason: input.reason,
    createdBy: input.createdBy,
    createdAt: now.toISOString(),
    expiresAt,
    hits: 0,
    gsi1pk: gsi.silences,
    gsi1sk: expiresAt,
    ttl: ttlAfter(input.expiresAt, ctx.retention.silenceDays),
  };
  const x = new Expr();
  const r = await attempt('createSilence', () =>
    ctx.client.send(
      new PutItemCommand({
        TableName: ctx.table,
        Item: toItem(item),
        ConditionExpression: `attribute_not_exists(${x.name('pk')})`,
        ...x.params(),
      }),
    ),
  );
  if (r === CONDITION_FAILED) throw new TypeError(`silence id ${id} collided`);
  return toSilence(item);
}

export async function getSilence(
  ctx: StoreContext,
  id: string,
  now: Date = new Date(),
): Promise<Silence | undefined> {
  const raw = await getRaw(ctx, 'getSilence', keys.silence(id), now);
  return raw && raw.entity === 'silence' ? toSilence(raw) : undefined;
}

export async function listActiveSilences(ctx: StoreContext, now: Date): Promise<Silence[]> {
  const x = new Expr();
  const rows = await queryAll(
    ctx,
    'listActiveSilences',
    {
      IndexName: GSI1,
      KeyConditionExpression: `${x.name('gsi1pk')} = ${x.value(gsi.silences)} AND ${x.name('gsi1sk')} > ${x.value(now.toISOString())}`,
      ...x.params(),
    },
    undefined,
    now,
  );
  return rows.filter((r) => r.entity === 'silence' && r.deletedAt === undefined).map(toSilence);
}

export async function deleteSilence(
  ctx: StoreContext,
  id: string,
  by: string,
  at: Date = new Date(),
): Promise<Silence> {
  const x = new Expr();
  const u = new Update(x).assign({
    deletedAt: at.toISOString(),
    deletedBy: by,
    gsi1pk: null,
    gsi1sk: null,
    ttl: ttlAfter(at, ctx.retention.silenceDays),
  });
  const cond = `attribute_exists(${x.name('pk')}) AND attribute_not_exists(${x.name('deletedAt')}) AND ${x.name('expiresAt')} > ${x.value(at.toISOString())}`;
  const r = await attempt('deleteSilence', () =>
    ctx.client.send(
      new UpdateItemCommand({
        TableName: ctx.table,
        Key: toItem(keys.silence(id)),
        UpdateExpression: u.toString(),
        ConditionExpression: cond,
        ReturnValues: 'ALL_NEW',
        ...x.params(),
      }),
    ),
  );
  if (r !== CONDITION_FAILED) return toSilence(fromItem(r.Attributes ?? {}));
  // Our own delete, retried by the SDK after its answer was lost, is still a success.
  const current = await getSilence(ctx, id, at);
  if (current && current.deletedBy === by && current.deletedAt === at.toISOString()) return current;
  throw new NotFoundError(id);
}

export async function recordSilenceHit(
  ctx: StoreContext,
  id: string,
  at: Date = new Date(),
): Promise<boolean> {
  const x = new Expr();
  const u = new Update(x).assign({ lastHitAt: at.toISOString() });
  u.add.push(`${x.name('hits')} ${x.value(1)}`);
  const r = await attempt('recordSilenceHit', () =>
    ctx.client.send(
      new UpdateItemCommand({
        TableName: ctx.table,
        Key: toItem(keys.silence(id)),
        UpdateExpression: u.toString(),
        ConditionExpression: `attribute_exists(${x.name('pk')})`,
        ...x.params(),
      }),
    ),
  );
  return r !== CONDITION_FAILED;
}
