import type { AllMiddlewareArgs, RespondArguments, SlackCommandMiddlewareArgs } from '@slack/bolt';
import { auditInvalidCommand, parseCommand, type SecbotCommand } from '../../handlers/commands.js';
import { gatherRules, setStageFor } from '../../handlers/rule-stages.js';
import { createSilenceFor, endSilence, listSilencesFor } from '../../handlers/silences.js';
import { gatherStatus } from '../../handlers/status.js';
import { helpMessage } from '../../views/help.js';
import type { SlackMessage } from '../../views/question.js';
import { rulesMessage, stageChangedMessage } from '../../views/rules.js';
import {
  noticeMessage,
  silenceCreatedMessage,
  silenceEndedMessage,
  silencesMessage,
} from '../../views/silences.js';
import { statusMessage } from '../../views/status.js';
import type { ListenerDeps } from '../deps.js';

const ephemeral = (m: SlackMessage): RespondArguments => ({ response_type: 'ephemeral', ...m });

type Work = Exclude<SecbotCommand, { kind: 'help' } | { kind: 'invalid' }>;

async function run(deps: ListenerDeps, cmd: Work, user: string): Promise<SlackMessage> {
  switch (cmd.kind) {
    case 'status':
      return statusMessage(await gatherStatus(deps.status, user));
    case 'silence':
      return silenceCreatedMessage(
        await createSilenceFor(deps.silences, { actor: user, ...cmd }),
        cmd.durationMs,
      );
    case 'silences':
      return silencesMessage(await listSilencesFor(deps.silences, user), new Date());
    case 'unsilence': {
      const r = await endSilence(deps.silences, { actor: user, id: cmd.id });
      return r.ok ? silenceEndedMessage(r.silence) : noticeMessage(r.message);
    }
    case 'rules':
      if (!deps.rules) return noticeMessage('Rule figures are not available in this deployment.');
      return rulesMessage(await gatherRules(deps.rules, user));
    case 'promote':
    case 'demote': {
      if (!deps.rules) return noticeMessage('Rule stages cannot be changed in this deployment.');
      const r = await setStageFor(deps.rules, {
        actor: user,
        ruleId: cmd.ruleId,
        stage: cmd.kind === 'promote' ? 'live' : 'shadow',
      });
      if (r.ok) return stageChangedMessage(r);
      // An unknown rule: bad input, answered with the usage and audited as such.
      auditInvalidCommand(deps.audit, { actor: user, text: `${cmd.kind} ${cmd.ruleId}`, problem: r.problem });
      return helpMessage({ topic: cmd.kind, problem: r.problem });
    }
  }
}

/**
 * `/secbot …`. Staff-only subcommands never get here for anyone else (middleware/staff-only.ts).
 * Help and bad input are answered in the ack; the rest are acked at once and answered through the
 * response_url, so a slow dependency cannot make Slack give up on the command.
 */
export const secbotCommand =
  (deps: ListenerDeps) =>
  async ({ ack, command, respond }: SlackCommandMiddlewareArgs & AllMiddlewareArgs) => {
    const cmd = parseCommand(command.text ?? '');
    const user = command.user_id;
    if (cmd.kind === 'help') {
      await ack(ephemeral(helpMessage({ topic: cmd.topic })));
      return;
    }
    if (cmd.kind === 'invalid') {
      auditInvalidCommand(deps.audit, { actor: user, text: command.text ?? '', problem: cmd.problem });
      await ack(ephemeral(helpMessage({ topic: cmd.subcommand, problem: cmd.problem })));
      return;
    }
    await ack();
    let answer: SlackMessage;
    try {
      answer = await run(deps, cmd, user);
    } catch (err) {
      deps.logger.error({ err }, `/secbot ${cmd.kind} by ${user} failed`);
      answer = noticeMessage(
        `:warning: secbot could not complete \`/secbot ${cmd.kind}\` (the table or a service did not answer). ${cmd.kind === 'silence' || cmd.kind === 'unsilence' ? 'Check `/secbot silences` before trying again.' : cmd.kind === 'promote' || cmd.kind === 'demote' ? 'Check `/secbot rules` before trying again.' : 'Try again in a minute.'}`,
      );
    }
    await respond(ephemeral(answer));
  };
