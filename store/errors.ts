/** Domain errors the store raises; SDK errors never leave the store except as a `cause`. */
import { SecbotError } from '../lib/errors.js';

/** DynamoDB failed for a reason other than a lost condition (after the SDK's own retries). */
export class StoreError extends SecbotError {
  readonly code = 'store_unavailable';
  constructor(
    readonly operation: string,
    cause: unknown,
  ) {
    super(`store: ${operation} failed: ${describe(cause)}`, { cause });
  }
}

/**
 * A conditional change lost: the item is no longer in a state the change applies to (a double click,
 * a second replica, a replay). `state` is what the item is in now.
 */
export class AlreadyDecidedError extends SecbotError {
  readonly code = 'already_decided';
  constructor(
    readonly id: string,
    readonly state: string | undefined,
    detail?: string,
  ) {
    super(`${id} is already ${state ?? 'gone'}${detail ? ` (${detail})` : ''}`);
  }
}

/** The item does not exist (or has expired). */
export class NotFoundError extends SecbotError {
  readonly code = 'not_found';
  constructor(readonly id: string) {
    super(`${id} not found`);
  }
}

/** Another drainer took the event over after our lease ran out; it will store the decision. */
export class ClaimLostError extends SecbotError {
  readonly code = 'claim_lost';
  constructor(
    readonly eventId: string,
    readonly owner: string,
    readonly heldBy: string | undefined,
  ) {
    super(`claim on event ${eventId} by ${owner} was lost${heldBy ? ` to ${heldBy}` : ''}`);
  }
}

/** The table exists but its keys or indexes are not the ones secbot needs. */
export class TableSchemaError extends SecbotError {
  readonly code = 'table_mismatch';
  constructor(
    readonly tableName: string,
    readonly problems: string[],
  ) {
    super(`table ${tableName} does not match secbot's schema: ${problems.join('; ')}`);
  }
}

function describe(err: unknown): string {
  if (err instanceof Error) return `${err.name}: ${err.message}`;
  return String(err);
}

/** The engineer answered a verification that has gained calls since they were shown it. */
export class StaleVerificationError extends SecbotError {
  readonly code = 'verification_changed';
  constructor(
    readonly id: string,
    readonly expectedCallCount: number,
    readonly callCount: number,
  ) {
    super(`${id} now has ${callCount} calls, not the ${expectedCallCount} that were shown`);
  }
}
