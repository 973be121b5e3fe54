/**
 * A local PagerDuty Events API v2 endpoint (`POST /v2/enqueue`) on 127.0.0.1 (free port) for tests. It validates
 * events as PagerDuty documents them (at most 512 KB; routing_key of 32 characters, event_action, dedup_key ≤ 255, and for
 * triggers payload.summary ≤ 1024, source, severity), answers 202 `{status:'success', message:'Event processed',
 * dedup_key}` or 400 `{status:'invalid event', message, errors}`, records what it accepted, and injects faults.
 *
 * @example
 * const pd = await startPagerDutyServer();
 * after(() => pd.stop());
 * const pager = createPagerDutyPager({ routingKey: pd.routingKey, eventsUrl: pd.eventsUrl });
 * pd.failNext({ status: 429, retryAfterSeconds: 30 });
 */

import { randomBytes, randomUUID } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface PagerDutyRecordedEvent {
  routing_key: string;
  event_action: 'trigger' | 'acknowledge' | 'resolve';
  dedup_key: string;
  payload?: {
    summary: string;
    source: string;
    severity: string;
    component?: string;
    group?: string;
    class?: string;
    custom_details?: Record<string, unknown>;
    [k: string]: unknown;
  };
  links?: { href: string; text?: string }[];
  client?: string;
  [k: string]: unknown;
}

export interface PagerDutyRequest {
  /** The raw body as received. */
  body: string;
  status: number;
  /** 'accepted', 'invalid', or the fault applied. */
  outcome: 'accepted' | 'invalid' | 'failed' | 'dropped';
}

export interface PagerDutyServer {
  /** `http://127.0.0.1:<port>/v2/enqueue` */
  readonly eventsUrl: string;
  /** The routing key this server accepts (32 characters). */
  readonly routingKey: string;
  /** Accepted events, in order. */
  readonly events: PagerDutyRecordedEvent[];
  /** Every request, accepted or not. */
  readonly requests: PagerDutyRequest[];
  eventsFor(dedupKey: string): PagerDutyRecordedEvent[];
  /**
   * The dedup_key (the alert id) of the first trigger whose custom_details.eventIDs names this CloudTrail
   * call: alert calls of one burst share an alert (handlers/alert-bursts.ts).
   */
  dedupKeyOfCall(eventId: string): string | undefined;
  triggers(): PagerDutyRecordedEvent[];
  /** The next `times` (default 1) requests answer `status` (429 may carry Retry-After). */
  failNext(f: { status: number; times?: number; retryAfterSeconds?: number; body?: string }): void;
  /** The next `times` (default 1) requests have their connection closed without an answer. */
  dropNext(times?: number): void;
  /** The next `times` (default 1) requests are answered after `ms`. */
  delayNext(ms: number, times?: number): void;
  stop(): Promise<void>;
}

type Fault =
  | { kind: 'fail'; status: number; retryAfterSeconds?: number; body?: string; times: number }
  | { kind: 'drop'; times: number }
  | { kind: 'delay'; ms: number; times: number };

const ACTIONS = new Set(['trigger', 'acknowledge', 'resolve']);
const SEVERITIES = new Set(['critical', 'error', 'warning', 'info']);

export async function startPagerDutyServer(opts: { routingKey?: string } = {}): Promise<PagerDutyServer> {
  const routingKey = opts.routingKey ?? randomBytes(16).toString('hex');
  const events: PagerDutyRecordedEvent[] = [];
  const requests: PagerDutyRequest[] = [];
  const faults: Fault[] = [];
  const aborter = new AbortController();

  function takeFault(): Fault | undefined {
    const f = faults[0];
    if (!f) return undefined;
    f.times -= 1;
    if (f.times <= 0) faults.shift();
    return f;
  }

  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', async () => {
      const body = Buffer.concat(chunks).toString('utf8');
      const reply = (status: number, json: unknown, outcome: PagerDutyRequest['outcome'], headers = {}) => {
        requests.push({ body, status, outcome });
        res.writeHead(status, { 'content-type': 'application/json', ...headers });
        res.end(typeof json === 'string' ? json : JSON.stringify(json));
      };
      if (req.method !== 'POST' || req.url !== '/v2/enqueue') {
        return reply(404, { status: 'not found', message: `${req.method} ${req.url}` }, 'invalid');
      }
      const fault = takeFault();
      if (fault?.kind === 'drop') {
        requests.push({ body, status: 0, outcome: 'dropped' });
        req.socket.destroy();
        return;
      }
      if (fault?.kind === 'delay') {
        const waited = await new Promise<boolean>((resolve) => {
          const t = setTimeout(() => resolve(true), fault.ms);
          const onAbort = () => {
            clearTimeout(t);
            resolve(false);
          };
          aborter.signal.addEventListener('abort', onAbort, { once: true });
        });
        if (!waited || res.destroyed) return;
      }
      if (fault?.kind === 'fail') {
        const headers =
          fault.retryAfterSeconds !== undefined ? { 'retry-after': String(fault.retryAfterSeconds) } : {};
        const json =
          fault.body ??
          (fault.status === 429
            ? { status: 'throttle event', message: 'Requests for this service are arriving too quickly.' }
            : { status: 'error', message: 'Internal Server Error' });
        return reply(fault.status, json, 'failed', headers);
      }

      const errors = validate(body, routingKey);
      if (errors.length > 0) {
        return reply(400, { status: 'invalid event', message: 'Event object is invalid', errors }, 'invalid');
      }
      const event = JSON.parse(body) as PagerDutyRecordedEvent;
      if (!event.dedup_key) event.dedup_key = randomUUID().replaceAll('-', '');
      events.push(event);
      return reply(
        202,
        { status: 'success', message: 'Event processed', dedup_key: event.dedup_key },
        'accepted',
      );
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;

  return {
    eventsUrl: `http://127.0.0.1:${port}/v2/enqueue`,
    routingKey,
    events,
    requests,
    eventsFor: (dedupKey) => events.filter((e) => e.dedup_key === dedupKey),
    dedupKeyOfCall: (eventId) =>
      events.find((e) => {
        const ids = e.event_action === 'trigger' ? e.payload?.custom_details?.eventIDs : undefined;
        return Array.isArray(ids) && ids.includes(eventId);
      })?.dedup_key,
    triggers: () => events.filter((e) => e.event_action === 'trigger'),
    failNext({ status, times = 1, retryAfterSeconds, body }) {
      faults.push({ kind: 'fail', status, times, retryAfterSeconds, body });
    },
    dropNext(times = 1) {
      faults.push({ kind: 'drop', times });
    },
    delayNext(ms, times = 1) {
      faults.push({ kind: 'delay', ms, times });
    },
    async stop() {
      aborter.abort();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** PagerDuty's documented rules for an alert event; returns its error strings (empty when valid). */
function validate(body: string, routingKey: string): string[] {
  if (Buffer.byteLength(body) > 512 * 1024) return ['Event is larger than the 512 KB limit'];
  let e: unknown;
  try {
    e = JSON.parse(body);
  } catch {
    return ['Event is not valid JSON'];
  }
  if (e === null || typeof e !== 'object' || Array.isArray(e)) return ['Event must be a JSON object'];
  const ev = e as Record<string, unknown>;
  const errors: string[] = [];
  const str = (v: unknown) => typeof v === 'string';
  if (!str(ev.routing_key) || (ev.routing_key as string).length !== 32) {
    errors.push("Length of 'routing_key' is incorrect (should be 32 characters)");
  } else if (ev.routing_key !== routingKey) {
    errors.push("'routing_key' is not an integration key of this service");
  }
  if (!str(ev.event_action) || !ACTIONS.has(ev.event_action as string)) {
    errors.push("'event_action' is missing or blank (trigger, acknowledge or resolve)");
  }
  if (ev.dedup_key !== undefined && (!str(ev.dedup_key) || (ev.dedup_key as string).length > 255)) {
    errors.push("'dedup_key' must be a string of at most 255 characters");
  }
  if (ev.event_action !== 'trigger') {
    if (!str(ev.dedup_key) || ev.dedup_key === '')
      errors.push("'dedup_key' is required for acknowledge and resolve");
    return errors;
  }
  const p = ev.payload;
  if (p === null || typeof p !== 'object' || Array.isArray(p))
    return [...errors, "'payload' is missing or not an object"];
  const payload = p as Record<string, unknown>;
  if (!str(payload.summary) || payload.summary === '') errors.push("'payload.summary' is missing or blank");
  else if ((payload.summary as string).length > 1024)
    errors.push("'payload.summary' is longer than 1024 characters");
  if (!str(payload.source) || payload.source === '') errors.push("'payload.source' is missing or blank");
  if (!SEVERITIES.has(payload.severity as string)) errors.push("'payload.severity' is invalid");
  for (const k of ['component', 'group', 'class'] as const) {
    if (payload[k] !== undefined && !str(payload[k])) errors.push(`'payload.${k}' must be a string`);
  }
  const cd = payload.custom_details;
  if (cd !== undefined && (cd === null || typeof cd !== 'object'))
    errors.push("'payload.custom_details' must be an object");
  if (ev.links !== undefined) {
    const ok =
      Array.isArray(ev.links) &&
      ev.links.every((l) => l && typeof l === 'object' && str((l as { href?: unknown }).href));
    if (!ok) errors.push("'links' must be a list of objects with an href");
  }
  return errors;
}
