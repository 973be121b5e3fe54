#!/usr/bin/env node
/** `secbot` command line: triage files, check and test rules, print the EventBridge pattern, enqueue records. */
import { parseArgs } from 'node:util';
import { ConfigError, SecbotError } from '../lib/errors.js';
import { runEnqueue } from './enqueue.js';
import { runEventBridgePattern } from './eventbridge-pattern.js';
import { runRulesCheck, runRulesTest } from './rules.js';
import { runTriage } from './triage.js';

const USAGE = `secbot — triage security-relevant AWS API calls

usage:
  secbot triage <files…|->  [--format table|json|ecs] [--rules DIR]… [--actions log,notify,alert] [--as-of now|TIME] [--quiet]
  secbot rules check        [--rules DIR]…    report every problem in the rule files (file:line: reason)
  secbot rules test         [--rules DIR]…    run every rule's own test cases
  secbot eventbridge-pattern [--rules DIR]… [--split CHARS]
                                              print the EventBridge pattern that covers the rules;
                                              --split 2048: a JSON array of patterns that fit one rule each
  secbot enqueue <files…|->                   send records to the configured queue as EventBridge events
  secbot doctor             [--send-test-page]  check the configuration, Slack, queue, table, Duo, PagerDuty
                                              and rules; print what is wrong and how to fix it (exit 1 on a failure)
  secbot start                                run the bot (same as npm start)

Inputs: CloudTrail log files (.json, .json.gz), JSON Lines, SNS or EventBridge envelopes, bare records.
--rules defaults to SECBOT_RULES, else the bundled rules.`;

export async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  const { values, positionals } = parseArgs({
    args: rest,
    allowPositionals: true,
    options: {
      format: { type: 'string', default: 'table' },
      rules: { type: 'string', multiple: true },
      actions: { type: 'string' },
      'as-of': { type: 'string' },
      quiet: { type: 'boolean', default: false },
      split: { type: 'string' },
      'send-test-page': { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help || !command || command === 'help') {
    process.stdout.write(`${USAGE}\n`);
    return command ? 0 : 2;
  }
  switch (command) {
    case 'triage':
      return runTriage(positionals, values);
    case 'rules':
      if (positionals[0] === 'check') return runRulesCheck(values.rules);
      if (positionals[0] === 'test') return runRulesTest(values.rules);
      process.stderr.write(`secbot rules: expected "check" or "test"\n\n${USAGE}\n`);
      return 2;
    case 'eventbridge-pattern':
      return runEventBridgePattern(values.rules, values.split);
    case 'enqueue':
      return runEnqueue(positionals);
    case 'doctor': {
      const { runDoctorCommand } = await import('./doctor.js');
      return runDoctorCommand({ sendTestPage: values['send-test-page'], rules: values.rules });
    }
    case 'start': {
      const { start } = await import('../app.js');
      await start();
      return -1; // keeps running; app.ts owns the exit
    }
    default:
      process.stderr.write(`secbot: unknown command "${command}"\n\n${USAGE}\n`);
      return 2;
  }
}

try {
  const code = await main(process.argv.slice(2));
  if (code >= 0) process.exitCode = code;
} catch (err) {
  if (err instanceof ConfigError || err instanceof SecbotError) {
    process.stderr.write(`secbot: ${err.message}\n`);
  } else {
    process.stderr.write(`secbot: ${(err as Error).stack ?? String(err)}\n`);
  }
  process.exitCode = 1;
}
