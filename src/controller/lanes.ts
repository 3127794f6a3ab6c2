import { isTerminal, type AccessGrant } from '../api/v1alpha1/types.ts';

/**
 * Grants are reconciled in two lanes with workers of their own, so that ending
 * access never waits behind starting it: a burst of new requests, or every key
 * queued at start-up, cannot delay an expiry (controller-runtime would need two
 * controllers for this; here it is one reconciler fed by two queues).
 */
export type Lane = 'revoke' | 'grant';

/**
 * Pure: the lane a grant's next reconcile belongs in. Anything that ends or
 * cleans up access, or is past its expiry, is `revoke`; the rest (new requests,
 * approvals, scheduled starts, repairs of active grants) is `grant`.
 */
export function laneOf(grant: AccessGrant | undefined, now: Date): Lane {
  if (!grant) return 'revoke';
  if (grant.metadata.deletionTimestamp || grant.spec?.revoked) return 'revoke';
  if (isTerminal(grant.status?.phase)) return 'revoke';
  const expiresAt = Date.parse(grant.status?.expiresAt ?? '');
  if (!Number.isNaN(expiresAt) && expiresAt <= now.getTime()) return 'revoke';
  return 'grant';
}

/**
 * Pure: where a timer set by a reconcile fires. A committed expiry fires into the
 * revoke lane; a scheduled start or an approval timeout into the grant lane.
 */
export function laneOfTimer(grant: AccessGrant | undefined): Lane {
  return grant?.status?.expiresAt ? 'revoke' : 'grant';
}

/** Priorities within the revoke lane (see WorkQueue): ending access first. */
export const REVOKE_PRIORITY = 0;
/** Recording that access ended: status, events. It waits behind every revocation. */
export const RECORD_PRIORITY = -1;

/**
 * Pure: how urgent a revoke-lane reconcile is. Anything that may still end
 * access goes first; a grant whose access is known to be gone (revoked with its
 * record still to write, a terminal grant with no binding left, a grant that no
 * longer exists) waits, so that an expiry burst deletes every binding before it
 * writes any grant's status.
 */
export function revokePriority(
  grant: AccessGrant | undefined,
  known: { awaitsRecord: boolean; bindingsLeft: boolean },
): number {
  if (!grant || known.awaitsRecord) return RECORD_PRIORITY;
  if (isTerminal(grant.status?.phase) && !known.bindingsLeft) return RECORD_PRIORITY;
  return REVOKE_PRIORITY;
}

/**
 * One reconcile per key at a time across lanes: the two queues each keep a key
 * to one worker, and this keeps the lanes from working on the same grant at once.
 */
export class KeyedMutex {
  private readonly tails = new Map<string, Promise<void>>();

  async run<T>(key: string, fn: () => Promise<T>): Promise<T> {
    const before = this.tails.get(key) ?? Promise.resolve();
    let release!: () => void;
    const mine = new Promise<void>((r) => (release = r));
    const tail = before.then(() => mine);
    this.tails.set(key, tail);
    await before;
    try {
      return await fn();
    } finally {
      release();
      if (this.tails.get(key) === tail) this.tails.delete(key);
    }
  }

  /** Keys held or waited for; zero when idle (for tests). */
  get size(): number {
    return this.tails.size;
  }
}
