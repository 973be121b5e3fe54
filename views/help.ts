/** `/secbot help` and the usage shown for bad input (always ephemeral). */
import type { KnownBlock } from '@slack/types';
import { SUBCOMMANDS, type SubcommandName, type SubcommandSpec } from '../handlers/commands.js';
import { md, plain, SLACK_LIMITS } from './format.js';
import type { SlackMessage } from './question.js';

function usageText(spec: SubcommandSpec): string {
  const who = spec.staff ? ' _(security staff)_' : '';
  const examples = spec.examples.map((e) => `\`${e}\``).join('\n');
  return `*\`${spec.usage}\`*${who}\n${spec.summary}\n${examples}`;
}

/**
 * The help: every subcommand, or one (`topic`); with `problem` (already inert mrkdwn, from the
 * parser), the answer to bad input — what was wrong, the usage, and that nothing changed.
 *
 * @example helpMessage({ topic: 'silence', problem: 'a reason is required' })
 */
export function helpMessage(opts: { topic?: SubcommandName; problem?: string } = {}): SlackMessage {
  const blocks: KnownBlock[] = [];
  if (opts.problem) {
    blocks.push({
      type: 'section',
      text: md(`:warning: ${opts.problem}. Nothing was changed.`),
    });
  }
  if (opts.topic) {
    const spec = SUBCOMMANDS[opts.topic];
    blocks.push({ type: 'section', text: md(usageText(spec)) });
    return {
      text: `${opts.problem ? `${opts.problem}. ` : ''}Usage: ${spec.usage}`,
      blocks,
    };
  }
  blocks.push({ type: 'header', text: plain('secbot commands', SLACK_LIMITS.header) });
  blocks.push({
    type: 'section',
    text: md(
      'secbot watches security-relevant AWS calls: it logs them, asks the engineer who made one ("did you do this?", confirmed with Duo), or pages the security team.',
    ),
  });
  for (const spec of Object.values(SUBCOMMANDS)) blocks.push({ type: 'section', text: md(usageText(spec)) });
  blocks.push({
    type: 'context',
    elements: [
      md('Answers are visible only to you. The App Home tab shows open questions, alerts and figures.'),
    ],
  });
  return {
    text: `${opts.problem ? `${opts.problem}. ` : ''}secbot commands: ${Object.values(SUBCOMMANDS)
      .map((s) => s.usage)
      .join(' · ')}`,
    blocks,
  };
}
