/** What the listeners are given: the handlers' dependencies, built once in app.ts. */
import type { Logger } from 'pino';
import type { AuditTrail } from '../audit/trail.js';
import type { AlertActionDeps } from '../handlers/alerts.js';
import type { StaffGuard } from '../handlers/staff.js';
import type { VerifyDeps } from '../handlers/verify.js';

export interface ListenerDeps {
  verify: VerifyDeps;
  alerts: AlertActionDeps;
  staff: StaffGuard;
  audit: AuditTrail;
  logger: Logger;
  /** Tracks work started after an ack (Duo polling) so shutdown can wait for it. */
  background: Set<Promise<unknown>>;
}
