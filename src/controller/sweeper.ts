import type { V1ClusterRoleBinding, V1RoleBinding } from '@kubernetes/client-node';
import { ANNOTATION_GRANT, LABEL_GRANT_UID, type AccessGrant } from '../api/v1alpha1/types.ts';
import { isNotFound } from '../kube/errors.ts';
import type { Logger } from '../log/logger.ts';
import type { RbacPort } from '../providers/kubernetes/driver.ts';
import type { RecentDeletes } from '../providers/kubernetes/recent-deletes.ts';
import type { Clock } from '../runtime/clock.ts';
import type { Informer } from '../runtime/informer.ts';
import { msUntilBindingExpiry } from './expiry.ts';
import type { GrantWriter } from './grants.ts';

type Binding = V1RoleBinding | V1ClusterRoleBinding;

/** Queue keys: `RoleBinding/<ns>/<name>` or `ClusterRoleBinding/<name>`. */
export function sweepKey(kind: 'RoleBinding' | 'ClusterRoleBinding', b: Binding): string {
  return kind === 'RoleBinding'
    ? `RoleBinding/${b.metadata?.namespace}/${b.metadata?.name}`
    : `ClusterRoleBinding/${b.metadata?.name}`;
}

export interface SweeperDeps {
  roleBindings: Pick<Informer<V1RoleBinding>, 'get' | 'list'>;
  clusterRoleBindings: Pick<Informer<V1ClusterRoleBinding>, 'get' | 'list'>;
  grants: Pick<Informer<AccessGrant>, 'get'>;
  writer: Pick<GrantWriter, 'get'>;
  rbac: RbacPort;
  /** Bindings this process deleted already (shared with the grant controller). */
  deleted?: RecentDeletes;
  clock: Clock;
  log: Logger;
  /**
   * How long past a binding's expires-at the sweeper waits for the grant
   * controller (the primary path) before deleting it itself (default 500 ms).
   */
  graceMs?: number;
}

export const SWEEP_GRACE_MS = 500;

/**
 * Kubernetes RBAC has no expiry of its own, so this is the backstop: it deletes
 * any Timebox binding whose `expires-at` has passed, and any binding whose grant
 * no longer exists, whatever the grant controller thinks. Each binding has a timer
 * at its expiry plus a grace, so that at expiry the grant controller deletes each
 * binding once and the backstop acts only where it did not (no leader, a crash).
 * It runs on every replica; its deletes are idempotent. Nothing polls.
 */
export class BindingSweeper {
  private readonly d: SweeperDeps;

  constructor(deps: SweeperDeps) {
    this.d = deps;
  }

  /** Keys of every binding owned by the grant with this UID (e.g. on grant deletion). */
  keysForGrant(uid: string): string[] {
    const mine = (b: Binding) => b.metadata?.labels?.[LABEL_GRANT_UID] === uid;
    return [
      ...this.d.roleBindings
        .list()
        .filter(mine)
        .map((b) => sweepKey('RoleBinding', b)),
      ...this.d.clusterRoleBindings
        .list()
        .filter(mine)
        .map((b) => sweepKey('ClusterRoleBinding', b)),
    ];
  }

  async reconcile(key: string): Promise<{ requeueAfterMs?: number }> {
    const [kind, a, b] = key.split('/');
    const binding =
      kind === 'RoleBinding' ? this.d.roleBindings.get(b!, a) : this.d.clusterRoleBindings.get(a!);
    // Deleted by this process already; the cache has not caught up yet.
    if (!binding || this.d.deleted?.has(binding.metadata?.uid)) return {};
    const graceMs = this.d.graceMs ?? SWEEP_GRACE_MS;
    const msLeft =
      msUntilBindingExpiry(binding.metadata?.annotations, this.d.clock.now()) + graceMs;
    if (msLeft <= 0) {
      await this.delete(key, binding, 'its expires-at has passed');
      return {};
    }
    if (!(await this.grantExists(binding))) {
      await this.delete(key, binding, 'its grant no longer exists');
      return {};
    }
    return { requeueAfterMs: msLeft };
  }

  private async grantExists(binding: Binding): Promise<boolean> {
    const uid = binding.metadata?.labels?.[LABEL_GRANT_UID];
    const [namespace, name] = (binding.metadata?.annotations?.[ANNOTATION_GRANT] ?? '/').split('/');
    if (!uid || !namespace || !name) return false;
    if (this.d.grants.get(name, namespace)?.metadata.uid === uid) return true;
    // The cache may lag a grant that was just created: ask the API server before deleting.
    try {
      return (await this.d.writer.get(namespace, name)).metadata.uid === uid;
    } catch (err) {
      if (isNotFound(err)) return false;
      throw err;
    }
  }

  private async delete(key: string, binding: Binding, why: string): Promise<void> {
    const [kind, a, b] = key.split('/');
    const del = async () => {
      try {
        if (kind === 'RoleBinding') await this.d.rbac.deleteRoleBinding(a!, b!);
        else await this.d.rbac.deleteClusterRoleBinding(a!);
      } catch (err) {
        if (!isNotFound(err)) throw err;
      }
    };
    // The grant controller may be deleting it this very moment: one DELETE, not two.
    const swept = this.d.deleted
      ? await this.d.deleted.once(binding.metadata?.uid, del)
      : (await del(), true);
    if (!swept) return;
    this.d.log.info('swept binding', {
      binding: key,
      grant: binding.metadata?.annotations?.[ANNOTATION_GRANT],
      why,
    });
  }
}
