import assert from 'node:assert/strict';
import { ApiException, type V1RoleBinding } from '@kubernetes/client-node';
import { aGrant } from '../api/v1alpha1/testing.ts';
import type { AccessGrant } from '../api/v1alpha1/types.ts';
import { createLogger } from '../log/logger.ts';
import type { RbacPort } from '../providers/kubernetes/driver.ts';
import { RecentDeletes } from '../providers/kubernetes/recent-deletes.ts';
import { FakeClock } from '../runtime/clock.ts';
import { BindingSweeper } from './sweeper.ts';

const KEY = 'RoleBinding/payments/timebox-alice';

describe('BindingSweeper', () => {
  let clock: FakeClock;
  let bindings: Map<string, V1RoleBinding>;
  let grants: Map<string, AccessGrant>;
  let deletes: string[];

  const binding = (expiresAt: string, uid = 'uid-1'): V1RoleBinding => ({
    metadata: {
      uid: `binding-of-${uid}`,
      name: 'timebox-alice',
      namespace: 'payments',
      labels: { 'timebox.dev/grant-uid': uid },
      annotations: { 'timebox.dev/expires-at': expiresAt, 'timebox.dev/grant': 'payments/alice' },
    },
    roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'view' },
  });
  let deleted: RecentDeletes;
  const sweeper = () =>
    new BindingSweeper({
      deleted,
      roleBindings: {
        get: (name, ns) => bindings.get(`${ns}/${name}`),
        list: () => [...bindings.values()],
      },
      clusterRoleBindings: { get: () => undefined, list: () => [] },
      grants: { get: (name, ns) => grants.get(`${ns}/${name}`) },
      writer: {
        get: async (ns, name) => {
          const g = grants.get(`${ns}/${name}`);
          if (!g) throw new ApiException(404, 'NotFound', '{}', {});
          return g;
        },
      },
      rbac: {
        deleteRoleBinding: async (ns: string, name: string) => {
          deletes.push(`${ns}/${name}`);
          bindings.delete(`${ns}/${name}`);
        },
      } as unknown as RbacPort,
      clock,
      log: createLogger({ write: () => {} }),
    });

  beforeEach(() => {
    clock = new FakeClock('2026-11-27T10:00:00Z');
    bindings = new Map([['payments/timebox-alice', binding('2026-11-27T10:00:10Z')]]);
    grants = new Map([['payments/alice', aGrant({ metadata: { name: 'alice', uid: 'uid-1' } })]]);
    deletes = [];
    deleted = new RecentDeletes(clock);
  });

  it('waits a grace past expires-at, so the grant controller deletes each binding once', async () => {
    assert.deepEqual(await sweeper().reconcile(KEY), { requeueAfterMs: 10_500 });
    clock.advance(10_300);
    assert.deepEqual(await sweeper().reconcile(KEY), { requeueAfterMs: 200 });
    assert.deepEqual(deletes, []);
  });

  it('deletes a binding the primary path left behind', async () => {
    clock.advance(10_500);
    await sweeper().reconcile(KEY);
    assert.deepEqual(deletes, ['payments/timebox-alice']);
  });

  it('does nothing for a binding already gone', async () => {
    bindings.clear();
    assert.deepEqual(await sweeper().reconcile(KEY), {});
    assert.deepEqual(deletes, []);
  });

  it('deletes at once a binding whose grant is gone, asking the API server first', async () => {
    grants.clear();
    await sweeper().reconcile(KEY);
    assert.deepEqual(deletes, ['payments/timebox-alice']);
  });

  it('deletes a binding whose grant was replaced by another of the same name (UIDs differ)', async () => {
    grants.set('payments/alice', aGrant({ metadata: { name: 'alice', uid: 'uid-2' } }));
    await sweeper().reconcile(KEY);
    assert.deepEqual(deletes, ['payments/timebox-alice']);
  });

  it('does not delete again what this process deleted while its cache lags', async () => {
    clock.advance(10_500);
    // The grant controller deleted it; the watch event has not arrived yet.
    deleted.add('binding-of-uid-1');
    assert.deepEqual(await sweeper().reconcile(KEY), {});
    assert.deepEqual(deletes, []);
  });

  it('remembers its own delete, for a cache that still shows the binding', async () => {
    clock.advance(10_500);
    const lagging = binding('2026-11-27T10:00:10Z');
    await sweeper().reconcile(KEY);
    bindings.set('payments/timebox-alice', lagging);
    await sweeper().reconcile(KEY);
    assert.deepEqual(deletes, ['payments/timebox-alice']);
  });
});
