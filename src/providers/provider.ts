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
  constructor(reason: string, message: string) {
    super(message);
    this.name = 'TerminalError';
    this.reason = reason;
  }
}

export function isTerminal(err: unknown): err is TerminalError {
  return err instanceof TerminalError;
}
