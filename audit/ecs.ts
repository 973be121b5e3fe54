/** Elastic Common Schema records for the audit trail: one per decision, transition or staff action. */
import { isIP } from 'node:net';
import type { Decision } from '../handlers/decide.js';

export const ECS_VERSION = '8.11.0';

/** Keys whose values never leave secbot, wherever they appear in a record. */
const SECRET_KEY = /secret|password|passwd|token|privatekey|private_key|credential|sessionkey/i;
const MAX_ORIGINAL = 8 * 1024;

export type EcsRecord = Record<string, unknown> & { '@timestamp': string };

/** Deep copy of untrusted JSON with secret-looking keys censored and depth bounded. */
export function redactSecrets(value: unknown, depth = 0): unknown {
  if (depth > 32) return '[too deep]';
  if (Array.isArray(value)) return value.map((v) => redactSecrets(v, depth + 1));
  if (value && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    const keys = Object.keys(value);
    for (let i = 0; i < keys.length; i++) {
      const k = keys[i] as string;
      const v = (value as Record<string, unknown>)[k];
      const kept =
        SECRET_KEY.test(k) && v !== null && typeof v !== 'object'
          ? '[redacted]'
          : redactSecrets(v, depth + 1);
      // A key named __proto__ (JSON.parse makes it an own property) is defined, not assigned: assigning
      // would set the copy's prototype instead.
      if (k === '__proto__') {
        Object.defineProperty(out, k, { value: kept, enumerable: true, writable: true, configurable: true });
      } else out[k] = kept;
    }
    return out;
  }
  return value;
}

function categoryOf(eventSource: string): string[] {
  const service = eventSource.split('.')[0] ?? '';
  if (service === 'signin') return ['authentication'];
  if (['iam', 'sts', 'sso', 'identitystore', 'organizations'].includes(service)) return ['iam'];
  if (['ec2', 'elasticloadbalancing', 'route53'].includes(service)) return ['network', 'configuration'];
  return ['configuration'];
}

function typesOf(eventName: string, readOnly: boolean | undefined): string[] {
  if (/^(Create|Put|Add|Attach|Register|Import|Run|Start)/.test(eventName)) return ['creation', 'change'];
  if (/^(Delete|Remove|Detach|Deregister|Disable|Stop|Terminate|Revoke|Leave)/.test(eventName))
    return ['deletion', 'change'];
  if (readOnly || /^(Get|List|Describe|Head|Lookup)/.test(eventName)) return ['access'];
  return ['change'];
}

export interface DecisionAuditExtra {
  verificationId?: string;
  alertId?: string;
  /** When the decision was made (default now). */
  at?: Date;
  /** Whether the record was a duplicate delivery (absorbed). */
  duplicate?: boolean;
}

/**
 * The ECS record of one decision.
 *
 * @example audit.write(decisionToEcs(decision, { verificationId: 'v_01…' }))
 */
export function decisionToEcs(d: Decision, extra: DecisionAuditExtra = {}): EcsRecord {
  const r = d.record;
  const p = d.principal;
  const firstMatch = d.matches[0];
  const params = r.requestParameters ? JSON.stringify(redactSecrets(r.requestParameters)) : undefined;
  return {
    '@timestamp': (extra.at ?? new Date()).toISOString(),
    ecs: { version: ECS_VERSION },
    message: d.summary,
    event: {
      kind: d.action === 'log' ? 'event' : 'alert',
      category: categoryOf(r.eventSource),
      type: typesOf(r.eventName, r.readOnly),
      action: r.eventName,
      outcome: r.errorCode ? 'failure' : 'success',
      id: r.eventID,
      provider: r.eventSource,
      dataset: 'secbot.decision',
      module: 'secbot',
      severity: ['info', 'warning', 'error', 'critical'].indexOf(d.severity) + 1,
      created: r.eventTime,
    },
    ...(firstMatch ? { rule: { id: firstMatch.ruleId, name: firstMatch.title, ruleset: 'secbot' } } : {}),
    cloud: { provider: 'aws', account: { id: r.recipientAccountId ?? p.accountId }, region: r.awsRegion },
    user: { name: p.name, email: p.email, id: r.userIdentity.principalId },
    source: {
      address: r.sourceIPAddress,
      ...(r.sourceIPAddress && isIP(r.sourceIPAddress) ? { ip: r.sourceIPAddress } : {}),
    },
    user_agent: { original: r.userAgent },
    aws: {
      cloudtrail: {
        event_type: r.eventType,
        error_code: r.errorCode,
        request_parameters:
          params && params.length > MAX_ORIGINAL ? `${params.slice(0, MAX_ORIGINAL)}…` : params,
      },
    },
    secbot: {
      action: d.action,
      rule_action: d.ruleAction,
      rules: d.matches.map((m) => ({ id: m.ruleId, action: m.action })),
      reasons: d.reasons,
      adjustments: d.adjustments.map((a) => ({ kind: a.kind, from: a.from, to: a.to })),
      summary: d.summary,
      page: d.page,
      principal: {
        type: p.type,
        arn: p.arn,
        key: p.key,
        mfa: p.mfa,
        automation: p.isAutomation,
        aws_service: p.isAwsService,
      },
      verification_id: extra.verificationId,
      alert_id: extra.alertId,
      silence_id: d.silence?.id,
      silence_reason: d.silence?.reason,
      // Staged rules that matched: nothing was sent for them; what each would have done live.
      staged: d.staged?.map((st) => ({
        id: st.ruleId,
        action: st.action,
        would_be: st.wouldBe,
        would_page: st.wouldPage,
      })),
      duplicate: extra.duplicate,
    },
  };
}

/** An audit record for anything that is not a decision: transitions, staff actions, refusals. */
export function auditEvent(input: {
  action: string;
  outcome: 'success' | 'failure' | 'unknown';
  message: string;
  category?: string[];
  actor?: string;
  at?: Date;
  secbot?: Record<string, unknown>;
}): EcsRecord {
  return {
    '@timestamp': (input.at ?? new Date()).toISOString(),
    ecs: { version: ECS_VERSION },
    message: input.message,
    event: {
      kind: 'event',
      category: input.category ?? ['iam'],
      type: ['change'],
      action: input.action,
      outcome: input.outcome,
      dataset: 'secbot.activity',
      module: 'secbot',
    },
    ...(input.actor ? { user: { id: input.actor } } : {}),
    secbot: input.secbot ?? {},
  };
}
