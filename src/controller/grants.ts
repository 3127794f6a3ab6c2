import {
  CustomObjectsApi,
  PatchStrategy,
  setHeaderOptions,
  type KubeConfig,
} from '@kubernetes/client-node';
import {
  ACCESS_APPROVAL,
  ACCESS_GRANT,
  API_VERSION,
  GROUP,
  VERSION,
  type AccessApproval,
  type AccessGrant,
  type AccessGrantStatus,
} from '../api/v1alpha1/types.ts';
import type { RetentionDeleter } from './retention.ts';

/** Writes to AccessGrants. Every write carries the resourceVersion it was planned from. */
export interface GrantWriter {
  patchStatus(grant: AccessGrant, status: AccessGrantStatus): Promise<AccessGrant>;
  setFinalizers(grant: AccessGrant, finalizers: string[]): Promise<AccessGrant>;
  get(namespace: string, name: string): Promise<AccessGrant>;
}

const MERGE = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);

export function grantWriter(kc: KubeConfig): GrantWriter {
  const api = kc.makeApiClient(CustomObjectsApi);
  const target = (g: AccessGrant) => ({
    group: GROUP,
    version: VERSION,
    plural: ACCESS_GRANT.plural,
    namespace: g.metadata.namespace ?? '',
    name: g.metadata.name ?? '',
  });
  return {
    async patchStatus(grant, status) {
      // A merge patch with resourceVersion is a compare-and-swap: a decision made
      // from a stale cache fails with 409 instead of overwriting newer state.
      return (await api.patchNamespacedCustomObjectStatus(
        {
          ...target(grant),
          body: { metadata: { resourceVersion: grant.metadata.resourceVersion }, status },
        },
        MERGE,
      )) as AccessGrant;
    },
    async setFinalizers(grant, finalizers) {
      return (await api.patchNamespacedCustomObject(
        {
          ...target(grant),
          body: { metadata: { resourceVersion: grant.metadata.resourceVersion, finalizers } },
        },
        MERGE,
      )) as AccessGrant;
    },
    async get(namespace, name) {
      return (await api.getNamespacedCustomObject({
        group: GROUP,
        version: VERSION,
        plural: ACCESS_GRANT.plural,
        namespace,
        name,
      })) as AccessGrant;
    },
  };
}

/**
 * The ended-grant retention's deletes. Each is preconditioned on the UID, so a
 * newer object of the same name is never deleted, and a grant's also on the
 * resourceVersion it was judged from: a grant changed since fails with 409.
 */
export function retentionDeleter(kc: KubeConfig): RetentionDeleter {
  const api = kc.makeApiClient(CustomObjectsApi);
  const del = (plural: string, o: AccessGrant | AccessApproval, resourceVersion?: string) =>
    api.deleteNamespacedCustomObject({
      group: GROUP,
      version: VERSION,
      plural,
      namespace: o.metadata?.namespace ?? '',
      name: o.metadata?.name ?? '',
      body: {
        preconditions: { uid: o.metadata?.uid, ...(resourceVersion ? { resourceVersion } : {}) },
      },
    }) as Promise<unknown>;
  return {
    async deleteGrant(grant) {
      await del(ACCESS_GRANT.plural, grant, grant.metadata.resourceVersion);
    },
    async deleteApproval(approval) {
      await del(ACCESS_APPROVAL.plural, approval);
    },
  };
}

export function involved(g: AccessGrant) {
  return {
    apiVersion: API_VERSION,
    kind: ACCESS_GRANT.kind,
    name: g.metadata.name ?? '',
    namespace: g.metadata.namespace ?? '',
    uid: g.metadata.uid ?? '',
    ...(g.metadata.resourceVersion ? { resourceVersion: g.metadata.resourceVersion } : {}),
  };
}
