import assert from 'node:assert/strict';
import { ApiException } from '@kubernetes/client-node';
import type { AccessActivity } from '../api/v1alpha1/activity.ts';
import { createLogger } from '../log/logger.ts';
import { FakeClock } from '../runtime/clock.ts';
import { activeGrant, anEvent } from './fixtures.ts';
import type { IntakeResult } from './intake.ts';
import { idleVerdict } from './idle.ts';
import { ActivityTracker, type ActivityStore, type TrackerOptions } from './tracker.ts';

class FakeStore implements ActivityStore {
  readonly objects = new Map<string, AccessActivity>();
  writes = 0;
  conflictOnce = false;
  fail = false;
  /** Refuses (422, as the schema's limits would) any object whose JSON is longer. */
  refuseAboveBytes = Infinity;
  refused = 0;
  private rv = 0;
  get(ns: string, name: string) {
    return Promise.resolve(structuredClone(this.objects.get(`${ns}/${name}`)));
  }
  create(a: AccessActivity) {
    return this.put(a, undefined);
  }
  replace(a: AccessActivity) {
    return this.put(a, a.metadata.resourceVersion);
  }
  private put(a: AccessActivity, rv: string | undefined): Promise<void> {
    if (this.fail) return Promise.reject(new Error('API server unavailable'));
    if (JSON.stringify(a).length > this.refuseAboveBytes) {
      this.refused++;
      return Promise.reject(new ApiException(422, 'Invalid', '{"message":"too long"}', {}));
    }
    const key = `${a.metadata.namespace}/${a.metadata.name}`;
    const have = this.objects.get(key);
    if (this.conflictOnce || (rv !== undefined && have?.metadata.resourceVersion !== rv)) {
      this.conflictOnce = false;
      // Someone else wrote in between: another replica's flush.
      if (have)
        this.objects.set(key, {
          ...have,
          metadata: { ...have.metadata, resourceVersion: String(++this.rv) },
        });
      return Promise.reject(new ApiException(409, 'Conflict', '{}', {}));
    }
    this.writes++;
    this.objects.set(key, {
      ...structuredClone(a),
      metadata: { ...a.metadata, resourceVersion: String(++this.rv) },
    });
    return Promise.resolve();
  }
}

/** A stand-in for the right-sizing of an ended grant: how many requests it saw. */
const endedGrants = new Set<string>();
const fakeRightSizing = (g: { uid: string }, s: { requests?: number }) =>
  endedGrants.has(g.uid)
    ? {
        roles: ['ClusterRole edit in payments'],
        used: [],
        unusedResources: [],
        summary: `${s.requests ?? 0} requests`,
      }
    : undefined;

function setup(extra: Partial<TrackerOptions> = {}) {
  endedGrants.clear();
  const clock = new FakeClock('2026-11-25T09:30:00Z');
  const store = new FakeStore();
  const counts: Record<IntakeResult, number> = {
    received: 0,
    attributed: 0,
    unattributed: 0,
    dropped: 0,
    lost: 0,
  };
  const grant = activeGrant();
  const tracker = new ActivityTracker({
    grants: () => [grant],
    cached: (ns, name) => store.objects.get(`${ns}/${name}`),
    store,
    clock,
    log: createLogger({ level: 'error' }),
    counters: { inc: (r, n) => (counts[r] += n) },
    capacity: 100,
    flushIntervalMs: 30_000,
    rightSizing: fakeRightSizing,
    ...extra,
  });
  return { clock, store, counts, grant, tracker };
}

describe('activity tracker', () => {
  it('writes one record per grant per flush, however many requests', async () => {
    const { store, tracker, counts } = setup();
    tracker.offer(Array.from({ length: 50 }, () => anEvent()));
    tracker.intake.drain();
    await tracker.flush();
    assert.equal(store.writes, 1);
    const rec = store.objects.get('payments/alice-debug');
    assert.equal(rec?.status?.requests, 50);
    assert.equal(rec?.spec.grantRef.uid, 'uid-alice-debug');
    assert.deepEqual(
      rec?.metadata.ownerReferences?.map((o) => `${o.kind}/${o.name}/${o.uid}`),
      ['AccessGrant/alice-debug/uid-alice-debug'],
    );
    assert.equal(counts.attributed, 50);
    await tracker.flush();
    assert.equal(store.writes, 1, 'nothing new, nothing written');
  });

  it('merges into what another replica wrote (compare-and-swap, retried on conflict)', async () => {
    const { store, tracker } = setup();
    tracker.offer([anEvent()]);
    tracker.intake.drain();
    await tracker.flush();
    tracker.offer([anEvent(), anEvent()]);
    tracker.intake.drain();
    store.conflictOnce = true;
    await tracker.flush();
    assert.equal(store.objects.get('payments/alice-debug')?.status?.requests, 3);
  });

  it('keeps what it could not write for the next flush', async () => {
    const { store, tracker } = setup();
    tracker.offer([anEvent()]);
    tracker.intake.drain();
    store.fail = true;
    await tracker.flush();
    tracker.offer([anEvent()]);
    tracker.intake.drain();
    store.fail = false;
    await tracker.flush();
    assert.equal(store.objects.get('payments/alice-debug')?.status?.requests, 2);
  });

  it('starts afresh over a record left by an older grant of the same name', async () => {
    const { store, tracker } = setup();
    store.objects.set('payments/alice-debug', {
      metadata: { name: 'alice-debug', namespace: 'payments', resourceVersion: '7' },
      spec: { grantRef: { name: 'alice-debug', uid: 'older' } },
      status: { requests: 999 },
    });
    tracker.offer([anEvent()]);
    tracker.intake.drain();
    await tracker.flush();
    const rec = store.objects.get('payments/alice-debug');
    assert.equal(rec?.status?.requests, 1);
    assert.equal(rec?.spec.grantRef.uid, 'uid-alice-debug');
  });

  it('knows the last use, its own or recorded by another replica', async () => {
    const { store, tracker, grant } = setup();
    assert.equal(tracker.lastUsedMs(grant), undefined);
    tracker.offer([anEvent({ at: '2026-11-25T09:20:00Z' })]);
    tracker.intake.drain();
    assert.equal(tracker.lastUsedMs(grant), Date.parse('2026-11-25T09:20:00Z'));
    store.objects.set('payments/alice-debug', {
      metadata: { name: 'alice-debug', namespace: 'payments' },
      spec: { grantRef: { name: 'alice-debug', uid: 'uid-alice-debug' } },
      status: { lastUsed: '2026-11-25T09:25:00Z' },
    });
    assert.equal(tracker.lastUsedMs(grant), Date.parse('2026-11-25T09:25:00Z'));
  });

  it('a denied attempt is recorded but is not a use', () => {
    const { tracker, grant } = setup();
    tracker.offer([
      anEvent({
        responseStatus: { code: 403 },
        annotations: { 'authorization.k8s.io/decision': 'forbid' },
      }),
    ]);
    tracker.intake.drain();
    assert.equal(tracker.lastUsedMs(grant), undefined);
  });

  it('watches only while events keep arriving', () => {
    const { tracker, clock } = setup();
    assert.equal(tracker.watchedSince(), undefined);
    tracker.offer([anEvent()]);
    const since = clock.now().getTime();
    clock.advance(60_000);
    tracker.offer([anEvent()]);
    assert.equal(tracker.watchedSince(), since);
    clock.advance(121_000);
    assert.equal(tracker.watchedSince(), undefined, 'a gap: blind');
    tracker.offer([anEvent()]);
    assert.equal(tracker.watchedSince(), clock.now().getTime(), 'watching again from now');
  });

  it('writes the right-sizing hint once a grant has ended, and again only when late events change it', async () => {
    const { store, tracker } = setup();
    const ref = { namespace: 'payments', name: 'alice-debug', uid: 'uid-alice-debug' };
    tracker.offer([anEvent()]);
    tracker.intake.drain();
    await tracker.flush();
    assert.equal(store.objects.get('payments/alice-debug')?.status?.rightSizing, undefined);
    endedGrants.add(ref.uid);
    tracker.finish(ref);
    await tracker.flush();
    assert.equal(
      store.objects.get('payments/alice-debug')?.status?.rightSizing?.summary,
      '1 requests',
    );
    assert.equal(store.writes, 2);
    // Another replica (or a restart) finishing it again writes nothing.
    tracker.finish(ref);
    await tracker.flush();
    assert.equal(store.writes, 2);
    // A request made before the end, reported late: the hint follows.
    tracker.offer([anEvent({ at: '2026-11-25T09:59:00Z' })]);
    tracker.intake.drain();
    await tracker.flush();
    const rec = store.objects.get('payments/alice-debug')?.status;
    assert.equal(rec?.requests, 2);
    assert.equal(rec?.rightSizing?.summary, '2 requests');
  });

  it('creates a record for an ended grant nobody used: that it was not needed is the hint', async () => {
    const { store, tracker } = setup();
    const ref = { namespace: 'payments', name: 'alice-debug', uid: 'uid-alice-debug' };
    endedGrants.add(ref.uid);
    // Found ended at start-up, without a record: it may have ended before anything was recorded.
    tracker.finish(ref);
    await tracker.flush();
    assert.equal(store.objects.has('payments/alice-debug'), false);
    tracker.finish(ref, { create: true });
    await tracker.flush();
    const rec = store.objects.get('payments/alice-debug');
    assert.equal(rec?.status?.rightSizing?.summary, '0 requests');
    assert.equal(rec?.spec.grantRef.uid, ref.uid);
    // A grant with nothing to compare (no Kubernetes access) gets no empty record.
    tracker.finish(
      { namespace: 'payments', name: 'aws-only', uid: 'uid-aws-only' },
      { create: true },
    );
    await tracker.flush();
    assert.equal(store.objects.has('payments/aws-only'), false);
  });

  it('flushes every interval on its timer', async () => {
    const { tracker, clock, store } = setup();
    tracker.start();
    tracker.offer([anEvent()]);
    tracker.intake.drain();
    clock.advance(30_000);
    await new Promise((r) => setImmediate(r));
    assert.equal(store.writes, 1);
    await tracker.stop();
  });

  it('a record the API server refuses as too large is written cut to its numbers, not retried forever', async () => {
    const refusals: string[] = [];
    const { store, tracker } = setup({ onRecordRefused: (o) => refusals.push(o) });
    const denied = (i: number) =>
      anEvent({
        verb: 'delete',
        objectRef: { resource: 'secrets', namespace: 'payments', name: `s${i}` },
        responseStatus: { code: 403 },
        annotations: { 'authorization.k8s.io/decision': 'forbid' },
      });
    tracker.offer([anEvent(), ...Array.from({ length: 20 }, (_, i) => denied(i))]);
    tracker.intake.drain();
    store.refuseAboveBytes = 1_500;
    await tracker.flush();
    const rec = store.objects.get('payments/alice-debug');
    assert.equal(rec?.status?.requests, 1, 'the numbers are stored');
    assert.deepEqual(rec?.status?.denied, []);
    assert.equal(rec?.status?.deniedOmitted, 20);
    assert.deepEqual(refusals, ['shrunk']);
    // Nothing is left to retry: the next flush writes only what is new.
    const before = store.refused;
    tracker.offer([anEvent()]);
    tracker.intake.drain();
    await tracker.flush();
    assert.equal(store.refused, before);
    assert.equal(store.objects.get('payments/alice-debug')?.status?.requests, 2);
  });

  it('a record refused even cut down is dropped and counted, and later ones are still written', async () => {
    const refusals: string[] = [];
    const { store, tracker } = setup({ onRecordRefused: (o) => refusals.push(o) });
    tracker.offer([anEvent()]);
    tracker.intake.drain();
    store.refuseAboveBytes = 10;
    await tracker.flush();
    assert.deepEqual(refusals, ['shrunk', 'shrunk', 'dropped']);
    assert.equal(store.objects.get('payments/alice-debug'), undefined);
    const tries = store.refused;
    store.refuseAboveBytes = Infinity;
    tracker.offer([anEvent()]);
    tracker.intake.drain();
    await tracker.flush();
    assert.equal(store.refused, tries, 'the dropped delta is not tried again');
    assert.equal(store.objects.get('payments/alice-debug')?.status?.requests, 1);
  });

  it('after audit events are lost, no grant is idle until its idleTimeout passes without loss', () => {
    const { tracker, clock, grant, counts } = setup({ healthWindowMs: 120_000 });
    const timeoutMs = 10 * 60_000;
    const verdict = () =>
      idleVerdict({
        timeoutMs,
        timeout: '10m',
        activatedAtMs: Date.parse(grant.status?.activatedAt ?? ''),
        lastUsedMs: tracker.lastUsedMs(grant),
        watchedSinceMs: tracker.watchedSince(),
        nowMs: clock.now().getTime(),
      });
    // Some other user's requests keep arriving: the intake looks healthy.
    const other = () =>
      tracker.offer([anEvent({ user: { username: 'bob@example.com', groups: [] } })]);
    other();
    for (let i = 0; i < 12; i++) {
      clock.advance(60_000);
      other();
    }
    assert.equal(verdict().idle, true, 'unused for 12 minutes while watched: idle');
    // A batch is lost (too large): the victim's use may have been in it.
    tracker.lost();
    assert.equal(counts.lost, 1);
    const lostAtMs = clock.now().getTime();
    for (let i = 0; i < 9; i++) {
      clock.advance(60_000);
      other();
      assert.equal(verdict().idle, false, `${i + 1} min after the loss: not idle`);
    }
    // Lost again (the attacker's next round): the clock starts over.
    tracker.lost();
    for (let i = 0; i < 9; i++) {
      clock.advance(60_000);
      other();
    }
    assert.equal(verdict().idle, false);
    assert.ok(
      clock.now().getTime() - lostAtMs > timeoutMs,
      'past the timeout since the first loss',
    );
    clock.advance(60_000 + 1);
    other();
    assert.equal(verdict().idle, true, 'a full idleTimeout without loss: idle again');
  });

  it('events dropped by a full intake count as a loss for idleness too', () => {
    const { tracker, clock, counts } = setup();
    tracker.offer([anEvent()]);
    tracker.intake.drain();
    const since = clock.now().getTime();
    clock.advance(30_000);
    tracker.offer(Array.from({ length: 150 }, () => anEvent()));
    assert.equal(counts.dropped, 50);
    assert.equal(counts.lost, 0, 'counted once, as dropped');
    assert.notEqual(tracker.watchedSince(), since);
    assert.equal(tracker.watchedSince(), clock.now().getTime());
  });
});
