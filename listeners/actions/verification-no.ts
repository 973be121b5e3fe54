import type { AllMiddlewareArgs, BlockButtonAction, SlackActionMiddlewareArgs } from '@slack/bolt';
import { answerNo, parseAnswerValue } from '../../handlers/verify.js';
import type { ListenerDeps } from '../deps.js';

/** **No, this wasn't me**: escalate. */
export const verificationNo =
  (deps: ListenerDeps) =>
  async ({
    ack,
    body,
    action,
    respond,
  }: SlackActionMiddlewareArgs<BlockButtonAction> & AllMiddlewareArgs) => {
    await ack();
    const parsed = parseAnswerValue(action.value);
    if (!parsed) {
      await respond({
        response_type: 'ephemeral',
        replace_original: false,
        text: 'That button is not a secbot question.',
      });
      return;
    }
    const r = await answerNo(deps.verify, { verificationId: parsed.verificationId, userId: body.user.id });
    if (r.outcome === 'refused')
      await respond({ response_type: 'ephemeral', replace_original: false, text: r.message });
  };
