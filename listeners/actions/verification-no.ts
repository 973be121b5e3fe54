import type { AllMiddlewareArgs, BlockButtonAction, SlackActionMiddlewareArgs } from '@slack/bolt';
import { answerNo, parseAnswerValue } from '../../handlers/verify.js';
import type { ListenerDeps } from '../deps.js';

/** What an engineer is told when their answer could not be stored. */
export const NOT_RECORDED =
  'secbot could not record your answer just now (a service it depends on did not answer). Please press the button again in a minute; without an answer the question escalates to the security team at its deadline.';

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
    let r: Awaited<ReturnType<typeof answerNo>>;
    try {
      r = await answerNo(deps.verify, { verificationId: parsed.verificationId, userId: body.user.id });
    } catch (err) {
      // The answer is not recorded (the table did not answer): say so, or the engineer believes they reported it.
      // Until they answer again, the deadline still escalates (fail closed).
      deps.logger.error(
        { err },
        `verify: "No" on ${parsed.verificationId} by ${body.user.id} could not be recorded; the engineer is asked to press it again`,
      );
      await respond({ response_type: 'ephemeral', replace_original: false, text: NOT_RECORDED });
      return;
    }
    if (r.outcome === 'refused')
      await respond({ response_type: 'ephemeral', replace_original: false, text: r.message });
  };
