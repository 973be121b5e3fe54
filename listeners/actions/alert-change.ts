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
    let r: Awaited<ReturnType<typeof changeAlert>>;
    try {
      r = await changeAlert(deps.alerts, { alertId, userId: body.user.id, action: change });
    } catch (err) {
      deps.logger.error({ err }, `alerts: ${change} of ${alertId} by ${body.user.id} failed`);
      r = {
        ok: false,
        message: `secbot could not ${change} that alert just now (a service it depends on did not answer). Please try again in a minute.`,
      };
    }
    if (!r.ok) await respond({ response_type: 'ephemeral', replace_original: false, text: r.message });
  };
