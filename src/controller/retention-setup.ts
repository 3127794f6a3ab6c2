import type { KubernetesObject } from '@kubernetes/client-node';
import type { AccessGrant } from '../api/v1alpha1/types.ts';
import type { Logger } from '../log/logger.ts';
import type { Clock } from '../runtime/clock.ts';
import type { Controller, EventSource } from '../runtime/manager.ts';
import { WorkQueue } from '../runtime/workqueue.ts';
import { grantKey } from './accessgrant.ts';
import type { RetentionController } from './retention.ts';
import { grantsOfBinding } from './routing.ts';

export interface RetentionSetupDeps {
  retention: Pick<RetentionController, 'reconcile'>;
  grants: EventSource<AccessGrant>;
  /** Timebox's RoleBindings and ClusterRoleBindings. */
  bindings: EventSource<KubernetesObject>[];
  clock: Clock;
  log: Logger;
}

/**
 * The ended-grant retention's setup: every grant is queued when it is seen or
 * changes (the reconcile sets a timer at its deletion time, or does nothing),
 * and again when one of its bindings goes, since a grant whose binding was
 * still there was kept. Leader-only: deleting is a decision, made once.
 */
export function setupRetention(d: RetentionSetupDeps): Controller {
  const queue = new WorkQueue({ clock: d.clock, name: 'accessgrant-retention' });
  d.grants.on('add', (g) => queue.add(grantKey(g)));
  d.grants.on('update', (g) => queue.add(grantKey(g)));
  for (const b of d.bindings)
    b.on('delete', (obj) => grantsOfBinding(obj).forEach((k) => queue.add(k)));
  return {
    name: 'accessgrant-retention',
    log: d.log,
    loops: [
      {
        name: 'accessgrant-retention',
        queue,
        workers: 1,
        reconcile: (key) => d.retention.reconcile(key),
      },
    ],
  };
}
