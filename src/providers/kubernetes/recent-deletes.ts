import type { Clock } from '../../runtime/clock.ts';

/**
 * Bindings this process has deleted whose deletion its informer cache may not
 * show yet, by object UID (the idea of controller-runtime's "expectations").
 * Without it, a reconcile right after a delete still sees the binding in the
 * lagging cache and deletes it again: under an expiry burst, a second DELETE per
 * binding exactly when the API server is busiest.
 *
 * Each UID is kept for the TTL, past the moment the cache shows the deletion: a
 * reconcile that read the binding just before may still be about to delete it.
 * A UID is safe to treat as gone once a DELETE of its name has succeeded or
 * answered 404: either that object was deleted, or it had been already and the
 * name now belongs to another object (with another UID). UIDs are never reused.
 */
export class RecentDeletes {
  // Insertion order is deletion order, so expiring old entries stops at the first young one.
  private readonly deletedAt = new Map<string, number>();
  private readonly inFlight = new Map<string, Promise<void>>();
  private readonly clock: Clock;
  private readonly ttlMs: number;

  /** `ttlMs` bounds memory if the cache never reports a deletion (a missed watch event). */
  constructor(clock: Clock, ttlMs = 10 * 60_000) {
    this.clock = clock;
    this.ttlMs = ttlMs;
  }

  add(uid: string | undefined): void {
    if (!uid) return;
    const now = this.clock.now().getTime();
    this.deletedAt.delete(uid);
    this.deletedAt.set(uid, now);
    for (const [old, at] of this.deletedAt) {
      if (now - at < this.ttlMs) break;
      this.deletedAt.delete(old);
    }
  }

  has(uid: string | undefined): boolean {
    return uid !== undefined && this.deletedAt.has(uid);
  }

  /**
   * Runs `del` (a DELETE that treats 404 as done) once per UID in this process: a
   * UID deleted already is skipped, and a delete of it in flight (the sweeper's
   * and the grant controller's, racing in an expiry burst) is joined, its outcome
   * this caller's too, so a failure is still seen by both and nothing is taken
   * for gone before the API server said so. Resolves true if this call deleted.
   */
  async once(uid: string | undefined, del: () => Promise<void>): Promise<boolean> {
    if (!uid) {
      await del();
      return true;
    }
    if (this.has(uid)) return false;
    const running = this.inFlight.get(uid);
    if (running) {
      await running;
      return false;
    }
    const deleting = del()
      .then(() => this.add(uid))
      .finally(() => this.inFlight.delete(uid));
    this.inFlight.set(uid, deleting);
    await deleting;
    return true;
  }

  get size(): number {
    return this.deletedAt.size;
  }
}
