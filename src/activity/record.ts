import {
  ACTIVITY_LIMITS,
  type AccessActivityStatus,
  type ActivityCount,
  type ActivityProvider,
  type ActivityRequest,
} from '../api/v1alpha1/activity.ts';

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

  add(u: Use): void {
    if (u.denied) {
      if (this.denied.length < ACTIVITY_LIMITS.denied) this.denied.push(request(u));
      else this.deniedOmitted++;
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
      if (this.writes.length < ACTIVITY_LIMITS.writes) this.writes.push(request(u));
      else this.writesOmitted++;
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
    for (const [mine, theirs, max] of [
      [this.writes, o.writes, ACTIVITY_LIMITS.writes],
      [this.denied, o.denied, ACTIVITY_LIMITS.denied],
    ] as const) {
      const room = Math.max(0, max - mine.length);
      mine.push(...theirs.slice(0, room));
      const over = Math.max(0, theirs.length - room);
      if (mine === this.writes) this.writesOmitted += over;
      else this.deniedOmitted += over;
    }
    this.writesOmitted += o.writesOmitted;
    this.deniedOmitted += o.deniedOmitted;
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

/** Keeps the first `max` items (oldest first), counting the rest. */
function capped<T extends { at: string }>(
  items: T[],
  max: number,
  omitted: number,
): { items: T[]; omitted: number } {
  const sorted = [...items].sort((a, b) => Date.parse(a.at) - Date.parse(b.at));
  return { items: sorted.slice(0, max), omitted: omitted + Math.max(0, sorted.length - max) };
}

/**
 * Pure: the stored record with a delta added. Counts add up; lists keep the
 * earliest entries up to their cap and count the rest; so replicas that each
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
  const writes = capped(
    [...(stored.writes ?? []), ...delta.writes],
    ACTIVITY_LIMITS.writes,
    (stored.writesOmitted ?? 0) + delta.writesOmitted,
  );
  const denied = capped(
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
