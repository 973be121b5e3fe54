/**
 * The collector's heartbeat: how a monitored account says "the path from me to secbot works" every few
 * minutes, and the two shapes in which it reaches the queue.
 *
 * 1. **The scheduled event itself** (what `terraform/modules/collector` deploys): an EventBridge rule
 *    with `schedule_expression = rate(5 minutes)` named `<name>-heartbeat`, whose target is the same
 *    destination as the CloudTrail rules (the hub event bus, or the SNS topic). An event bus target
 *    forwards the event as it is (EventBridge applies input transformers to service targets, not to
 *    event buses), so what arrives is EventBridge's own
 *    `{"detail-type": "Scheduled Event", "source": "aws.events", "account": "<sender>", "time": …,
 *    "resources": ["arn:aws:events:<region>:<account>:rule/<name>-heartbeat"], "detail": {}}`.
 *    The hub rule's pattern (`source` prefix `aws.`) already delivers it. It is recognised by the rule
 *    name in `resources`: a scheduled event from any other rule is not a heartbeat.
 * 2. **An explicit heartbeat** `{"detail-type": "secbot heartbeat", "source": "secbot.heartbeat",
 *    "account": …, "time": …, "detail": {"account": …, "sentAt": …}}`, for senders that can shape the
 *    event (an input transformer on an SQS or SNS target, a script calling PutEvents, tests).
 *
 * Either may come wrapped in SNS. The account is the envelope's `account` (set by EventBridge, not by
 * the sender), the time its `time` (when the schedule fired).
 */

export const HEARTBEAT_DETAIL_TYPE = 'secbot heartbeat';
export const HEARTBEAT_SOURCE = 'secbot.heartbeat';
export const SCHEDULED_DETAIL_TYPE = 'Scheduled Event';
export const SCHEDULED_SOURCE = 'aws.events';
/** A scheduled rule is a heartbeat when its name is `heartbeat` or ends in `-heartbeat` / `_heartbeat`. */
export const HEARTBEAT_RULE_NAME = /(?:^|[-_])heartbeat$/i;

/** The name of the rule in an EventBridge rule ARN (`…:rule/<name>` or `…:rule/<bus>/<name>`). */
export function ruleNameOfArn(arn: string): string | undefined {
  const m = /^arn:[^:]+:events:[^:]*:\d{12}:rule\/(.+)$/.exec(arn);
  return m?.[1]?.split('/').at(-1);
}

/**
 * The event the collector's scheduled rule sends, as the hub queue receives it (for tests and docs).
 *
 * @example JSON.stringify(scheduledHeartbeatEvent({ account: '111122223333', time: new Date() }))
 */
export function scheduledHeartbeatEvent(input: {
  account: string;
  time: Date | string;
  region?: string;
  ruleName?: string;
  id?: string;
}): Record<string, unknown> {
  const region = input.region ?? 'us-east-1';
  const time = typeof input.time === 'string' ? input.time : input.time.toISOString();
  return {
    version: '0',
    id: input.id ?? `hb-${input.account}-${Date.parse(time)}`,
    'detail-type': SCHEDULED_DETAIL_TYPE,
    source: SCHEDULED_SOURCE,
    account: input.account,
    // EventBridge writes whole seconds.
    time: time.replace(/\.\d{3}Z$/, 'Z'),
    region,
    resources: [`arn:aws:events:${region}:${input.account}:rule/${input.ruleName ?? 'secbot-heartbeat'}`],
    detail: {},
  };
}
