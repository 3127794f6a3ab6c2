import assert from 'node:assert/strict';
import { ACTIVITY_LIMITS } from '../api/v1alpha1/activity.ts';
import { ActivityDelta, mergeActivity, type Use } from './record.ts';

const T0 = Date.parse('2026-11-25T09:00:00Z');
const use = (o: Partial<Use> = {}): Use => ({
  atMs: T0,
  provider: 'kubernetes',
  verb: 'get',
  resource: 'pods',
  namespace: 'payments',
  denied: false,
  write: false,
  ...o,
});

describe('activity record', () => {
  it('counts by verb, resource and namespace, with first and last use', () => {
    const d = new ActivityDelta();
    d.add(use({ atMs: T0 + 2000 }));
    d.add(use({ atMs: T0 + 1000 }));
    d.add(
      use({
        verb: 'patch',
        resource: 'deployments.apps',
        name: 'checkout',
        write: true,
        code: 200,
        atMs: T0 + 3000,
      }),
    );
    d.add(
      use({
        verb: 'delete',
        resource: 'secrets',
        name: 'db',
        denied: true,
        code: 403,
        atMs: T0 + 4000,
      }),
    );
    const r = mergeActivity({}, d);
    assert.equal(r.requests, 3);
    assert.equal(r.firstUsed, '2026-11-25T09:00:01.000Z');
    assert.equal(r.lastUsed, '2026-11-25T09:00:03.000Z');
    assert.deepEqual(
      r.counts?.map((c) => `${c.verb} ${c.resource} ${c.namespace} ${c.count}`),
      ['get pods payments 2', 'patch deployments.apps payments 1'],
    );
    assert.deepEqual(
      r.writes?.map((w) => `${w.verb} ${w.resource}/${w.name}`),
      ['patch deployments.apps/checkout'],
    );
    assert.deepEqual(
      r.denied?.map((w) => `${w.verb} ${w.resource}/${w.name} ${w.code}`),
      ['delete secrets/db 403'],
    );
  });

  it('stays bounded whatever the volume: the excess is counted, not kept', () => {
    const d = new ActivityDelta();
    for (let i = 0; i < 10_000; i++) {
      d.add(use({ resource: `r${i}`, write: true, atMs: T0 + i }));
      d.add(use({ resource: `r${i}`, denied: true, atMs: T0 + i }));
    }
    const r = mergeActivity({}, d);
    assert.equal(r.counts?.length, ACTIVITY_LIMITS.counts);
    assert.equal(r.otherRequests, 10_000 - ACTIVITY_LIMITS.counts);
    assert.equal(r.writes?.length, ACTIVITY_LIMITS.writes);
    assert.equal(r.writesOmitted, 10_000 - ACTIVITY_LIMITS.writes);
    assert.equal(r.denied?.length, ACTIVITY_LIMITS.denied);
    assert.equal(r.deniedOmitted, 10_000 - ACTIVITY_LIMITS.denied);
    assert.ok(JSON.stringify(r).length < 64 * 1024, `${JSON.stringify(r).length} bytes`);
  });

  it('adds up deltas flushed in any order, as replicas do', () => {
    const a = new ActivityDelta();
    const b = new ActivityDelta();
    a.add(use({ atMs: T0 + 5000, write: true, verb: 'create', name: 'x' }));
    b.add(use({ atMs: T0 + 1000 }));
    b.add(use({ atMs: T0 + 9000 }));
    const ab = mergeActivity(mergeActivity({}, a), b);
    const ba = mergeActivity(mergeActivity({}, b), a);
    assert.deepEqual(ab, ba);
    assert.equal(ab.requests, 3);
    assert.equal(ab.firstUsed, '2026-11-25T09:00:01.000Z');
    assert.equal(ab.lastUsed, '2026-11-25T09:00:09.000Z');
  });

  it('a failed flush is absorbed into the next without losing or duplicating', () => {
    const failed = new ActivityDelta();
    failed.add(use({ write: true, verb: 'create', name: 'a', atMs: T0 + 1 }));
    const next = new ActivityDelta();
    next.add(use({ atMs: T0 + 2 }));
    failed.absorb(next);
    const r = mergeActivity({}, failed);
    assert.equal(r.requests, 2);
    assert.equal(r.writes?.length, 1);
    assert.equal(r.counts?.find((c) => c.verb === 'get')?.count, 1);
  });
});
