import type { AccessGrant, Provider } from '../api/v1alpha1/types.ts';

/**
 * One thing a grant gives, as a provider sees it: a RoleBinding, an inline IAM
 * policy, a conditional IAM binding. `body` is normalised so that a desired and
 * an observed artefact are equal exactly when nothing needs repair.
 */
export interface Artefact {
  provider: Provider;
  /** Unique per artefact, stable across reconciles, e.g. `RoleBinding payments/timebox-x`. */
  ref: string;
  /** True when the target ends access at expiresAt by itself. */
  failSafe: boolean;
  body: unknown;
  /**
   * Which instance was observed (e.g. an object's UID), for a provider whose
   * observation is a cache that can lag its own deletes; never compared by plan().
   */
  instance?: string;
}

/**
 * A provider: a narrow, idempotent surface over one access system. The pure part
 * (which artefacts a grant should have) lives beside each provider so that plan()
 * stays pure; these methods are the side effects.
 */
export interface ProviderDriver {
  readonly name: Provider;
  /** The artefacts this grant owns right now, found by ownership label or tag. */
  observe(grant: AccessGrant): Promise<Artefact[]>;
  /** Creates the artefact, or repairs it to match. Succeeds if it already matches. */
  grant(grant: AccessGrant, artefact: Artefact): Promise<void>;
  /** Removes the artefact. Succeeds if it is already gone. */
  revoke(grant: AccessGrant, artefact: Artefact): Promise<void>;
}

/** An error retrying cannot fix (a missing role, a forbidden binding): the grant fails. */
export class TerminalError extends Error {
  readonly reason: string;
  /**
   * For errors that are also what a restarting service says for a while (an API
   * server answers 403 until its authorizer has warmed up): retried for this long
   * from the first time it is seen, and final only after that.
   */
  readonly retryForMs: number | undefined;
  constructor(
    reason: string,
    message: string,
    opts: { retryForMs?: number; cause?: unknown } = {},
  ) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = 'TerminalError';
    this.reason = reason;
    this.retryForMs = opts.retryForMs;
  }
}

/** How long a 401 or 403 from the API server is retried before a grant fails for good. */
export const AUTH_WARMUP_RETRY_MS = 30_000;

/** Whether an error is final (a TerminalError); not to be confused with a grant's terminal phase. */
export function isTerminalError(err: unknown): err is TerminalError {
  return err instanceof TerminalError;
}

/** Keeps the SDK error a TerminalError was made from, for logs and debugging. */
export function withCause(made: unknown, cause: unknown): unknown {
  if (made instanceof TerminalError && made !== cause && made.cause === undefined) {
    made.cause = cause;
  }
  return made;
}
