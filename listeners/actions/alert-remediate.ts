import type { AllMiddlewareArgs, BlockButtonAction, SlackActionMiddlewareArgs } from '@slack/bolt';
import { remediate } from '../../handlers/remediate.js';
import { parseRemediationValue } from '../../views/remediation.js';
import type { ListenerDeps } from '../deps.js';

/**
 * A remediation button on a channel alert (staff only: see middleware/staff-only.ts). Acks at once;
 * the claim, the Duo push and the AWS call run in the background and the presser is told the outcome.
 */
export const alertRemediate =
  (deps: ListenerDeps) =>
  async ({
    ack,
    body,
    action,
    respond,
  }: SlackActionMiddlewareArgs<BlockButtonAction> & AllMiddlewareArgs) => {
    await ack();
    const say = (text: string) => respond({ response_type: 'ephemeral', replace_original: false, text });
    const parsed = parseRemediationValue(action.value);
    if (!parsed) {
      await say('That button is not a secbot remediation.');
      return;
    }
    const remediation = deps.remediate;
    if (!remediation) {
      await say('Remediation is not enabled in this secbot. Nothing was changed.');
      return;
    }
    const work = remediate(remediation, { ...parsed, userId: body.user.id, progress: say })
      .then((r) => say(r.message))
      .catch((err) => {
        deps.logger.error({ err }, `remediation ${parsed.remediationId} of ${parsed.alertId} failed`);
        return say('Something went wrong; see the alert for where the remediation stands.');
      });
    deps.background.add(work);
    void work.finally(() => deps.background.delete(work));
  };
