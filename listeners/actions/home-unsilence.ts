import type { AllMiddlewareArgs, BlockButtonAction, SlackActionMiddlewareArgs } from '@slack/bolt';
import { endSilence } from '../../handlers/silences.js';
import type { ListenerDeps } from '../deps.js';

/** **Unsilence** on a silence in the staff App Home (staff only: see middleware/staff-only.ts). */
export const homeUnsilence =
  (deps: ListenerDeps) =>
  async ({ ack, body, action }: SlackActionMiddlewareArgs<BlockButtonAction> & AllMiddlewareArgs) => {
    await ack();
    const id = action.value ?? '';
    const user = body.user.id;
    if (/^s_[0-9A-Z]{26}$/.test(id)) {
      const r = await endSilence(deps.silences, { actor: user, id });
      if (!r.ok) deps.logger.info(`home: ${user} unsilenced ${id}: ${r.message}`);
    }
    await deps.home
      .refresh(user)
      .catch((err) => deps.logger.warn({ err }, `could not refresh the Home of ${user}`));
  };
