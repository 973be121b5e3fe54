/**
 * Shadow mode: everything is decided and stored, nothing is sent. These stand in for Slack and
 * PagerDuty and print what would have been sent (readable on stdout; the Block Kit JSON at debug level).
 */
import type { Logger } from 'pino';
import type { Messenger, Question } from '../handlers/ports.js';
import type { AlertItem, MessageRef } from '../store/types.js';
import { alertMessage } from '../views/alert.js';
import { questionMessage } from '../views/question.js';
import type { PageEvent, PageResult, Pager } from './pagerduty.js';

export type Print = (line: string) => void;
export const printToStdout: Print = (line) => process.stdout.write(`${line}\n`);

let counter = 0;
const fakeTs = () => `${Math.floor(Date.now() / 1000)}.${String(++counter).padStart(6, '0')}`;

export function shadowMessenger(logger: Logger, print: Print = printToStdout): Messenger {
  return {
    async askEngineer(q: Question): Promise<MessageRef> {
      const msg = questionMessage(q);
      print(
        `[shadow] would DM ${q.verification.engineerKey}: ${msg.text} (verification ${q.verification.id}, ${q.verification.callCount} call(s))`,
      );
      logger.debug({ blocks: msg.blocks }, 'shadow: question Block Kit');
      return { channel: `shadow:${q.verification.engineerKey}`, ts: fakeTs() };
    },
    async updateQuestion(q: Question): Promise<void> {
      const msg = questionMessage(q);
      print(
        `[shadow] would update the DM to ${q.verification.engineerKey}: now ${q.verification.callCount} call(s), state ${q.verification.state}`,
      );
      logger.debug({ blocks: msg.blocks }, 'shadow: question Block Kit');
    },
    async postAlert(alert: AlertItem): Promise<MessageRef | undefined> {
      const msg = alertMessage({ alert });
      print(`[shadow] would post in the alert channel: ${msg.text} — ${alert.summary}`);
      // Remediations are never run in shadow mode: the exact calls they would make are printed.
      for (const r of alert.remediations ?? []) {
        print(
          `[shadow] remediation ${r.id} offered on ${alert.id}: would call ${r.plan.service}:${r.plan.command} ` +
            `${JSON.stringify(r.plan.input)} in ${r.plan.account}/${r.plan.region}`,
        );
      }
      logger.debug({ blocks: msg.blocks }, 'shadow: alert Block Kit');
      return { channel: 'shadow:alerts', ts: fakeTs() };
    },
    async postFollowUp(text: string, thread?: MessageRef): Promise<MessageRef | undefined> {
      print(`[shadow] would post in the alert channel${thread ? " (in the alert's thread)" : ''}: ${text}`);
      return { channel: 'shadow:alerts', ts: fakeTs() };
    },
  };
}

export function shadowPager(print: Print = printToStdout): Pager {
  const log = (action: string, key: string, extra = '') => {
    print(`[shadow] would ${action} PagerDuty incident (dedup_key ${key})${extra}`);
    return { ok: true as const, dedupKey: key };
  };
  return {
    trigger: async (e: PageEvent): Promise<PageResult> =>
      log('trigger', e.dedupKey, `, severity ${e.severity}: ${e.summary}`),
    acknowledge: async (key: string): Promise<PageResult> => log('acknowledge', key),
    resolve: async (key: string): Promise<PageResult> => log('resolve', key),
  };
}
