import {
  RbacAuthorizationV1Api,
  type KubeConfig,
  type V1ClusterRoleBinding,
  type V1RoleBinding,
} from '@kubernetes/client-node';
import { isDeepStrictEqual } from 'node:util';
import { LABEL_GRANT_UID, type AccessGrant } from '../../api/v1alpha1/types.ts';
import { apiMessage, httpStatus, isNotFound, isPermanentApiError } from '../../kube/errors.ts';
import {
  AUTH_WARMUP_RETRY_MS,
  TerminalError,
  type Artefact,
  type ProviderDriver,
} from '../provider.ts';
import { bindingObject, observedBinding, type BindingBody } from './bindings.ts';
import type { RecentDeletes } from './recent-deletes.ts';

/** The RBAC calls the provider makes: a narrow port, so tests can fake it. */
export interface RbacPort {
  createRoleBinding(ns: string, body: V1RoleBinding): Promise<unknown>;
  readRoleBinding(ns: string, name: string): Promise<V1RoleBinding>;
  replaceRoleBinding(ns: string, name: string, body: V1RoleBinding): Promise<unknown>;
  deleteRoleBinding(ns: string, name: string): Promise<unknown>;
  createClusterRoleBinding(body: V1ClusterRoleBinding): Promise<unknown>;
  readClusterRoleBinding(name: string): Promise<V1ClusterRoleBinding>;
  replaceClusterRoleBinding(name: string, body: V1ClusterRoleBinding): Promise<unknown>;
  deleteClusterRoleBinding(name: string): Promise<unknown>;
}

export function rbacPort(kc: KubeConfig): RbacPort {
  const api = kc.makeApiClient(RbacAuthorizationV1Api);
  return {
    createRoleBinding: (namespace, body) => api.createNamespacedRoleBinding({ namespace, body }),
    readRoleBinding: (namespace, name) => api.readNamespacedRoleBinding({ namespace, name }),
    replaceRoleBinding: (namespace, name, body) =>
      api.replaceNamespacedRoleBinding({ namespace, name, body }),
    deleteRoleBinding: (namespace, name) => api.deleteNamespacedRoleBinding({ namespace, name }),
    createClusterRoleBinding: (body) => api.createClusterRoleBinding({ body }),
    readClusterRoleBinding: (name) => api.readClusterRoleBinding({ name }),
    replaceClusterRoleBinding: (name, body) => api.replaceClusterRoleBinding({ name, body }),
    deleteClusterRoleBinding: (name) => api.deleteClusterRoleBinding({ name }),
  };
}

/** The bindings a grant owns, by its UID (the `timebox.dev/grant-uid` label), from caches. */
export interface BindingCaches {
  roleBindings: { get(grantUid: string): V1RoleBinding[] };
  clusterRoleBindings: { get(grantUid: string): V1ClusterRoleBinding[] };
}

function terminal(err: unknown, what: string): unknown {
  if (!isPermanentApiError(err)) return err;
  const msg = apiMessage(err);
  const code = httpStatus(err);
  const reason =
    code === 401
      ? 'Unauthorized'
      : /namespaces? "[^"]*" not found/.test(msg)
        ? 'NamespaceNotFound'
        : /forbidden/i.test(msg)
          ? 'Forbidden'
          : 'Invalid';
  // A freshly restarted API server answers 401, and 403 "cannot create resource",
  // until its authenticator and authorizer caches are warm: retried for a while
  // before it counts. A refusal to bind a role (escalation) or by admission is final.
  const auth = code === 401 || (code === 403 && /cannot \w+ resource/.test(msg));
  return new TerminalError(reason, `${what}: ${msg}`, {
    cause: err,
    ...(auth ? { retryForMs: AUTH_WARMUP_RETRY_MS } : {}),
  });
}

/**
 * Kubernetes RBAC: one RoleBinding per target namespace, or a ClusterRoleBinding,
 * owned through the `timebox.dev/grant-uid` label. Observation reads the informer
 * caches; writes tolerate a stale cache (create falls back to read-and-repair).
 */
export class KubernetesProvider implements ProviderDriver {
  readonly name = 'kubernetes' as const;
  private readonly port: RbacPort;
  private readonly caches: BindingCaches;
  private readonly deleted: RecentDeletes | undefined;

  /** `deleted`, shared with the sweeper, hides bindings already deleted from a lagging cache. */
  constructor(port: RbacPort, caches: BindingCaches, deleted?: RecentDeletes) {
    this.port = port;
    this.caches = caches;
    this.deleted = deleted;
  }

  async observe(grant: AccessGrant): Promise<Artefact[]> {
    const uid = grant.metadata.uid ?? '';
    return [
      ...this.caches.roleBindings.get(uid).map((o) => observedBinding('RoleBinding', o)),
      ...this.caches.clusterRoleBindings
        .get(uid)
        .map((o) => observedBinding('ClusterRoleBinding', o)),
    ].filter((a) => !this.deleted?.has(a.instance));
  }

  async grant(_grant: AccessGrant, artefact: Artefact): Promise<void> {
    const b = artefact.body as BindingBody;
    const desired = bindingObject(b);
    try {
      await this.create(b, desired);
      return;
    } catch (err) {
      if ((err as { code?: number }).code !== 409) throw terminal(err, `creating ${artefact.ref}`);
    }
    // It exists: repair it in place, or re-create it if the role changed (roleRef is immutable).
    const live = await this.read(b);
    if (live.metadata?.labels?.[LABEL_GRANT_UID] !== b.grantUid) {
      // Someone else made a binding by this name (it is predictable from the grant):
      // never take it over, and say so rather than retry until the grant expires.
      throw new TerminalError(
        'NameTaken',
        `${artefact.ref} exists and is not this grant's (no ${LABEL_GRANT_UID}: ${b.grantUid} label); it was not made by Timebox for this grant. Delete it, or request again under another name`,
      );
    }
    const current = observedBinding(b.kind, live as never).body;
    if (isDeepStrictEqual(current, b)) return;
    if (!isDeepStrictEqual((current as BindingBody).roleRef, b.roleRef)) {
      await this.revoke(_grant, artefact);
      await this.create(b, desired).catch((err: unknown) => {
        throw terminal(err, `re-creating ${artefact.ref}`);
      });
      return;
    }
    const merged = {
      ...desired,
      metadata: {
        ...live.metadata,
        labels: { ...live.metadata?.labels, ...desired.metadata?.labels },
        annotations: { ...live.metadata?.annotations, ...desired.metadata?.annotations },
      },
    };
    await this.replace(b, merged).catch((err: unknown) => {
      throw terminal(err, `repairing ${artefact.ref}`);
    });
  }

  async revoke(_grant: AccessGrant, artefact: Artefact): Promise<void> {
    const b = artefact.body as BindingBody;
    const del = async () => {
      try {
        if (b.kind === 'RoleBinding') await this.port.deleteRoleBinding(b.namespace ?? '', b.name);
        else await this.port.deleteClusterRoleBinding(b.name);
      } catch (err) {
        if (!isNotFound(err)) throw err;
      }
    };
    if (this.deleted) await this.deleted.once(artefact.instance, del);
    else await del();
  }

  private create(b: BindingBody, obj: V1RoleBinding): Promise<unknown> {
    return b.kind === 'RoleBinding'
      ? this.port.createRoleBinding(b.namespace ?? '', obj)
      : this.port.createClusterRoleBinding(obj);
  }

  private read(b: BindingBody): Promise<V1RoleBinding> {
    return b.kind === 'RoleBinding'
      ? this.port.readRoleBinding(b.namespace ?? '', b.name)
      : this.port.readClusterRoleBinding(b.name);
  }

  private replace(b: BindingBody, obj: V1RoleBinding): Promise<unknown> {
    return b.kind === 'RoleBinding'
      ? this.port.replaceRoleBinding(b.namespace ?? '', b.name, obj)
      : this.port.replaceClusterRoleBinding(b.name, obj);
  }
}
