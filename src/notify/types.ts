import type { AccessGrant, NotificationEvent } from '../api/v1alpha1/types.ts';

export { NOTIFICATION_EVENTS, type NotificationEvent } from '../api/v1alpha1/types.ts';

/** One notification: a grant's event, with everything a person needs to act on it. */
export interface Notification {
  /**
   * Stable per grant and event (`<grant uid>.<event in lower case>`): the same
   * event delivered twice carries the same id, so receivers can drop duplicates.
   */
  id: string;
  event: NotificationEvent;
  /** When it happened (RFC 3339). */
  time: string;
  /** A one-line summary in words, e.g. "alice asks for edit in payments for 1h". */
  summary: string;
  grant: {
    namespace: string;
    name: string;
    uid: string;
    phase?: string;
    /** Who asked (stamped by the identity webhook). */
    requestedBy?: string;
    subject: AccessGrant['spec']['subject'];
    policy: string;
    duration: string;
    reason?: string;
    startAt?: string;
    access: AccessGrant['spec']['access'];
    activatedAt?: string;
    expiresAt?: string;
    /** SHA-256 of the spec (64 hex digits): an approval binds to exactly this version. */
    specHash: string;
  };
  /** Who decided or ended it, for Approved, Denied and Ended (revoked by someone). */
  actor?: { user: string; comment?: string };
  /** Why, in words (the grant's Ready condition message). */
  detail?: string;
  /** How to act on a request (Requested): the exact CLI command, and the portal link if any. */
  act?: { approveCommand: string; denyCommand: string; portalUrl?: string };
}

/** What a sender returns; `ref` identifies the message sent (e.g. Slack's `ts`). */
export interface Delivery {
  ref?: string;
}

/**
 * A channel's transport. `previous` is the `ref` of an earlier message about the
 * same grant on the same channel, for transports that update a message in place
 * (Slack's chat.update); others ignore it.
 */
export interface Sender {
  readonly kind: 'slack' | 'email' | 'webhook';
  send(n: Notification, previous?: string): Promise<Delivery>;
}

/**
 * A failed delivery. `retryable` for throttling (429), server errors (5xx) and
 * network errors; not for a refused credential or a malformed destination, which
 * retrying cannot fix. `retryAfterMs` when the receiver said how long to wait.
 */
export class DeliveryError extends Error {
  readonly retryable: boolean;
  readonly retryAfterMs: number | undefined;

  constructor(
    message: string,
    opts: { retryable: boolean; retryAfterMs?: number; cause?: unknown },
  ) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = 'DeliveryError';
    this.retryable = opts.retryable;
    this.retryAfterMs = opts.retryAfterMs;
  }
}
