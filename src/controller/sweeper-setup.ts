import type { V1ClusterRoleBinding, V1RoleBinding } from '@kubernetes/client-node';
import type { AccessGrant } from '../api/v1alpha1/types.ts';
import type { Logger } from '../log/logger.ts';
import type { Clock } from '../runtime/clock.ts';
import type { Controller, EventSource } from '../runtime/manager.ts';
import { WorkQueue } from '../runtime/workqueue.ts';
import { sweepKey, type BindingSweeper } from './sweeper.ts';

export interface SweeperSetupDeps {
  sweeper: Pick<BindingSweeper, 'reconcile' | 'keysForGrant'>;
  grants: EventSource<AccessGrant>;
  roleBindings: EventSource<V1RoleBinding>;
  clusterRoleBindings: EventSource<V1ClusterRoleBinding>;
  clock: Clock;
  log: Logger;
}

/**
 * The binding sweeper's setup. It runs on every replica, leader or not: deleting
 * an expired, Timebox-owned binding is idempotent and safe from any replica, so
 * a crash or a failover never leaves expired access in place while a Lease runs
 * out.
 */
export function setupSweeper(d: SweeperSetupDeps): Controller {
  const queue = new WorkQueue({ clock: d.clock, name: 'binding-sweeper' });
  // A grant deleted without its finalizer (e.g. removed by hand) leaves orphans.
  d.grants.on('delete', (g) => {
    for (const k of d.sweeper.keysForGrant(g.metadata.uid ?? '')) queue.add(k);
  });
  for (const [source, kind] of [
    [d.roleBindings, 'RoleBinding'],
    [d.clusterRoleBindings, 'ClusterRoleBinding'],
  ] as const) {
    // A deleted binding leaves the sweeper nothing to do.
    source.on('add', (b) => queue.add(sweepKey(kind, b)));
    source.on('update', (b) => queue.add(sweepKey(kind, b)));
  }
  return {
    name: 'binding-sweeper',
    log: d.log,
    what: 'sweep',
    everyReplica: true,
    loops: [
      { name: 'binding-sweeper', queue, workers: 2, reconcile: (k) => d.sweeper.reconcile(k) },
    ],
  };
}
