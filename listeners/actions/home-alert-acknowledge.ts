import type { AllMiddlewareArgs, BlockButtonAction, SlackActionMiddlewareArgs } from '@slack/bolt';
import { changeAlert } from '../../handlers/alerts.js';
import type { ListenerDeps } from '../deps.js';

/** **Acknowledge** on an alert in the staff App Home (staff only: see middleware/staff-only.ts). */
export const homeAlertAcknowledge =
  (deps: ListenerDeps) =>
  async ({ ack, body, action }: SlackActionMiddlewareArgs<BlockButtonAction> & AllMiddlewareArgs) => {
    await ack();
    const alertId = action.value ?? '';
    const user = body.user.id;
    if (/^a_[A-Za-z0-9_-]{1,200}$/.test(alertId)) {
      const r = await changeAlert(deps.alerts, { alertId, userId: user, action: 'acknowledge' });
      // The Home has no ephemeral answer; the refreshed Home shows the alert's state either way.
      if (!r.ok) deps.logger.info(`home: ${user} acknowledged ${alertId}: ${r.message}`);
    }
    await deps.home
      .refresh(user)
      .catch((err) => deps.logger.warn({ err }, `could not refresh the Home of ${user}`));
  };
