/** Staff acknowledge or resolve an alert from its channel message; PagerDuty follows with the same dedup_key. */
import type { Logger } from 'pino';
import { auditEvent } from '../audit/ecs.js';
import type { AuditTrail } from '../audit/trail.js';
import type { Pager } from '../integrations/pagerduty.js';
import { AlreadyDecidedError, NotFoundError } from '../store/errors.js';
import type { Store } from '../store/store.js';
import type { Messenger } from './ports.js';

export interface AlertActionDeps {
  store: Store;
  pager: Pager;
  messenger: Messenger;
  audit: AuditTrail;
  logger: Logger;
  clock?: () => Date;
}

export type AlertActionResult = { ok: true } | { ok: false; message: string };

export async function changeAlert(
  deps: AlertActionDeps,
  input: { alertId: string; userId: string; action: 'acknowledge' | 'resolve' },
): Promise<AlertActionResult> {
  const at = deps.clock?.() ?? new Date();
  let alert: Awaited<ReturnType<Store['acknowledgeAlert']>>;
  try {
    alert =
      input.action === 'acknowledge'
        ? await deps.store.acknowledgeAlert(input.alertId, input.userId, at)
        : await deps.store.resolveAlert(input.alertId, input.userId, at);
  } catch (err) {
    if (err instanceof AlreadyDecidedError)
      return { ok: false, message: `That alert is already ${err.state?.toLowerCase() ?? 'gone'}.` };
    // A stale or forged button: say so rather than leave the click unanswered.
    if (err instanceof NotFoundError)
      return { ok: false, message: 'That alert no longer exists (or never did). Nothing was changed.' };
    throw err;
  }
  deps.audit.write(
    auditEvent({
      action: `alert.${input.action}`,
      outcome: 'success',
      message: `${input.userId} ${input.action}d alert ${alert.id}`,
      actor: input.userId,
      at,
      secbot: { alert_id: alert.id },
    }),
  );
  const paged = await (input.action === 'acknowledge'
    ? deps.pager.acknowledge(alert.id)
    : deps.pager.resolve(alert.id));
  if (!paged.ok)
    deps.logger.warn(`alerts: PagerDuty ${input.action} for ${alert.id} failed (${paged.reason})`);
  try {
    await deps.messenger.postAlert(alert);
  } catch (err) {
    deps.logger.warn({ err }, `alerts: could not update the channel message of ${alert.id}`);
  }
  return { ok: true };
}
