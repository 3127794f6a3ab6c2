import { parseDuration } from '../api/v1alpha1/duration.ts';
import { ANNOTATION_EXPIRES_AT, type AccessGrant } from '../api/v1alpha1/types.ts';

export type ExpiryState =
  /** Not activated yet; would expire `duration` after now if activated now. */
  | { kind: 'unstarted'; wouldExpireAt: string }
  /** Approved for a later start. */
  | { kind: 'scheduled'; startAt: string; msUntilStart: number }
  | { kind: 'running'; expiresAt: string; msLeft: number }
  | { kind: 'expired'; expiresAt: string };

/** Pure: where a grant stands in time. */
export function expiryState(grant: AccessGrant, now: Date): ExpiryState {
  const expiresAt = grant.status?.expiresAt;
  if (expiresAt) {
    const msLeft = Date.parse(expiresAt) - now.getTime();
    return msLeft > 0 ? { kind: 'running', expiresAt, msLeft } : { kind: 'expired', expiresAt };
  }
  const startAt = grant.spec.startAt;
  if (startAt) {
    const msUntilStart = Date.parse(startAt) - now.getTime();
    if (msUntilStart > 0) return { kind: 'scheduled', startAt, msUntilStart };
  }
  const wouldExpireAt = new Date(now.getTime() + parseDuration(grant.spec.duration)).toISOString();
  return { kind: 'unstarted', wouldExpireAt };
}

/**
 * Pure: the sweeper's verdict on a binding's `timebox.dev/expires-at`: milliseconds
 * until it must go (<= 0: now). A missing or unreadable value means now: a binding
 * Timebox cannot date must not outlive anything.
 */
export function msUntilBindingExpiry(
  annotations: Record<string, string> | undefined,
  now: Date,
): number {
  const at = Date.parse(annotations?.[ANNOTATION_EXPIRES_AT] ?? '');
  return Number.isNaN(at) ? 0 : at - now.getTime();
}
