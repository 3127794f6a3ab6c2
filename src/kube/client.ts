import { ACCESS_ACTIVITY, type AccessActivity } from '../api/v1alpha1/activity.ts';
import {
  CustomObjectsApi,
  PatchStrategy,
  setHeaderOptions,
  type KubeConfig,
} from '@kubernetes/client-node';
import {
  ACCESS_APPROVAL,
  ACCESS_GRANT,
  ACCESS_POLICY,
  API_VERSION,
  GROUP,
  VERSION,
  type AccessApproval,
  type AccessGrant,
  type AccessPolicy,
} from '../api/v1alpha1/types.ts';

const MERGE = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);

interface Kind {
  kind: string;
  plural: string;
}

/** A namespaced kind of Timebox's, typed: what the CLI, the portal and the tests call. */
export interface NamespacedClient<T> {
  get(namespace: string, name: string): Promise<T>;
  /** One namespace, or every namespace when `namespace` is undefined. */
  list(namespace?: string): Promise<{ items: T[]; resourceVersion?: string }>;
  /** Sets apiVersion and kind; the object's namespace says where. */
  create(obj: T): Promise<T>;
  mergePatch(namespace: string, name: string, body: unknown): Promise<T>;
  delete(namespace: string, name: string): Promise<void>;
}

/** A cluster-scoped kind of Timebox's, typed. */
export interface ClusterClient<T> {
  get(name: string): Promise<T>;
  list(): Promise<{ items: T[]; resourceVersion?: string }>;
  create(obj: T): Promise<T>;
}

type Listed<T> = { items: T[]; metadata?: { resourceVersion?: string } };
const listed = <T>(l: Listed<T>) => ({
  items: l.items,
  ...(l.metadata?.resourceVersion ? { resourceVersion: l.metadata.resourceVersion } : {}),
});

function namespaced<T extends { metadata: { namespace?: string } }>(
  api: CustomObjectsApi,
  k: Kind,
): NamespacedClient<T> {
  const base = { group: GROUP, version: VERSION, plural: k.plural };
  return {
    get: async (namespace, name) =>
      (await api.getNamespacedCustomObject({ ...base, namespace, name })) as T,
    list: async (namespace) =>
      listed(
        (namespace === undefined
          ? await api.listClusterCustomObject(base)
          : await api.listNamespacedCustomObject({ ...base, namespace })) as Listed<T>,
      ),
    create: async (obj) =>
      (await api.createNamespacedCustomObject({
        ...base,
        namespace: obj.metadata.namespace ?? '',
        body: { ...obj, apiVersion: API_VERSION, kind: k.kind },
      })) as T,
    mergePatch: async (namespace, name, body) =>
      (await api.patchNamespacedCustomObject({ ...base, namespace, name, body }, MERGE)) as T,
    delete: async (namespace, name) => {
      await api.deleteNamespacedCustomObject({ ...base, namespace, name });
    },
  };
}

function clusterScoped<T>(api: CustomObjectsApi, k: Kind): ClusterClient<T> {
  const base = { group: GROUP, version: VERSION, plural: k.plural };
  return {
    get: async (name) => (await api.getClusterCustomObject({ ...base, name })) as T,
    list: async () => listed((await api.listClusterCustomObject(base)) as Listed<T>),
    create: async (obj) =>
      (await api.createClusterCustomObject({
        ...base,
        body: { ...obj, apiVersion: API_VERSION, kind: k.kind },
      })) as T,
  };
}

/** The three kinds, typed, over one KubeConfig (the caller's identity). */
export interface TimeboxClient {
  grants: NamespacedClient<AccessGrant>;
  approvals: NamespacedClient<AccessApproval>;
  policies: ClusterClient<AccessPolicy>;
  /** Each grant's activity record, named after it (read-only for people). */
  activities: NamespacedClient<AccessActivity>;
}

export function timeboxClient(kc: KubeConfig): TimeboxClient {
  const api = kc.makeApiClient(CustomObjectsApi);
  return {
    grants: namespaced<AccessGrant>(api, ACCESS_GRANT),
    approvals: namespaced<AccessApproval>(api, ACCESS_APPROVAL),
    policies: clusterScoped<AccessPolicy>(api, ACCESS_POLICY),
    activities: namespaced<AccessActivity>(api, ACCESS_ACTIVITY),
  };
}
