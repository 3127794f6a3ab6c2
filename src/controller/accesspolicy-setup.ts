import type { KubernetesObject } from '@kubernetes/client-node';
import type { AccessPolicy } from '../api/v1alpha1/types.ts';
import type { Logger } from '../log/logger.ts';
import type { Clock } from '../runtime/clock.ts';
import { onEvery, type Controller, type EventSource } from '../runtime/manager.ts';
import { WorkQueue } from '../runtime/workqueue.ts';
import type { AccessPolicyController } from './accesspolicy.ts';
import { policiesOfRoleChange } from './routing.ts';

export interface AccessPolicySetupDeps {
  policies: EventSource<AccessPolicy> & { list(): readonly AccessPolicy[] };
  /** Roles and ClusterRoles. */
  roles: EventSource<KubernetesObject>[];
  controller: Pick<AccessPolicyController, 'reconcile'>;
  clock: Clock;
  log: Logger;
}

/** The AccessPolicy controller's setup: a policy's status follows the policy and the roles it hands out. */
export function setupAccessPolicyController(d: AccessPolicySetupDeps): Controller {
  const queue = new WorkQueue({ clock: d.clock, name: 'accesspolicy' });
  onEvery(d.policies, (p) => {
    if (p.metadata.name) queue.add(p.metadata.name);
  });
  // A role edited to allow more changes what the policies handing it out risk;
  // their status changes, and that re-evaluates their grants.
  for (const r of d.roles) {
    onEvery(r, () => policiesOfRoleChange(d.policies.list()).forEach((n) => queue.add(n)));
  }
  return {
    name: 'accesspolicy',
    log: d.log,
    what: 'policy status',
    loops: [
      { name: 'accesspolicy', queue, workers: 1, reconcile: (k) => d.controller.reconcile(k) },
    ],
  };
}
