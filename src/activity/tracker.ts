import type {
  AccessActivity,
  AccessActivityStatus,
  ActivityProvider,
  RightSizing,
} from '../api/v1alpha1/activity.ts';
import { apiMessage, httpStatus, isConflict } from '../kube/errors.ts';
import type { Logger } from '../log/logger.ts';
import type { Clock, Timer } from '../runtime/clock.ts';
import type { AccessGrant } from '../api/v1alpha1/types.ts';
import type { ProviderRequest } from '../providers/kind.ts';
import { attribute, attributeRequest, GrantIndex, type GrantWindow } from './attribute.ts';
import type { AuditEvent } from './audit-event.ts';
import { AuditIntake, type IntakeCounters } from './intake.ts';
import { ActivityDelta, mergeActivity, shrinkActivity, type Use } from './record.ts';
import { activityObject } from './object.ts';

/** Where records are kept: AccessActivity objects, written with compare-and-swap. */
export interface ActivityStore {
  get(namespace: string, name: string): Promise<AccessActivity | undefined>;
  create(a: AccessActivity): Promise<void>;
  /** Rejects with a 409 conflict if the object is no longer at its resourceVersion. */
  replace(a: AccessActivity): Promise<void>;
}

export interface TrackerOptions {
  grants: () => readonly AccessGrant[];
  /** The cached record of a grant, if any (for lastUsed seen by other replicas). */
  cached?: (namespace: string, name: string) => AccessActivity | undefined;
  store: ActivityStore;
  clock: Clock;
  log: Logger;
  counters: IntakeCounters;
  /** Users whose requests never count (Timebox's own ServiceAccount). */
  ignoreUsers?: readonly string[];
  /** How often what was seen is written to the records (30 s). */
  flushIntervalMs?: number;
  /**
   * The right-sizing hint of a grant that has ended, from its record; undefined
   * while it has not ended (or has nothing to compare). Recomputed at each write
   * after the end, so late events (another replica's flush) are in it.
   */
  rightSizing?: (
    grant: { namespace: string; name: string; uid: string },
    status: AccessActivityStatus,
  ) => RightSizing | undefined;
  /**
   * The API server refused a record as too large or invalid (413, 422): it was
   * written cut to its numbers, or (refused again) dropped. For the metrics.
   */
  onRecordRefused?: (outcome: 'shrunk' | 'dropped') => void;
  /** Audit events held waiting for attribution at most (10,000). */
  capacity?: number;
  /**
   * A gap in audit events longer than this means the intake is not known to
   * work (120 s); an API server with Timebox running always has some requests.
   */
  healthWindowMs?: number;
}

interface Pending {
  namespace: string;
  name: string;
  uid: string;
  delta: ActivityDelta;
  /** The grant has ended: write its right-sizing hint even if nothing more was seen. */
  finish?: boolean;
  /** ...creating its record if it has none. */
  create?: boolean;
}

/** Without change notices (invalidate), how stale the grant index may be. */
const INDEX_TTL_MS = 1_000;

/**
 * Attributes audit events (and other sources' uses) to grants and keeps each
 * grant's record: in memory, what was seen since the last flush; in the cluster,
 * an AccessActivity per grant, merged into every flushInterval. Many requests
 * make one write per grant per interval, not one per request.
 */
export class ActivityTracker {
  readonly intake: AuditIntake;
  private readonly o: TrackerOptions;
  private readonly ignore: ReadonlySet<string>;
  private index: GrantIndex | undefined;
  private indexBuiltMs = -Infinity;
  private dirty = true;
  private pending = new Map<string, Pending>();
  private readonly lastUsed = new Map<string, number>();
  private readonly idled = new Set<string>();
  private watchedSinceMs: number | undefined;
  private lastReceivedMs: number | undefined;
  private timer: Timer | undefined;
  private flushing: Promise<void> | undefined;
  private stopped = false;

  constructor(o: TrackerOptions) {
    this.o = o;
    this.ignore = new Set(o.ignoreUsers ?? []);
    this.intake = new AuditIntake({
      capacity: o.capacity ?? 10_000,
      counters: o.counters,
      process: (e) => this.processAudit(e),
    });
  }

  /** Takes audit events from a source; never waits, drops (counted) beyond capacity. */
  offer(events: readonly AuditEvent[]): number {
    const now = this.o.clock.now().getTime();
    if (events.length > 0) {
      const gap = this.o.healthWindowMs ?? 120_000;
      if (this.lastReceivedMs === undefined || now - this.lastReceivedMs > gap)
        this.watchedSinceMs = now;
      this.lastReceivedMs = now;
    }
    const dropped = this.intake.offer(events, now);
    if (dropped > 0) this.lost(0);
    return dropped;
  }

  /**
   * Audit events were lost before attribution: a batch refused as too large, an
   * oversized log line, or the intake full (`n` events, or unknown: counted once
   * as result="lost" for each batch or line; intake drops are counted as
   * "dropped" already). Any of them may have been someone's use, so idleness is
   * measured again only from now: nobody is revoked as idle for a gap that may
   * be ours. Someone who makes events be lost keeps grants from going idle; they
   * still end at their expiry.
   */
  lost(n = 1): void {
    if (n > 0) this.o.counters.inc('lost', n);
    const now = this.o.clock.now().getTime();
    if (this.watchedSinceMs !== undefined) this.watchedSinceMs = now;
  }

  /** The start of the current unbroken run of audit events; undefined if none lately. */
  watchedSince(): number | undefined {
    const now = this.o.clock.now().getTime();
    const gap = this.o.healthWindowMs ?? 120_000;
    if (this.lastReceivedMs === undefined || now - this.lastReceivedMs > gap) return undefined;
    return this.watchedSinceMs;
  }

  private grantIndex(): GrantIndex {
    const now = this.o.clock.now().getTime();
    if (!this.index || this.dirty || now - this.indexBuiltMs > INDEX_TTL_MS) {
      this.index = GrantIndex.of(this.o.grants());
      this.indexBuiltMs = now;
      this.dirty = false;
    }
    return this.index;
  }

  /** A grant changed (activated, ended): the next event sees it, not the one a second later. */
  invalidate(): void {
    this.dirty = true;
  }

  processAudit(e: AuditEvent): boolean {
    const hits = attribute(e, this.grantIndex(), this.ignore);
    for (const h of hits) this.record(h.grant, h.use);
    return hits.length > 0;
  }

  /**
   * Takes a provider's requests (CloudTrail records): attributed at once, as
   * they come from a source that reads at its own pace and never floods.
   * Returns how many counted for some grant.
   */
  offerRequests(provider: ActivityProvider, requests: readonly ProviderRequest[]): number {
    let attributed = 0;
    for (const r of requests) {
      const hits = attributeRequest(provider, r, this.grantIndex());
      for (const h of hits) this.record(h.grant, h.use);
      if (hits.length) attributed++;
    }
    return attributed;
  }

  record(grant: GrantWindow, use: Use): void {
    let p = this.pending.get(grant.key);
    if (!p || p.uid !== grant.uid) {
      const [namespace, name] = grant.key.split('/') as [string, string];
      p = { namespace, name, uid: grant.uid, delta: new ActivityDelta() };
      this.pending.set(grant.key, p);
    }
    p.delta.add(use);
    if (!use.denied) {
      const k = `${grant.uid}`;
      this.lastUsed.set(k, Math.max(this.lastUsed.get(k) ?? 0, use.atMs));
    }
  }

  /** The latest use of a grant this replica saw or any replica recorded. */
  lastUsedMs(grant: AccessGrant): number | undefined {
    const local = this.lastUsed.get(grant.metadata.uid ?? '');
    const cached = this.o.cached?.(grant.metadata.namespace ?? '', grant.metadata.name ?? '');
    const stored =
      cached?.spec.grantRef.uid === grant.metadata.uid
        ? Date.parse(cached?.status?.lastUsed ?? '')
        : NaN;
    const all = [local, Number.isNaN(stored) ? undefined : stored].filter(
      (x): x is number => x !== undefined,
    );
    return all.length ? Math.max(...all) : undefined;
  }

  /**
   * A grant ended: at the next flush its record gets its right-sizing hint. With
   * `create`, a record is created if nothing was ever recorded ("nothing used" is
   * a hint too); without, only a record that exists gets it.
   */
  finish(
    grant: { namespace: string; name: string; uid: string },
    opts: { create?: boolean } = {},
  ): void {
    const key = `${grant.namespace}/${grant.name}`;
    const p = this.pending.get(key);
    if (p?.uid === grant.uid) {
      p.finish = true;
      p.create ||= opts.create === true;
    } else
      this.pending.set(key, {
        ...grant,
        delta: new ActivityDelta(),
        finish: true,
        create: opts.create === true,
      });
  }

  /** Remembers that a grant was found idle, so the verdict holds while its revocation is recorded. */
  markIdle(uid: string): void {
    this.idled.add(uid);
  }

  wasIdle(uid: string): boolean {
    return this.idled.has(uid);
  }

  start(): void {
    const tick = () => {
      this.timer = this.o.clock.after(this.o.flushIntervalMs ?? 30_000, () => {
        void this.flush().finally(() => {
          if (!this.stopped) tick();
        });
      });
    };
    tick();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.timer?.cancel();
    this.intake.drain();
    await this.flush();
  }

  /** Writes what was seen since the last flush; what fails to be written is kept for the next. */
  flush(): Promise<void> {
    this.flushing ??= this.flushAll().finally(() => (this.flushing = undefined));
    return this.flushing;
  }

  private async flushAll(): Promise<void> {
    const batch = this.pending;
    this.pending = new Map();
    for (const [key, p] of batch) {
      if (p.delta.empty && !p.finish) continue;
      // Finished by another replica, or an earlier run, already: nothing to write.
      if (p.delta.empty && this.o.cached?.(p.namespace, p.name)?.status?.rightSizing) {
        const c = this.o.cached(p.namespace, p.name);
        if (c?.spec.grantRef.uid === p.uid) continue;
      }
      try {
        await this.write(p);
      } catch (err) {
        if (refusedAsIs(err)) {
          // Retrying the same write would fail forever and hold up everything
          // after it; what could not be stored even cut down is dropped.
          this.o.onRecordRefused?.('dropped');
          this.o.log.error(
            'the API server refused a grant activity record even cut down; dropped',
            {
              grant: key,
              err,
            },
          );
          continue;
        }
        this.o.log.warn('could not write a grant activity record; keeping it for the next flush', {
          grant: key,
          err,
        });
        const newer = this.pending.get(key);
        // Re-queue unless a newer grant of the same name has taken the key meanwhile.
        if (!newer) this.pending.set(key, p);
        else if (newer.uid === p.uid) {
          p.delta.absorb(newer.delta);
          p.finish ||= newer.finish;
          p.create ||= newer.create;
          this.pending.set(key, p);
        }
      }
    }
  }

  private async write(p: Pending): Promise<void> {
    const now = this.o.clock.now().toISOString();
    // 0: as is; 1: this delta's lists cut to counts; 2: the stored record's too.
    let shrunk = 0;
    for (let attempt = 0; ; attempt++) {
      const current = await this.o.store.get(p.namespace, p.name);
      const same = current?.spec.grantRef.uid === p.uid;
      const stored = same ? (current?.status ?? {}) : {};
      const merged = mergeActivity(shrunk >= 2 ? shrinkActivity(stored) : stored, p.delta);
      const rightSizing = this.o.rightSizing?.(p, merged);
      if (
        p.delta.empty &&
        (same
          ? JSON.stringify(rightSizing) === JSON.stringify(current?.status?.rightSizing)
          : !rightSizing || !p.create)
      )
        return;
      const status: AccessActivityStatus = {
        ...merged,
        ...(rightSizing ? { rightSizing } : {}),
        updatedAt: now,
      };
      try {
        if (!current) {
          await this.o.store.create(activityObject(p, status));
        } else {
          const next = activityObject(p, status);
          next.metadata.resourceVersion = current.metadata.resourceVersion ?? '';
          await this.o.store.replace(next);
        }
        return;
      } catch (err) {
        if (refusedAsIs(err) && shrunk < 2) {
          shrunk++;
          if (shrunk === 1) p.delta.shrink();
          this.o.onRecordRefused?.('shrunk');
          this.o.log.warn('the API server refused a grant activity record; writing it cut down', {
            grant: `${p.namespace}/${p.name}`,
            err,
          });
          continue;
        }
        if (!isConflict(err) || attempt >= 4) throw err;
      }
    }
  }
}

/** The API server will never store this record as it is: too large (413) or invalid (422). */
const refusedAsIs = (err: unknown): boolean => {
  const code = httpStatus(err) ?? 0;
  // etcd's own limit comes back as a 500 "etcdserver: request is too large".
  return [413, 422].includes(code) || (code === 500 && /too large/i.test(apiMessage(err)));
};
