/** Bolt middleware: staff-only actions and commands answer everyone else with a polite refusal. */
import type { AnyMiddlewareArgs, Middleware } from '@slack/bolt';
import { auditEvent } from '../../audit/ecs.js';
import { requiresStaff, subcommandOf } from '../../handlers/commands.js';
import { STAFF_ONLY_MESSAGE } from '../../handlers/staff.js';
import { ACTION_ACKNOWLEDGE, ACTION_RESOLVE } from '../../views/alert.js';
import { ACTION_HOME_ACKNOWLEDGE, ACTION_HOME_UNSILENCE } from '../../views/home.js';
import { ACTION_REMEDIATE } from '../../views/remediation.js';
import type { ListenerDeps } from '../deps.js';

/** Action ids only staff may press. */
export const STAFF_ACTIONS = new Set<string>([
  ACTION_ACKNOWLEDGE,
  ACTION_RESOLVE,
  ACTION_HOME_ACKNOWLEDGE,
  ACTION_HOME_UNSILENCE,
  ACTION_REMEDIATE,
]);

interface Gate {
  userId: string;
  what: string;
  /** Pressed in the App Home: there is no response_url to answer through. */
  inHome: boolean;
}

interface GateBody {
  type?: string;
  actions?: { action_id?: string }[];
  user?: { id?: string };
  container?: { type?: string };
  command?: string;
  text?: string;
  user_id?: string;
}

function gateOf(body: AnyMiddlewareArgs['body']): Gate | undefined {
  const b = body as GateBody;
  if (b.type === 'block_actions' && Array.isArray(b.actions)) {
    const staffAction = b.actions.find((a) => STAFF_ACTIONS.has(String(a.action_id)));
    if (staffAction)
      return {
        userId: String(b.user?.id ?? ''),
        what: `button ${staffAction.action_id}`,
        inHome: b.container?.type === 'view',
      };
  }
  // Subcommands are staff-only by their entry in handlers/commands.ts (SUBCOMMANDS).
  if (typeof b.command === 'string' && b.command === '/secbot') {
    const text = String(b.text ?? '');
    if (requiresStaff(text))
      return { userId: String(b.user_id ?? ''), what: `/secbot ${subcommandOf(text)}`, inHome: false };
  }
  return undefined;
}

export function staffOnly(deps: ListenerDeps): Middleware<AnyMiddlewareArgs> {
  return async (args) => {
    const gate = gateOf(args.body);
    if (!gate) return args.next();
    if (gate.userId && (await deps.staff.isStaff(gate.userId))) return args.next();
    const a = args as AnyMiddlewareArgs & {
      ack?: (r?: unknown) => Promise<void>;
      respond?: (m: unknown) => Promise<unknown>;
    };
    deps.audit.write(
      auditEvent({
        action: 'staff.refused',
        outcome: 'failure',
        message: `${gate.userId || 'unknown user'} is not staff and tried ${gate.what}`,
        actor: gate.userId,
        secbot: { attempted: gate.what },
      }),
    );
    deps.logger.info(`refused ${gate.what} for non-staff ${gate.userId}`);
    if ('command' in (args.body as object)) {
      await a.ack?.({ response_type: 'ephemeral', text: STAFF_ONLY_MESSAGE });
    } else if (gate.inHome) {
      // No ephemeral answer exists for the Home: show them the Home they are allowed to see.
      await a.ack?.();
      if (gate.userId)
        await deps.home
          .refresh(gate.userId)
          .catch((err) => deps.logger.warn({ err }, `could not refresh the Home of ${gate.userId}`));
    } else {
      await a.ack?.();
      await a.respond?.({ response_type: 'ephemeral', replace_original: false, text: STAFF_ONLY_MESSAGE });
    }
  };
}
