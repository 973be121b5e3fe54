/**
 * The small interfaces the workflow talks to. `app.ts` creates the real ones (Slack, Duo, PagerDuty)
 * or the shadow ones (print instead of send), and passes them down.
 */
import type { Principal } from '../cloudtrail/principal-types.js';
import type { AlertItem, MessageRef, Verification, VerificationCall } from '../store/types.js';

/** The engineer a call is attributed to, and how the match was made. */
export interface Engineer {
  /** Who is asked: the Slack user id when known, else a principal-derived key. Coalescing is per key. */
  key: string;
  slackUserId?: string;
  email?: string;
  /** How the principal was matched: identity map, the principal's email, IAM user name + domain, or none (shadow). */
  via: 'map' | 'email' | 'domain' | 'principal';
}

export type EngineerResolution = { ok: true; engineer: Engineer } | { ok: false; reason: string };

export interface EngineerDirectory {
  resolve(principal: Principal): Promise<EngineerResolution>;
}

/** What the engineer is shown: the verification and its calls. */
export interface Question {
  verification: Verification;
  calls: VerificationCall[];
  /** How the engineer was identified (shown to them). */
  via?: Engineer['via'];
}

/** Slack, as the workflow needs it. Shadow mode prints instead. */
export interface Messenger {
  /** DM the question; returns the message to update later. Throws MessengerError when it cannot be delivered. */
  askEngineer(question: Question): Promise<MessageRef>;
  /**
   * Find the question already posted for this verification (by its message metadata), for a sender that
   * died between Slack's answer and storing the reference. Undefined when there is none; throws when the
   * DM cannot be read. Optional: a messenger without it (shadow mode) always sends again.
   */
  findQuestion?(verification: Verification): Promise<MessageRef | undefined>;
  /** Re-render the DM (new calls joined, or the verification reached a new state). */
  updateQuestion(question: Question): Promise<void>;
  /** Post (or, with `channelMessage` set, update) the alert in the security channel. */
  postAlert(alert: AlertItem): Promise<MessageRef | undefined>;
  /**
   * A follow-up about an alert in the security channel (the watchdog's "recovered"): a reply in the
   * alert's thread (`thread`: its channel message), also shown in the channel, or a new message.
   * Throws when it cannot be delivered. Optional: without it the follow-up is only logged.
   */
  postFollowUp?(text: string, thread?: MessageRef): Promise<MessageRef | undefined>;
}
