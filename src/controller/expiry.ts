import { parseDuration } from '../api/v1alpha1/duration.ts';
import { ANNOTATION_EXPIRES_AT, type AccessGrant } from '../api/v1alpha1/types.ts';

export type ExpiryState =
  /** Not activated yet; would expire at the end of its window if activated now. */
  | { kind: 'unstarted'; wouldExpireAt: string }
  /** Approved for a later start. */
  | { kind: 'scheduled'; startAt: string; msUntilStart: number }
  /** Never activated, and its window (startAt + duration) is already over. */
  | { kind: 'missed'; windowEndedAt: string }
  | { kind: 'running'; expiresAt: string; msLeft: number }
  | { kind: 'expired'; expiresAt: string };

/**
 * Pure: where a grant stands in time. A grant with a startAt is a time window,
 * [startAt, startAt + duration): activated late it gets only what is left of it,
 * and once the window is over it never activates (a deleted grant re-applied from
 * Git, or one approved too late). Without a startAt the window opens at activation.
 */
export function expiryState(grant: AccessGrant, now: Date): ExpiryState {
  const expiresAt = committedExpiry(grant);
  if (expiresAt) {
    const msLeft = Date.parse(expiresAt) - now.getTime();
    return msLeft > 0 ? { kind: 'running', expiresAt, msLeft } : { kind: 'expired', expiresAt };
  }
  const startAt = grant.spec.startAt;
  const startMs = startAt ? Date.parse(startAt) : now.getTime();
  const msUntilStart = startMs - now.getTime();
  if (startAt && msUntilStart > 0) return { kind: 'scheduled', startAt, msUntilStart };
  const endMs = startMs + parseDuration(grant.spec.duration);
  if (endMs <= now.getTime())
    return { kind: 'missed', windowEndedAt: new Date(endMs).toISOString() };
  return { kind: 'unstarted', wouldExpireAt: new Date(endMs).toISOString() };
}

/**
 * Pure: the committed expiry, never later than the grant's spec allows: its
 * activation plus its duration, within its window. Status is only as trustworthy
 * as whoever may write it; a status.expiresAt pushed later cannot extend access.
 */
export function committedExpiry(grant: AccessGrant): string | undefined {
  const recorded = grant.status?.expiresAt;
  if (!recorded) return undefined;
  const durationMs = parseDuration(grant.spec.duration);
  const activated = Date.parse(grant.status?.activatedAt ?? '');
  const start = Date.parse(grant.spec.startAt ?? '');
  const bounds = [
    Number.isNaN(activated) ? Infinity : activated + durationMs,
    Number.isNaN(start) ? Infinity : start + durationMs,
  ];
  const bound = Math.min(...bounds);
  return Date.parse(recorded) > bound ? new Date(bound).toISOString() : recorded;
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
