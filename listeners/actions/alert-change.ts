import type { AllMiddlewareArgs, BlockButtonAction, SlackActionMiddlewareArgs } from '@slack/bolt';
import { changeAlert } from '../../handlers/alerts.js';
import type { ListenerDeps } from '../deps.js';

/** **Acknowledge** / **Resolve** on a channel alert (staff only: see middleware/staff-only.ts). */
export const alertChange =
  (deps: ListenerDeps, change: 'acknowledge' | 'resolve') =>
  async ({
    ack,
    body,
    action,
    respond,
  }: SlackActionMiddlewareArgs<BlockButtonAction> & AllMiddlewareArgs) => {
    await ack();
    const alertId = action.value ?? '';
    if (!/^a_[A-Za-z0-9_-]{1,200}$/.test(alertId)) {
      await respond({
        response_type: 'ephemeral',
        replace_original: false,
        text: 'That button is not a secbot alert.',
      });
      return;
    }
    const r = await changeAlert(deps.alerts, { alertId, userId: body.user.id, action: change });
    if (!r.ok) await respond({ response_type: 'ephemeral', replace_original: false, text: r.message });
  };
