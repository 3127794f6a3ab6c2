import {
  CustomObjectsApi,
  PatchStrategy,
  setHeaderOptions,
  type KubeConfig,
} from '@kubernetes/client-node';
import {
  ACCESS_GRANT,
  API_VERSION,
  GROUP,
  VERSION,
  type AccessGrant,
  type AccessGrantStatus,
} from '../api/v1alpha1/types.ts';

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
