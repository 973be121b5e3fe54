/** What the listeners are given: the handlers' dependencies, built once in app.ts. */
import type { Logger } from 'pino';
import type { AuditTrail } from '../audit/trail.js';
import type { AlertActionDeps } from '../handlers/alerts.js';
import type { HomeService } from '../handlers/home.js';
import type { RemediateDeps } from '../handlers/remediate.js';
import type { RuleCommandDeps } from '../handlers/rule-stages.js';
import type { SilenceCommandDeps } from '../handlers/silences.js';
import type { StaffGuard } from '../handlers/staff.js';
import type { StatusDeps } from '../handlers/status.js';
import type { VerifyDeps } from '../handlers/verify.js';

export interface ListenerDeps {
  verify: VerifyDeps;
  alerts: AlertActionDeps;
  silences: SilenceCommandDeps;
  status: StatusDeps;
  home: HomeService;
  /** One-click remediation from channel alerts; absent where secbot does not run remediations. */
  remediate?: RemediateDeps;
  /** `/secbot rules | promote | demote`; absent where secbot has no rule figures. */
  rules?: RuleCommandDeps;
  staff: StaffGuard;
  audit: AuditTrail;
  logger: Logger;
  /** Tracks work started after an ack (Duo polling) so shutdown can wait for it. */
  background: Set<Promise<unknown>>;
}
