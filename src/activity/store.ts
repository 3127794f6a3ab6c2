import { CustomObjectsApi, type KubeConfig } from '@kubernetes/client-node';
import { ACCESS_ACTIVITY, type AccessActivity } from '../api/v1alpha1/activity.ts';
import { GROUP, VERSION } from '../api/v1alpha1/types.ts';
import { isNotFound } from '../kube/errors.ts';
import type { ActivityStore } from './tracker.ts';

/** AccessActivity objects through the API server; replace is a compare-and-swap on resourceVersion. */
export function activityStore(kc: KubeConfig): ActivityStore {
  const api = kc.makeApiClient(CustomObjectsApi);
  const at = (namespace: string) => ({
    group: GROUP,
    version: VERSION,
    plural: ACCESS_ACTIVITY.plural,
    namespace,
  });
  return {
    async get(namespace, name) {
      try {
        return (await api.getNamespacedCustomObject({ ...at(namespace), name })) as AccessActivity;
      } catch (err) {
        if (isNotFound(err)) return undefined;
        throw err;
      }
    },
    async create(a) {
      await api.createNamespacedCustomObject({ ...at(a.metadata.namespace ?? ''), body: a });
    },
    async replace(a) {
      await api.replaceNamespacedCustomObject({
        ...at(a.metadata.namespace ?? ''),
        name: a.metadata.name ?? '',
        body: a,
      });
    },
  };
}
