import assert from 'node:assert/strict';
import { ACTIVITY_LIMITS } from '../api/v1alpha1/activity.ts';
import { CLIPPED, FIELD_MAX } from './clip.ts';
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

  it('clips names made huge in the URL, so refused requests cannot make the record unstorable', () => {
    const d = new ActivityDelta();
    for (let i = 0; i < 10; i++)
      d.add(
        use({
          atMs: T0 + i,
          verb: 'get',
          resource: 'secrets',
          namespace: 'kube-system',
          name: 'x'.repeat(200_000),
          denied: true,
          code: 403,
        }),
      );
    const r = mergeActivity({}, d);
    assert.ok(JSON.stringify(r).length < 10 * 1024, `${JSON.stringify(r).length} bytes`);
    const name = r.denied?.[0]?.name ?? '';
    assert.equal(name.length, FIELD_MAX.name);
    assert.ok(name.endsWith(CLIPPED), 'a clipped name says so');
  });

  it('stays under 128 KiB with every field and list as large as an attacker can make them', () => {
    const d = new ActivityDelta();
    const huge = (c: string) => c.repeat(100_000);
    for (let i = 0; i < 300; i++) {
      const u = {
        atMs: T0 + i,
        verb: huge('v') + i,
        resource: huge('r') + i,
        namespace: huge('n') + i,
        name: huge('x'),
      };
      d.add(use({ ...u, write: true }));
      d.add(use({ ...u, denied: true, code: 403 }));
    }
    const r = mergeActivity({}, d);
    for (const c of r.counts ?? []) {
      assert.ok(c.verb.length <= FIELD_MAX.verb && c.resource.length <= FIELD_MAX.resource);
      assert.ok((c.namespace ?? '').length <= FIELD_MAX.namespace);
    }
    const bytes = Buffer.byteLength(JSON.stringify(r));
    // Far under etcd's 1.5 MiB per object, with the right-sizing hint added.
    assert.ok(bytes < 128 * 1024, `${bytes} bytes`);
  });

  it('keeps the latest writes too: a burst of harmless ones first cannot push later ones out', () => {
    const d = new ActivityDelta();
    for (let i = 0; i < 200; i++)
      d.add(use({ verb: 'patch', name: `harmless-${i}`, write: true, atMs: T0 + i }));
    d.add(use({ verb: 'delete', name: 'the-real-one', write: true, atMs: T0 + 1_000 }));
    const r = mergeActivity({}, d);
    assert.equal(r.writes?.length, ACTIVITY_LIMITS.writes);
    assert.equal(r.writes?.[0]?.name, 'harmless-0', 'the first are kept');
    assert.equal(r.writes?.at(-1)?.name, 'the-real-one', 'and the last');
    assert.equal(r.writesOmitted, 201 - ACTIVITY_LIMITS.writes);
    // Flushed later in another delta (another replica, the next interval), the same holds.
    const later = new ActivityDelta();
    later.add(use({ verb: 'delete', name: 'later-still', write: true, atMs: T0 + 2_000 }));
    const r2 = mergeActivity(r, later);
    assert.equal(r2.writes?.at(-1)?.name, 'later-still');
    assert.equal(r2.writes?.at(-2)?.name, 'the-real-one');
    assert.equal(r2.writes?.[0]?.name, 'harmless-0');
    assert.equal(r2.writesOmitted, 202 - ACTIVITY_LIMITS.writes);
    // And a failed flush absorbed into the next keeps both ends as well.
    const failed = new ActivityDelta();
    for (let i = 0; i < 60; i++) failed.add(use({ name: `a${i}`, write: true, atMs: T0 + i }));
    const next = new ActivityDelta();
    next.add(use({ name: 'last', write: true, atMs: T0 + 500 }));
    failed.absorb(next);
    const r3 = mergeActivity({}, failed);
    assert.equal(r3.writes?.at(-1)?.name, 'last');
    assert.equal(r3.writes?.[0]?.name, 'a0');
    assert.equal(r3.writesOmitted, 61 - ACTIVITY_LIMITS.writes);
  });
});
