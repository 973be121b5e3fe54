/**
 * Pages the security team through the PagerDuty Events API v2 (`POST /v2/enqueue`). Every outcome is a value:
 * 202 → ok; 400 (invalid event) → not retryable; 429 (with Retry-After when given), 408, 5xx, network errors and
 * timeouts → retryable, so the caller retries with the same dedup_key until PagerDuty accepts. Never throws;
 * never logs the routing key.
 */

import { Agent as HttpAgent, request as httpRequest, type IncomingMessage } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import { type Logger, pino } from 'pino';

export interface PageEvent {
  /** PagerDuty's dedup_key (≤ 255 characters): the same key for every retry, ack and resolve of one alert. */
  dedupKey: string;
  /** Truncated to PagerDuty's 1024 characters. */
  summary: string;
  severity: 'critical' | 'error' | 'warning' | 'info';
  source: string;
  component?: string;
  group?: string;
  class?: string;
  customDetails?: Record<string, unknown>;
  links?: { href: string; text: string }[];
}

export type PageResult =
  | { ok: true; dedupKey: string }
  | { ok: false; retryable: boolean; reason: string; retryAfterMs?: number };

export interface Pager {
  trigger(e: PageEvent): Promise<PageResult>;
  acknowledge(dedupKey: string): Promise<PageResult>;
  resolve(dedupKey: string): Promise<PageResult>;
}

export interface PagerDutyPagerOptions {
  /** The Events API v2 integration key of the service. */
  routingKey: string;
  /** e.g. `https://events.pagerduty.com/v2/enqueue` */
  eventsUrl: string;
  logger?: Logger;
  /** Longest wait for one event, answer body included. Default 10 s. */
  timeoutMs?: number;
}

export const SUMMARY_MAX_CHARS = 1024;
export const DEDUP_KEY_MAX_CHARS = 255;
/** PagerDuty refuses payloads over 512 KB; a bigger custom_details is replaced by a preview. */
const MAX_BODY_BYTES = 512 * 1024;
const CUSTOM_DETAILS_PREVIEW_CHARS = 16 * 1024;

/**
 * @example
 * const pager = createPagerDutyPager({ routingKey, eventsUrl: 'https://events.pagerduty.com/v2/enqueue', logger });
 * const r = await pager.trigger({ dedupKey: alert.id, summary, severity: 'critical', source: 'secbot' });
 * if (!r.ok && r.retryable) scheduleRetry(r.retryAfterMs);
 */
export function createPagerDutyPager(opts: PagerDutyPagerOptions): Pager {
  const timeoutMs = opts.timeoutMs ?? 10_000;
  const post = jsonPoster(opts.eventsUrl, timeoutMs);
  const log = (opts.logger ?? pino({ level: 'silent' })).child({ integration: 'pagerduty' });

  async function send(
    action: 'trigger' | 'acknowledge' | 'resolve',
    dedupKey: string,
    build: () => object,
  ): Promise<PageResult> {
    const failed = (r: Omit<Extract<PageResult, { ok: false }>, 'ok'>): PageResult => {
      log.warn(
        { dedupKey, eventAction: action, retryable: r.retryable, retryAfterMs: r.retryAfterMs },
        `pagerduty ${action} failed: ${r.reason}`,
      );
      return { ok: false, ...r };
    };
    if (typeof dedupKey !== 'string' || dedupKey.length === 0 || dedupKey.length > DEDUP_KEY_MAX_CHARS) {
      return failed({ retryable: false, reason: `dedup_key must be 1 to ${DEDUP_KEY_MAX_CHARS} characters` });
    }
    let body: string;
    try {
      body = JSON.stringify(build());
    } catch (err) {
      return failed({ retryable: false, reason: `event cannot be serialised: ${errorText(err)}` });
    }

    let status: number;
    let text: string;
    let retryAfter: string | null;
    try {
      ({ status, retryAfter, text } = await post(body));
    } catch (err) {
      return failed({
        retryable: true,
        reason:
          err instanceof PostTimeout
            ? `no answer within ${timeoutMs} ms`
            : `network error: ${networkErrorText(err)}`,
      });
    }

    const answer = parseJson(text);
    if (status >= 200 && status < 300) {
      const key = field(answer, 'dedup_key');
      const accepted = typeof key === 'string' && key !== '' ? key : dedupKey;
      log.info({ dedupKey: accepted, eventAction: action, status }, `pagerduty ${action} accepted`);
      return { ok: true, dedupKey: accepted };
    }
    const said = describeAnswer(answer, text);
    if (status === 429) {
      return failed({
        retryable: true,
        reason: `rate limited (429)${said}`,
        retryAfterMs: parseRetryAfter(retryAfter),
      });
    }
    if (status >= 500 || status === 408)
      return failed({ retryable: true, reason: `PagerDuty error ${status}${said}` });
    return failed({ retryable: false, reason: `refused with ${status}${said}` });
  }

  return {
    trigger(e) {
      return send('trigger', e.dedupKey, () => triggerBody(opts.routingKey, e));
    },
    acknowledge(dedupKey) {
      return send('acknowledge', dedupKey, () => ({
        routing_key: opts.routingKey,
        dedup_key: dedupKey,
        event_action: 'acknowledge',
      }));
    },
    resolve(dedupKey) {
      return send('resolve', dedupKey, () => ({
        routing_key: opts.routingKey,
        dedup_key: dedupKey,
        event_action: 'resolve',
      }));
    },
  };
}

function triggerBody(routingKey: string, e: PageEvent): object {
  const payload: Record<string, unknown> = {
    summary: truncate(e.summary, SUMMARY_MAX_CHARS),
    source: e.source,
    severity: e.severity,
  };
  if (e.component !== undefined) payload.component = e.component;
  if (e.group !== undefined) payload.group = e.group;
  if (e.class !== undefined) payload.class = e.class;
  if (e.customDetails !== undefined) payload.custom_details = e.customDetails;
  const body: Record<string, unknown> = {
    routing_key: routingKey,
    event_action: 'trigger',
    dedup_key: e.dedupKey,
    payload,
  };
  if (e.links && e.links.length > 0) body.links = e.links;
  body.client = 'secbot';

  // A page must land: rather than have PagerDuty refuse an oversized event for ever, send a preview of the
  // details (which starts with the CloudTrail eventIDs when the caller puts them first).
  if (Buffer.byteLength(JSON.stringify(body)) > MAX_BODY_BYTES && e.customDetails !== undefined) {
    const full = JSON.stringify(e.customDetails);
    payload.custom_details = {
      truncated: `custom_details was ${Buffer.byteLength(full)} bytes, over the Events API's 512 KB limit`,
      preview: full.slice(0, CUSTOM_DETAILS_PREVIEW_CHARS),
    };
  }
  return body;
}

/** At most `max` UTF-16 units, cut on a code point boundary, with an ellipsis when cut. */
export function truncate(s: string, max: number): string {
  if (s.length <= max) return s;
  let out = '';
  for (const ch of s) {
    if (out.length + ch.length > max - 1) break;
    out += ch;
  }
  return `${out}…`;
}

/** Retry-After is either delay-seconds or an HTTP-date. */
function parseRetryAfter(value: string | null): number | undefined {
  if (value === null || value.trim() === '') return undefined;
  if (/^\d+$/.test(value.trim())) return Number(value.trim()) * 1000;
  const at = Date.parse(value);
  return Number.isNaN(at) ? undefined : Math.max(0, at - Date.now());
}

function describeAnswer(answer: unknown, text: string): string {
  const message = field(answer, 'message');
  const errors = field(answer, 'errors');
  const parts = [
    typeof message === 'string' ? message : undefined,
    Array.isArray(errors) ? errors.map(String).join('; ') : undefined,
  ].filter((p): p is string => Boolean(p));
  if (parts.length > 0) return `: ${parts.join(': ')}`;
  const flat = text.replace(/\s+/g, ' ').trim();
  return flat ? `: ${flat.length > 120 ? `${flat.slice(0, 120)}…` : flat}` : '';
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

function field(obj: unknown, key: string): unknown {
  return obj !== null && typeof obj === 'object' ? (obj as Record<string, unknown>)[key] : undefined;
}

/** A network error with its code when it has one (`connect ECONNREFUSED 127.0.0.1:9 (ECONNREFUSED)`). */
function networkErrorText(err: unknown): string {
  const code = err instanceof Error ? (err as NodeJS.ErrnoException).code : undefined;
  const base = errorText(err);
  return code && !base.includes(`(${code})`) ? `${base} (${code})` : base;
}

class PostTimeout extends Error {}

interface PostAnswer {
  status: number;
  retryAfter: string | null;
  text: string;
}

/**
 * POSTs JSON bodies to `url` over keep-alive connections (node:http/https rather than fetch: a page is
 * one small request, and fetch's streams cost several times the CPU of a plain request), rejecting
 * with PostTimeout when the whole answer has not arrived within `timeoutMs`.
 */
function jsonPoster(url: string, timeoutMs: number): (body: string) => Promise<PostAnswer> {
  const target = new URL(url);
  const https = target.protocol === 'https:';
  const agent = https ? new HttpsAgent({ keepAlive: true }) : new HttpAgent({ keepAlive: true });
  const send = https ? httpsRequest : httpRequest;
  return (body) =>
    new Promise<PostAnswer>((resolve, reject) => {
      const req = send(target, {
        method: 'POST',
        agent,
        headers: {
          'content-type': 'application/json',
          accept: 'application/json',
          'content-length': Buffer.byteLength(body),
        },
      });
      const timer = setTimeout(
        () => req.destroy(new PostTimeout(`no answer within ${timeoutMs} ms`)),
        timeoutMs,
      );
      const settle = (fn: () => void) => {
        clearTimeout(timer);
        fn();
      };
      req.once('error', (err) => settle(() => reject(err)));
      req.once('response', (res: IncomingMessage) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.once('error', (err) => settle(() => reject(err)));
        res.once('end', () =>
          settle(() => {
            const retry = res.headers['retry-after'];
            resolve({
              status: res.statusCode ?? 0,
              retryAfter: typeof retry === 'string' ? retry : null,
              text: Buffer.concat(chunks).toString('utf8'),
            });
          }),
        );
      });
      req.end(body);
    });
}

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
