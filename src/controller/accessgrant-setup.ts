import type { KubernetesObject } from '@kubernetes/client-node';
import {
  isTerminal,
  type AccessApproval,
  type AccessGrant,
  type AccessPolicy,
} from '../api/v1alpha1/types.ts';
import type { Logger } from '../log/logger.ts';
import type { Clock } from '../runtime/clock.ts';
import { onEvery, type Controller, type EventSource } from '../runtime/manager.ts';
import { WorkQueue } from '../runtime/workqueue.ts';
import { grantKey, type AccessGrantController } from './accessgrant.ts';
import { KeyedMutex, RECORD_PRIORITY, type Lane } from './lanes.ts';
import { grantsOfApproval, grantsOfBinding, grantsOfPolicy, placeGrant } from './routing.ts';

export interface AccessGrantSetupDeps {
  grants: EventSource<AccessGrant> & {
    get(name: string, namespace?: string): AccessGrant | undefined;
    list(): readonly AccessGrant[];
  };
  policies: EventSource<AccessPolicy>;
  approvals: EventSource<AccessApproval>;
  /** Timebox's RoleBindings and ClusterRoleBindings. */
  bindings: EventSource<KubernetesObject>[];
  /** Whether any binding of the grant with this UID is still in the cache. */
  bindingsLeft: (uid: string) => boolean;
  controller: Pick<AccessGrantController, 'reconcile' | 'awaitsRecord'>;
  clock: Clock;
  log: Logger;
  /** Concurrent reconciles of grants being requested, approved or repaired. */
  workers: number;
  /** Concurrent reconciles of grants whose access ends. */
  revokeWorkers: number;
}

/**
 * The AccessGrant controller's setup (controller-runtime's `SetupWithManager`):
 * its two lanes, and which events re-queue which grant (the map functions are
 * in routing.ts). `resync` re-queues every grant that is not final, for drift
 * in clouds, which cannot be watched.
 */
export function setupAccessGrantController(d: AccessGrantSetupDeps): {
  controller: Controller;
  resync: () => void;
  /** Queues a grant's key in the lane, and at the priority, its state calls for. */
  route: (key: string) => void;
} {
  const lanes: Record<Lane, WorkQueue> = {
    grant: new WorkQueue({ clock: d.clock, name: 'accessgrant' }),
    revoke: new WorkQueue({ clock: d.clock, name: 'accessgrant-revoke' }),
  };
  const route = (key: string) => {
    const [ns, name] = key.split('/') as [string, string];
    const grant = d.grants.get(name, ns);
    const { lane, priority } = placeGrant(grant, d.clock.now(), {
      awaitsRecord: d.controller.awaitsRecord(key),
      bindingsLeft: d.bindingsLeft(grant?.metadata.uid ?? ''),
    });
    lanes[lane].add(key, { priority });
  };

  d.grants.on('add', (g) => route(grantKey(g)));
  d.grants.on('update', (g) => route(grantKey(g)));
  // A deleted binding may need restoring by its grant; an edited one, repairing.
  for (const b of d.bindings) onEvery(b, (obj) => grantsOfBinding(obj).forEach(route));
  onEvery(d.policies, (p) => grantsOfPolicy(p, d.grants.list()).forEach(route));
  onEvery(d.approvals, (a) => grantsOfApproval(a).forEach(route));

  // Both lanes run the one reconciler, never on the same grant at once; a timer a
  // reconcile sets fires into the lane it belongs to (an expiry: revoke).
  const mutex = new KeyedMutex();
  const reconcileIn = (lane: Lane) => async (key: string) => {
    const r = await mutex.run(key, () => d.controller.reconcile(key, lane));
    if (r.requeueAfterMs !== undefined) lanes[r.lane ?? 'grant'].addAfter(key, r.requeueAfterMs);
    // Access is gone; writing down that it is waits behind every other revocation.
    if (r.recordLater) lanes.revoke.add(key, { priority: RECORD_PRIORITY });
  };
  return {
    controller: {
      name: 'accessgrant',
      log: d.log,
      loops: [
        {
          name: 'accessgrant',
          queue: lanes.grant,
          workers: d.workers,
          reconcile: reconcileIn('grant'),
        },
        {
          name: 'accessgrant-revoke',
          queue: lanes.revoke,
          workers: d.revokeWorkers,
          reconcile: reconcileIn('revoke'),
          // Ending access is never given up: an error that looks final (a cloud
          // refusing a revoke) is retried with backoff, not left until the resync.
          retryTerminal: true,
        },
      ],
    },
    resync: () => {
      for (const g of d.grants.list()) if (!isTerminal(g.status?.phase)) route(grantKey(g));
    },
    route,
  };
}
