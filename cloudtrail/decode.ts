/**
 * Decode whatever arrives on the queue (or on a line of a file) into CloudTrail records.
 *
 * Accepted shapes, outermost first (at most {@link MAX_ENVELOPE_LEVELS} wrappers):
 *  - an SNS notification (`Type: "Notification"`) whose `Message` holds any of these shapes;
 *  - an EventBridge event whose `detail-type` is one of the CloudTrail detail types and whose
 *    `detail` is the record;
 *  - a bare CloudTrail record;
 *  - a CloudTrail log file object `{"Records": [...]}` (each element judged on its own);
 *  - a collector's heartbeat (an EventBridge event, see cloudtrail/heartbeat.ts), returned in
 *    `heartbeats` with no records.
 *
 * The decoder never throws: every problem becomes a typed {@link DecodeFailure}. It never copies or
 * rewrites the input either: the records returned are the very objects `JSON.parse` produced.
 */
import {
  HEARTBEAT_DETAIL_TYPE,
  HEARTBEAT_RULE_NAME,
  HEARTBEAT_SOURCE,
  ruleNameOfArn,
  SCHEDULED_DETAIL_TYPE,
  SCHEDULED_SOURCE,
} from './heartbeat.js';
import type {
  CloudTrailRecord,
  DecodeFailure,
  DecodeFailureReason,
  DecodeResult,
  Envelope,
  Heartbeat,
} from './record.js';

export interface DecodeLimits {
  /** Largest accepted input, in UTF-8 bytes, checked before parsing. */
  maxBytes: number;
  /** Deepest accepted nesting of arrays and objects (`{}` is depth 1). */
  maxDepth: number;
}

/** 1 MiB (SQS and EventBridge cap messages at 256 KiB) and 64 levels of nesting. */
export const DEFAULT_LIMITS: DecodeLimits = Object.freeze({ maxBytes: 1024 * 1024, maxDepth: 64 });

/** SNS → EventBridge → record is two; one spare level for an SNS fan-out re-published through SNS. */
export const MAX_ENVELOPE_LEVELS = 3;

/**
 * The EventBridge `detail-type`s under which CloudTrail delivers records. AWS documents the sign-in
 * type as "AWS Console Signin via CloudTrail" while real events carry "AWS Console Sign In via
 * CloudTrail", so both spellings are accepted.
 */
export const CLOUDTRAIL_DETAIL_TYPES: ReadonlySet<string> = new Set([
  'AWS API Call via CloudTrail',
  'AWS Console Sign In via CloudTrail',
  'AWS Console Signin via CloudTrail',
  'AWS Service Event via CloudTrail',
  'AWS Console Action via CloudTrail',
  'AWS Insight via CloudTrail',
]);

/** Fields every record must carry, in the order they are checked. */
const REQUIRED_STRINGS = ['eventID', 'eventName', 'eventSource', 'eventTime'] as const;
/** Optional fields that must be a string when present (`null` is tolerated as "absent"). */
const OPTIONAL_STRINGS = [
  'eventVersion',
  'awsRegion',
  'sourceIPAddress',
  'userAgent',
  'errorCode',
  'errorMessage',
  'recipientAccountId',
  'eventType',
] as const;
/** Optional fields that must be an object or null when present. */
const OPTIONAL_OBJECTS = ['requestParameters', 'responseElements', 'additionalEventData'] as const;
/** Any one of these marks an object as meant to be a CloudTrail record (then judged field by field). */
const RECORD_MARKERS = [
  'eventID',
  'eventName',
  'eventSource',
  'eventTime',
  'eventVersion',
  'userIdentity',
  'requestParameters',
  'responseElements',
  'recipientAccountId',
] as const;

const hasOwn = Object.prototype.hasOwnProperty;

/** The own property `key` of `o`, never an inherited one (a polluted prototype cannot leak in). */
function own(o: object, key: string): unknown {
  return hasOwn.call(o, key) ? (o as Record<string, unknown>)[key] : undefined;
}

function fail(reason: DecodeFailureReason, detail: string): DecodeFailure {
  return { ok: false, reason, detail };
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function kind(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  const t = typeof v;
  return t === 'object' ? 'an object' : `a ${t}`;
}

/** Quote an untrusted string for a failure detail: bounded length, control characters escaped. */
function quote(s: string, max = 80): string {
  const cut = s.length > max ? `${s.slice(0, max)}…` : s;
  return JSON.stringify(cut);
}

function errorText(e: unknown): string {
  try {
    return e instanceof Error ? e.message : String(e);
  } catch {
    return 'unprintable error';
  }
}

function resolveLimits(limits: Partial<DecodeLimits> | undefined): DecodeLimits {
  if (!limits) return DEFAULT_LIMITS;
  const maxBytes =
    typeof limits.maxBytes === 'number' && limits.maxBytes >= 0 ? limits.maxBytes : DEFAULT_LIMITS.maxBytes;
  const maxDepth =
    typeof limits.maxDepth === 'number' && limits.maxDepth >= 1 ? limits.maxDepth : DEFAULT_LIMITS.maxDepth;
  return { maxBytes, maxDepth };
}

/** "missing_field: missing eventID" — the form used in logs, CLI output and DLQ reports. */
export function describeFailure(f: DecodeFailure): string {
  return `${f.reason}: ${f.detail}`;
}

/** Decode one SQS message body or one line of a file. Never throws. */
export function decodeMessage(body: string | Uint8Array, limits?: Partial<DecodeLimits>): DecodeResult {
  try {
    return decodeText(body, resolveLimits(limits), 0);
  } catch (e) {
    return fail('not_cloudtrail', `unexpected error while decoding: ${errorText(e)}`);
  }
}

/**
 * Decode an already-parsed JSON value (a corpus line's `event`, a test fixture). The nesting depth is
 * checked with an iterative walk that also stops on cycles, so hand-built objects are safe too.
 * Never throws.
 */
export function decodeValue(value: unknown, limits?: Partial<DecodeLimits>): DecodeResult {
  try {
    const lim = resolveLimits(limits);
    const depth = valueDepthExceeds(value, lim.maxDepth);
    if (depth !== undefined) return fail('too_deep', depth);
    return decodeParsed(value, lim, 0);
  } catch (e) {
    return fail('not_cloudtrail', `unexpected error while decoding: ${errorText(e)}`);
  }
}

function decodeText(body: string | Uint8Array, lim: DecodeLimits, level: number): DecodeResult {
  let text: string;
  if (typeof body === 'string') {
    text = body;
    // A UTF-16 code unit is 1–3 UTF-8 bytes (a surrogate pair is 4 bytes for 2 units), so the exact
    // byte count is only needed in the band where the length alone cannot decide.
    if (text.length > lim.maxBytes) return tooLarge(text.length, lim, true);
    if (text.length * 3 > lim.maxBytes) {
      const bytes = Buffer.byteLength(text, 'utf8');
      if (bytes > lim.maxBytes) return tooLarge(bytes, lim, false);
    }
  } else if (body instanceof Uint8Array) {
    if (body.byteLength > lim.maxBytes) return tooLarge(body.byteLength, lim, false);
    text = Buffer.from(body.buffer, body.byteOffset, body.byteLength).toString('utf8');
  } else {
    return fail('not_json', `input is ${kind(body)}, not text`);
  }
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1); // a byte-order mark: JSON.parse would refuse it
  if (text.length === 0) return fail('empty', 'empty input');
  if (isBlankStart(text.charCodeAt(0)) && text.trim().length === 0) return fail('empty', 'blank input');
  if (textDepthExceeds(text, lim.maxDepth))
    return fail('too_deep', `nesting deeper than ${lim.maxDepth} levels`);
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    return fail('not_json', errorText(e));
  }
  return decodeParsed(value, lim, level);
}

function tooLarge(size: number, lim: DecodeLimits, atLeast: boolean): DecodeFailure {
  return fail('too_large', `${atLeast ? 'at least ' : ''}${size} bytes, limit ${lim.maxBytes}`);
}

function isBlankStart(c: number): boolean {
  return c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09 || c === 0xfeff;
}

/**
 * True when the JSON text nests arrays/objects deeper than `max`. Cheap bound first: when the text holds
 * no more than `max` brackets in all it cannot be too deep (the common case: one record has ~20).
 * Otherwise a linear scan that counts brackets outside strings, jumping over strings with indexOf.
 * Malformed text is judged as far as it goes; JSON.parse then reports it.
 */
export function textDepthExceeds(text: string, max: number): boolean {
  let count = 0;
  for (let i = text.indexOf('{'); i !== -1; i = text.indexOf('{', i + 1)) if (++count > max) break;
  if (count <= max) {
    for (let i = text.indexOf('['); i !== -1; i = text.indexOf('[', i + 1)) if (++count > max) break;
    if (count <= max) return false;
  }
  let depth = 0;
  const n = text.length;
  for (let i = 0; i < n; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x22 /* " */) {
      // Skip to the closing quote: one not preceded by an odd run of backslashes.
      let j = i;
      for (;;) {
        j = text.indexOf('"', j + 1);
        if (j === -1) return false;
        let k = j - 1;
        while (text.charCodeAt(k) === 0x5c /* \ */) k--;
        if ((j - 1 - k) % 2 === 0) break;
      }
      i = j;
    } else if (c === 0x7b /* { */ || c === 0x5b /* [ */) {
      if (++depth > max) return true;
    } else if (c === 0x7d /* } */ || c === 0x5d /* ] */) {
      depth--;
    }
  }
  return false;
}

/**
 * Iterative depth check of a parsed value. Returns a failure detail when the value nests deeper than
 * `max` (a cycle counts as infinitely deep), else undefined. Each container is visited once.
 */
function valueDepthExceeds(root: unknown, max: number): string | undefined {
  if (typeof root !== 'object' || root === null) return undefined;
  // Depth-first with explicit enter/exit so that "on the current path" (a cycle) can be told apart
  // from "already seen through another path" (a shared, harmless sub-object).
  const onPath = new Set<object>();
  const done = new Set<object>();
  const stack: Array<{ node: object; depth: number; exit: boolean }> = [
    { node: root, depth: 1, exit: false },
  ];
  while (stack.length > 0) {
    const top = stack.pop() as { node: object; depth: number; exit: boolean };
    if (top.exit) {
      onPath.delete(top.node);
      done.add(top.node);
      continue;
    }
    if (top.depth > max) return `nesting deeper than ${max} levels`;
    onPath.add(top.node);
    stack.push({ node: top.node, depth: top.depth, exit: true });
    const children: unknown[] = Array.isArray(top.node) ? top.node : Object.values(top.node);
    for (const child of children) {
      if (typeof child !== 'object' || child === null || done.has(child)) continue;
      if (onPath.has(child)) return 'cyclic structure';
      stack.push({ node: child, depth: top.depth + 1, exit: false });
    }
  }
  return undefined;
}

function decodeParsed(value: unknown, lim: DecodeLimits, level: number): DecodeResult {
  if (!isObject(value)) {
    return fail(
      'not_cloudtrail',
      `JSON ${value === null ? 'null' : Array.isArray(value) ? 'array' : typeof value}, not an object`,
    );
  }

  // SNS notification (SQS subscription without raw message delivery).
  if (own(value, 'Type') === 'Notification' && hasOwn.call(value, 'Message')) {
    if (level >= MAX_ENVELOPE_LEVELS)
      return fail('not_cloudtrail', `more than ${MAX_ENVELOPE_LEVELS} envelope levels`);
    const message = own(value, 'Message');
    let inner: DecodeResult;
    if (typeof message === 'string') inner = decodeText(message, lim, level + 1);
    else if (isObject(message)) inner = decodeParsed(message, lim, level + 1);
    else return fail('wrong_type', `SNS Message is ${kind(message)}, expected a string`);
    return wrap(inner, 'sns', 'SNS Message');
  }

  // EventBridge event (rule target SQS, or SNS in between).
  if (hasOwn.call(value, 'detail-type')) {
    const detailType = own(value, 'detail-type');
    if (typeof detailType !== 'string') return fail('wrong_type', `detail-type is ${kind(detailType)}`);
    if (detailType === HEARTBEAT_DETAIL_TYPE || detailType === SCHEDULED_DETAIL_TYPE)
      return decodeHeartbeat(value, detailType);
    if (!CLOUDTRAIL_DETAIL_TYPES.has(detailType))
      return fail('not_cloudtrail', `detail-type ${quote(detailType)}`);
    if (level >= MAX_ENVELOPE_LEVELS)
      return fail('not_cloudtrail', `more than ${MAX_ENVELOPE_LEVELS} envelope levels`);
    const detail = own(value, 'detail');
    if (detail === undefined || detail === null) return fail('missing_field', 'missing detail');
    if (!isObject(detail)) return fail('wrong_type', `detail is ${kind(detail)}, expected an object`);
    const bad = checkRecord(detail);
    if (bad) return fail(bad.reason, `detail: ${bad.detail}`);
    return { ok: true, envelope: 'eventbridge', records: [detail as CloudTrailRecord], invalid: [] };
  }

  // CloudTrail log file, as delivered to S3.
  if (hasOwn.call(value, 'Records')) {
    const list = own(value, 'Records');
    if (!Array.isArray(list)) return fail('wrong_type', `Records is ${kind(list)}, expected an array`);
    const records: CloudTrailRecord[] = [];
    const invalid: DecodeFailure[] = [];
    for (let i = 0; i < list.length; i++) {
      const item: unknown = list[i];
      if (!isObject(item)) {
        invalid.push(fail('wrong_type', `Records[${i}] is ${kind(item)}, expected an object`));
        continue;
      }
      const bad = checkRecord(item);
      if (bad) invalid.push(fail(bad.reason, `Records[${i}]: ${bad.detail}`));
      else records.push(item as CloudTrailRecord);
    }
    return { ok: true, envelope: 'log_file', records, invalid };
  }

  // A bare record.
  for (const marker of RECORD_MARKERS) {
    if (hasOwn.call(value, marker)) {
      const bad = checkRecord(value);
      if (bad) return bad;
      return { ok: true, envelope: 'record', records: [value as CloudTrailRecord], invalid: [] };
    }
  }

  const keys = Object.keys(value);
  const shown = keys.slice(0, 5).map((k) => quote(k, 40));
  const more = keys.length > 5 ? `, … ${keys.length - 5} more` : '';
  return fail(
    'not_cloudtrail',
    keys.length === 0 ? 'empty object' : `unrecognised object (keys ${shown.join(', ')}${more})`,
  );
}

/** Give an inner result the outer envelope name; prefix inner failures with where they were found. */
function wrap(inner: DecodeResult, envelope: Envelope, where: string): DecodeResult {
  if (!inner.ok) return fail(inner.reason, `${where}: ${inner.detail}`);
  return inner.heartbeats
    ? { ok: true, envelope, records: inner.records, invalid: inner.invalid, heartbeats: inner.heartbeats }
    : { ok: true, envelope, records: inner.records, invalid: inner.invalid };
}

const ACCOUNT_ID = /^\d{12}$/;

/**
 * A collector's heartbeat (cloudtrail/heartbeat.ts): the scheduled event of a `…-heartbeat` rule, or an
 * explicit `secbot heartbeat` event. The account and time come from the envelope (EventBridge sets
 * them); an explicit heartbeat may carry them in `detail` (`account`, `sentAt`) instead.
 */
function decodeHeartbeat(value: Record<string, unknown>, detailType: string): DecodeResult {
  const source = own(value, 'source');
  const detail = own(value, 'detail');
  const d = isObject(detail) ? detail : {};
  if (detailType === SCHEDULED_DETAIL_TYPE) {
    if (source !== SCHEDULED_SOURCE)
      return fail('not_cloudtrail', `detail-type ${quote(detailType)} from source ${quote(String(source))}`);
    const resources = own(value, 'resources');
    const rules = Array.isArray(resources)
      ? resources.filter((r): r is string => typeof r === 'string').map(ruleNameOfArn)
      : [];
    if (!rules.some((n) => n !== undefined && HEARTBEAT_RULE_NAME.test(n))) {
      const named = rules.find((n) => n !== undefined);
      return fail(
        'not_cloudtrail',
        `a scheduled event${named ? ` of rule ${quote(named, 60)}` : ''}, not a secbot heartbeat (its rule's name ends in -heartbeat)`,
      );
    }
  } else if (source !== HEARTBEAT_SOURCE) {
    return fail('not_cloudtrail', `detail-type ${quote(detailType)} from source ${quote(String(source))}`);
  }
  const account = own(value, 'account') ?? own(d, 'account');
  const time = own(value, 'time') ?? own(d, 'sentAt');
  if (account === undefined || account === null) return fail('missing_field', 'heartbeat: missing account');
  if (typeof account !== 'string' || !ACCOUNT_ID.test(account))
    return fail('wrong_type', 'heartbeat: account is not a 12-digit account id');
  if (time === undefined || time === null) return fail('missing_field', 'heartbeat: missing time');
  if (typeof time !== 'string' || Number.isNaN(Date.parse(time)))
    return fail('wrong_type', 'heartbeat: time is not an ISO-8601 time');
  const heartbeat: Heartbeat = { account, sentAt: new Date(Date.parse(time)).toISOString() };
  const region = own(value, 'region');
  if (typeof region === 'string' && region !== '') heartbeat.region = region;
  const id = own(value, 'id');
  if (typeof id === 'string' && id !== '') heartbeat.id = id;
  return { ok: true, envelope: 'eventbridge', records: [], invalid: [], heartbeats: [heartbeat] };
}

/** Judge one record object; returns the first problem found, or undefined when it is acceptable. */
function checkRecord(r: Record<string, unknown>): DecodeFailure | undefined {
  for (const field of REQUIRED_STRINGS) {
    const v = own(r, field);
    if (v === undefined || v === null) return fail('missing_field', `missing ${field}`);
    if (typeof v !== 'string') return fail('wrong_type', `${field} is ${kind(v)}, expected a string`);
    if (v.length === 0) return fail('missing_field', `missing ${field} (empty string)`);
  }
  const identity = own(r, 'userIdentity');
  if (identity === undefined || identity === null) return fail('missing_field', 'missing userIdentity');
  if (!isObject(identity)) return fail('wrong_type', `userIdentity is ${kind(identity)}, expected an object`);
  // Optional fields: a value of the right type passes whoever owns it; only a wrong one is checked to
  // be the record's own (an inherited property is an absent field, never a reason to refuse).
  for (const field of OPTIONAL_OBJECTS) {
    const v = r[field];
    if (v !== undefined && v !== null && !isObject(v) && hasOwn.call(r, field)) {
      return fail('wrong_type', `${field} is ${kind(v)}, expected an object or null`);
    }
  }
  for (const field of OPTIONAL_STRINGS) {
    const v = r[field];
    if (v !== undefined && v !== null && typeof v !== 'string' && hasOwn.call(r, field)) {
      return fail('wrong_type', `${field} is ${kind(v)}, expected a string`);
    }
  }
  return undefined;
}
