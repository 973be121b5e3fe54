/** The audit trail: a stream of ECS JSON lines, separate from the operational log, ready for Filebeat. */
import { pino } from 'pino';
import type { EcsRecord } from './ecs.js';

export interface AuditTrail {
  write(record: EcsRecord): void;
  flush(): Promise<void>;
}

/**
 * An audit trail written through pino, one ECS record a line, to stdout (default) or a file.
 * pino's own fields are mapped to ECS (`log.level`); the record carries its own `@timestamp`.
 */
export function createAuditTrail(opts: { file?: string; fd?: number } = {}): AuditTrail {
  const dest = pino.destination({ dest: opts.file ?? opts.fd ?? 1, sync: false, mkdir: true });
  const log = pino(
    {
      base: null,
      timestamp: false,
      messageKey: 'message',
      formatters: { level: (label) => ({ log: { level: label, logger: 'secbot.audit' } }) },
    },
    dest,
  );
  return {
    write: (record) => log.info(record),
    flush: () =>
      new Promise<void>((resolve) => {
        dest.flush(() => resolve());
      }),
  };
}

/** An in-memory trail for tests and the CLI's `--format ecs`. */
export function memoryAuditTrail(): AuditTrail & { records: EcsRecord[] } {
  const records: EcsRecord[] = [];
  return { records, write: (r) => records.push(r), flush: async () => {} };
}
