import type { AllMiddlewareArgs, BlockButtonAction, SlackActionMiddlewareArgs } from '@slack/bolt';
import { answerYes, parseAnswerValue } from '../../handlers/verify.js';
import type { ListenerDeps } from '../deps.js';
import { NOT_RECORDED } from './verification-no.js';

/** **Yes, this was me**: ack at once, then claim the verification and run the Duo push. */
export const verificationYes =
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
    const work = answerYes(deps.verify, { ...parsed, userId: body.user.id })
      .then(async (r) => {
        if (r.outcome === 'refused')
          await respond({ response_type: 'ephemeral', replace_original: false, text: r.message });
      })
      .catch(async (err) => {
        deps.logger.error(
          { err },
          `verify: "Yes" on ${parsed.verificationId} by ${body.user.id} failed; the engineer is asked to press it again`,
        );
        await respond({ response_type: 'ephemeral', replace_original: false, text: NOT_RECORDED }).catch(
          () => undefined,
        );
      });
    deps.background.add(work);
    void work.finally(() => deps.background.delete(work));
  };
