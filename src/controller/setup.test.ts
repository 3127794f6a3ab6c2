import assert from 'node:assert/strict';
import type { KubernetesObject, V1RoleBinding } from '@kubernetes/client-node';
import { aGrant } from '../api/v1alpha1/testing.ts';
import type { AccessApproval, AccessGrant, AccessPolicy } from '../api/v1alpha1/types.ts';
import { createLogger } from '../log/logger.ts';
import { FakeClock } from '../runtime/clock.ts';
import type { Controller, EventSource } from '../runtime/manager.ts';
import type { WorkQueue } from '../runtime/workqueue.ts';
import type { ReconcileResult } from './accessgrant.ts';
import { setupAccessGrantController } from './accessgrant-setup.ts';
import { setupAccessPolicyController } from './accesspolicy-setup.ts';
import { setupSweeper } from './sweeper-setup.ts';

type Verb = 'add' | 'update' | 'delete';

/** An informer's events, emitted by the test. */
class Source<T> implements EventSource<T> {
  private readonly handlers: [Verb, (o: T) => void][] = [];
  items: T[] = [];
  on(verb: Verb, handler: (o: T) => void) {
    this.handlers.push([verb, handler]);
  }
  emit(verb: Verb, obj: T) {
    for (const [v, h] of this.handlers) if (v === verb) h(obj);
  }
  list() {
    return this.items;
  }
}

/** Everything queued, in the order the queue hands it out. */
async function drain(queue: WorkQueue): Promise<string[]> {
  const keys: string[] = [];
  while (queue.len() > 0) {
    const k = (await queue.get())!;
    keys.push(k);
    queue.done(k);
  }
  return keys;
}

const queueOf = (c: Controller, loop: string) => c.loops.find((l) => l.name === loop)!.queue;

const NOW = '2026-11-27T10:00:00Z';
const grant = (name: string, status?: AccessGrant['status'], policy = 'oncall') =>
  aGrant({ metadata: { name }, spec: { policy }, ...(status ? { status } : {}) });
const binding = (owner: string, uid: string) =>
  ({
    metadata: {
      name: `timebox-${owner}`,
      namespace: 'payments',
      labels: { 'timebox.dev/grant-uid': uid },
      annotations: { 'timebox.dev/grant': `payments/${owner}` },
    },
    roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'edit' },
  }) as V1RoleBinding;

describe('controller setup: which events queue which keys', () => {
  const log = createLogger({ write: () => {} });
  let clock: FakeClock;
  beforeEach(() => (clock = new FakeClock(NOW)));

  describe('AccessGrant', () => {
    const build = (result: ReconcileResult = {}) => {
      const grants = new Source<AccessGrant>();
      const policies = new Source<AccessPolicy>();
      const approvals = new Source<AccessApproval>();
      const bindings = new Source<KubernetesObject>();
      const reconciled: string[] = [];
      const setup = setupAccessGrantController({
        grants: Object.assign(grants, {
          get: (name: string) => grants.items.find((g) => g.metadata.name === name),
        }),
        policies,
        approvals,
        bindings: [bindings],
        bindingsLeft: () => false,
        controller: {
          reconcile: async (key, lane) => {
            reconciled.push(`${lane}:${key}`);
            return result;
          },
          awaitsRecord: () => false,
        },
        clock,
        log,
        workers: 2,
        revokeWorkers: 3,
      });
      const c = setup.controller;
      return {
        grants,
        policies,
        approvals,
        bindings,
        setup,
        reconciled,
        grantLane: queueOf(c, 'accessgrant'),
        revokeLane: queueOf(c, 'accessgrant-revoke'),
      };
    };

    it('queues a new grant to be granted, an expired one to be revoked', async () => {
      const t = build();
      const fresh = grant('fresh');
      const expired = grant('expired', { phase: 'Active', expiresAt: '2026-11-27T09:00:00Z' });
      t.grants.items = [fresh, expired];
      t.grants.emit('add', fresh);
      t.grants.emit('update', expired);
      assert.deepEqual(await drain(t.grantLane), ['payments/fresh']);
      assert.deepEqual(await drain(t.revokeLane), ['payments/expired']);
      assert.deepEqual(
        t.setup.controller.loops.map((l) => [l.workers, l.retryTerminal ?? false]),
        [
          [2, false],
          [3, true],
        ],
        'ending access is retried whatever the error',
      );
    });

    it('re-queues the owner of a binding deleted or edited by hand, and of an approval', async () => {
      const t = build();
      t.grants.items = [grant('a'), grant('b')];
      t.bindings.emit('delete', binding('a', 'uid-a'));
      t.bindings.emit('update', { metadata: { name: 'someone-elses' } });
      t.approvals.emit('add', {
        metadata: { namespace: 'payments', name: 'b-bob' },
        spec: { grantRef: { name: 'b', uid: 'uid-b' }, decision: 'Approve', approver: 'bob' },
      } as AccessApproval);
      assert.deepEqual(await drain(t.grantLane), ['payments/a', 'payments/b']);
    });

    it("re-queues a policy's grants when it changes, and on resync those not final", async () => {
      const t = build();
      t.grants.items = [
        grant('a'),
        grant('other', undefined, 'other'),
        grant('done', { phase: 'Expired' }),
      ];
      t.policies.emit('update', { metadata: { name: 'oncall' } } as AccessPolicy);
      assert.deepEqual(await drain(t.grantLane), ['payments/a']);
      assert.deepEqual(await drain(t.revokeLane), ['payments/done']);
      t.setup.resync();
      assert.deepEqual(await drain(t.grantLane), ['payments/a', 'payments/other']);
      assert.deepEqual(await drain(t.revokeLane), []);
    });

    it("sends a reconcile's timer to the lane it names, and a record to write behind revocations", async () => {
      const t = build({ requeueAfterMs: 60_000, lane: 'revoke', recordLater: true });
      t.grants.items = [grant('a')];
      await t.setup.controller.loops[0]!.reconcile('payments/a');
      assert.deepEqual(t.reconciled, ['grant:payments/a']);
      assert.deepEqual(await drain(t.revokeLane), ['payments/a'], 'the record, at once');
      clock.advance(60_000);
      assert.deepEqual(await drain(t.revokeLane), ['payments/a'], 'the expiry timer');
      assert.deepEqual(await drain(t.grantLane), []);
    });
  });

  it("sweeper: queues every binding added or changed, and a deleted grant's bindings", async () => {
    const grants = new Source<AccessGrant>();
    const roleBindings = new Source<V1RoleBinding>();
    const clusterRoleBindings = new Source<V1RoleBinding>();
    const c = setupSweeper({
      sweeper: {
        reconcile: async () => ({}),
        keysForGrant: (uid) => (uid === 'uid-gone' ? ['RoleBinding/payments/timebox-gone'] : []),
      },
      grants,
      roleBindings,
      clusterRoleBindings,
      clock,
      log,
    });
    assert.equal(c.everyReplica, true, 'runs on every replica, leader or not');
    roleBindings.emit('add', binding('a', 'uid-a'));
    clusterRoleBindings.emit('update', {
      ...binding('c', 'uid-c'),
      metadata: { name: 'timebox-c' },
    });
    roleBindings.emit('delete', binding('b', 'uid-b'));
    grants.emit('delete', grant('gone'));
    assert.deepEqual(await drain(queueOf(c, 'binding-sweeper')), [
      'RoleBinding/payments/timebox-a',
      'ClusterRoleBinding/timebox-c',
      'RoleBinding/payments/timebox-gone',
    ]);
  });

  it('AccessPolicy: queues an edited policy, and every policy when a role changes', async () => {
    const policies = new Source<AccessPolicy>();
    const roles = new Source<KubernetesObject>();
    policies.items = [{ metadata: { name: 'x' } }, { metadata: { name: 'y' } }] as AccessPolicy[];
    const c = setupAccessPolicyController({
      policies,
      roles: [roles],
      controller: { reconcile: async () => ({}) },
      clock,
      log,
    });
    policies.emit('delete', { metadata: { name: 'x' } } as AccessPolicy);
    assert.deepEqual(await drain(queueOf(c, 'accesspolicy')), ['x']);
    roles.emit('update', { metadata: { name: 'edit' } });
    assert.deepEqual(await drain(queueOf(c, 'accesspolicy')), ['x', 'y']);
    assert.equal(c.everyReplica, undefined, 'the leader only');
  });
});
