import {
  ACTIVITY_LIMITS,
  type AccessActivityStatus,
  type ActivityCount,
  type ActivityProvider,
  type ActivityRequest,
} from '../api/v1alpha1/activity.ts';
import { clip, FIELD_MAX } from './clip.ts';

/** One request attributed to a grant. */
export interface Use {
  /** Unix milliseconds. */
  atMs: number;
  provider: ActivityProvider;
  verb: string;
  resource: string;
  namespace?: string;
  name?: string;
  code?: number;
  /** Refused by the authorizer: a denied attempt, not a use. */
  denied: boolean;
  /** A write (create, update, patch, delete): listed, not only counted. */
  write: boolean;
}

const countKey = (c: Pick<ActivityCount, 'provider' | 'verb' | 'resource' | 'namespace'>) =>
  `${c.provider}\u0000${c.verb}\u0000${c.resource}\u0000${c.namespace ?? ''}`;

/** The use with its free text cut to what the record's schema allows. */
function clipped(u: Use): Use {
  return {
    ...u,
    verb: clip(u.verb, FIELD_MAX.verb),
    resource: clip(u.resource, FIELD_MAX.resource),
    ...(u.namespace !== undefined ? { namespace: clip(u.namespace, FIELD_MAX.namespace) } : {}),
    ...(u.name !== undefined ? { name: clip(u.name, FIELD_MAX.name) } : {}),
  };
}

function request(u: Use): ActivityRequest {
  return {
    at: new Date(u.atMs).toISOString(),
    provider: u.provider,
    verb: u.verb,
    resource: u.resource,
    ...(u.namespace ? { namespace: u.namespace } : {}),
    ...(u.name ? { name: u.name } : {}),
    ...(u.code !== undefined ? { code: u.code } : {}),
  };
}

/**
 * What one replica saw of a grant since its last flush, bounded like the record
 * it is merged into: a flood of requests grows counters, never lists.
 */
export class ActivityDelta {
  requests = 0;
  firstUsedMs: number | undefined;
  lastUsedMs: number | undefined;
  readonly counts = new Map<string, ActivityCount>();
  otherRequests = 0;
  readonly writes: ActivityRequest[] = [];
  writesOmitted = 0;
  readonly denied: ActivityRequest[] = [];
  deniedOmitted = 0;

  add(use: Use): void {
    const u = clipped(use);
    if (u.denied) {
      this.deniedOmitted += keepEndsOnPush(this.denied, request(u), ACTIVITY_LIMITS.denied);
      return;
    }
    this.requests++;
    if (this.firstUsedMs === undefined || u.atMs < this.firstUsedMs) this.firstUsedMs = u.atMs;
    if (this.lastUsedMs === undefined || u.atMs > this.lastUsedMs) this.lastUsedMs = u.atMs;
    const key = countKey(u);
    const c = this.counts.get(key);
    if (c) c.count++;
    else if (this.counts.size < ACTIVITY_LIMITS.counts) {
      this.counts.set(key, {
        provider: u.provider,
        verb: u.verb,
        resource: u.resource,
        ...(u.namespace ? { namespace: u.namespace } : {}),
        count: 1,
      });
    } else this.otherRequests++;
    if (u.write) {
      this.writesOmitted += keepEndsOnPush(this.writes, request(u), ACTIVITY_LIMITS.writes);
    }
  }

  /** Adds another delta's content (one whose flush failed, to be tried again). */
  absorb(o: ActivityDelta): void {
    this.requests += o.requests;
    for (const ms of [o.firstUsedMs, o.lastUsedMs]) {
      if (ms === undefined) continue;
      if (this.firstUsedMs === undefined || ms < this.firstUsedMs) this.firstUsedMs = ms;
      if (this.lastUsedMs === undefined || ms > this.lastUsedMs) this.lastUsedMs = ms;
    }
    this.otherRequests += o.otherRequests;
    for (const [key, c] of o.counts) {
      const have = this.counts.get(key);
      if (have) have.count += c.count;
      else if (this.counts.size < ACTIVITY_LIMITS.counts) this.counts.set(key, { ...c });
      else this.otherRequests += c.count;
    }
    const writes = keepEnds([...this.writes, ...o.writes], ACTIVITY_LIMITS.writes, 0);
    this.writes.splice(0, Infinity, ...writes.items);
    this.writesOmitted += writes.omitted + o.writesOmitted;
    const denied = keepEnds([...this.denied, ...o.denied], ACTIVITY_LIMITS.denied, 0);
    this.denied.splice(0, Infinity, ...denied.items);
    this.deniedOmitted += denied.omitted + o.deniedOmitted;
  }

  /** Keeps only the numbers: listed writes and denied attempts become omitted counts. */
  shrink(): void {
    this.writesOmitted += this.writes.length;
    this.writes.length = 0;
    this.deniedOmitted += this.denied.length;
    this.denied.length = 0;
  }

  get empty(): boolean {
    return this.requests === 0 && this.denied.length === 0 && this.deniedOmitted === 0;
  }
}

const iso = (ms: number | undefined) => (ms === undefined ? undefined : new Date(ms).toISOString());
const earlier = (a?: string, b?: string) =>
  !a ? b : !b ? a : Date.parse(a) <= Date.parse(b) ? a : b;
const later = (a?: string, b?: string) =>
  !a ? b : !b ? a : Date.parse(a) >= Date.parse(b) ? a : b;

/**
 * Pure: the oldest half and the newest half of `items` (`max` in all, oldest
 * first), counting those between as omitted. Keeping only the earliest would let
 * someone push what they do later out of the list with a burst of harmless
 * requests first.
 */
function keepEnds<T extends { at: string }>(
  items: T[],
  max: number,
  omitted: number,
): { items: T[]; omitted: number } {
  const sorted = [...items].sort((a, b) => Date.parse(a.at) - Date.parse(b.at));
  if (sorted.length <= max) return { items: sorted, omitted };
  const head = Math.ceil(max / 2);
  const tail = max - head;
  return {
    items: [...sorted.slice(0, head), ...(tail > 0 ? sorted.slice(-tail) : [])],
    omitted: omitted + sorted.length - max,
  };
}

/**
 * Adds `item` to a list kept like keepEnds, in arrival order (nearly time
 * order): past `max`, the oldest entry of the newer half gives way. Returns how
 * many were omitted (0 or 1).
 */
function keepEndsOnPush<T>(list: T[], item: T, max: number): number {
  list.push(item);
  if (list.length <= max) return 0;
  list.splice(Math.ceil(max / 2), 1);
  return 1;
}

/**
 * Pure: the stored record with a delta added. Counts add up; lists keep the
 * earliest and the latest entries up to their cap and count those between; so
 * replicas that each
 * flush what they saw, in any order, add up to the same record.
 */
export function mergeActivity(
  stored: AccessActivityStatus,
  delta: ActivityDelta,
): AccessActivityStatus {
  const counts = new Map((stored.counts ?? []).map((c) => [countKey(c), { ...c }]));
  let other = (stored.otherRequests ?? 0) + delta.otherRequests;
  for (const [key, c] of delta.counts) {
    const have = counts.get(key);
    if (have) have.count += c.count;
    else if (counts.size < ACTIVITY_LIMITS.counts) counts.set(key, { ...c });
    else other += c.count;
  }
  const writes = keepEnds(
    [...(stored.writes ?? []), ...delta.writes],
    ACTIVITY_LIMITS.writes,
    (stored.writesOmitted ?? 0) + delta.writesOmitted,
  );
  const denied = keepEnds(
    [...(stored.denied ?? []), ...delta.denied],
    ACTIVITY_LIMITS.denied,
    (stored.deniedOmitted ?? 0) + delta.deniedOmitted,
  );
  const firstUsed = earlier(stored.firstUsed, iso(delta.firstUsedMs));
  const lastUsed = later(stored.lastUsed, iso(delta.lastUsedMs));
  return {
    ...stored,
    requests: (stored.requests ?? 0) + delta.requests,
    ...(firstUsed ? { firstUsed } : {}),
    ...(lastUsed ? { lastUsed } : {}),
    counts: [...counts.values()].sort(
      (a, b) => b.count - a.count || countKey(a).localeCompare(countKey(b)),
    ),
    otherRequests: other,
    writes: writes.items,
    writesOmitted: writes.omitted,
    denied: denied.items,
    deniedOmitted: denied.omitted,
  };
}

/**
 * Pure: a stored record cut to its numbers, for when the API server refuses to
 * store it whole (too large, or invalid): lists become omitted counts, counts by
 * kind become otherRequests. Totals and first and last use are kept.
 */
export function shrinkActivity(stored: AccessActivityStatus): AccessActivityStatus {
  const counted = (stored.counts ?? []).reduce((n, c) => n + c.count, 0);
  return {
    ...stored,
    counts: [],
    otherRequests: (stored.otherRequests ?? 0) + counted,
    writes: [],
    writesOmitted: (stored.writesOmitted ?? 0) + (stored.writes?.length ?? 0),
    denied: [],
    deniedOmitted: (stored.deniedOmitted ?? 0) + (stored.denied?.length ?? 0),
  };
}
