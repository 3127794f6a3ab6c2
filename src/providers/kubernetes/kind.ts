import type { KubeConfig } from '@kubernetes/client-node';
import type { ProviderKind } from '../kind.ts';
import type { BindingCaches } from './driver.ts';
import { desiredBindings } from './bindings.ts';
import {
  kubernetesAccessSchema,
  kubernetesAllowSchema,
  type KubernetesAccess,
  type KubernetesAllow,
} from './api.ts';
import type { RecentDeletes } from './recent-deletes.ts';

/** The operator's own cluster, which the Kubernetes driver acts on through its caches. */
export interface KubernetesCluster {
  kubeConfig: KubeConfig;
  bindings: BindingCaches;
  recentDeletes?: RecentDeletes;
}

/** Kubernetes RBAC in the operator's own cluster: always enabled, never fail-safe. */
export const kubernetesKind: ProviderKind<'kubernetes', KubernetesAccess, KubernetesAllow> = {
  name: 'kubernetes',
  title: 'Kubernetes RBAC',
  desired: desiredBindings,
  allows(k, a, { namespace }) {
    const roleOk = k.role
      ? (a.roles ?? []).includes(k.role)
      : (a.clusterRoles ?? []).includes(k.clusterRole ?? '');
    if (!roleOk) return false;
    if (k.clusterWide) return a.clusterWide === true;
    // Without a namespace list, an entry allows only the grant's own namespace.
    const allowed = a.namespaces ?? [namespace];
    return (k.namespaces ?? []).every((ns) => allowed.includes('*') || allowed.includes(ns));
  },
  describe(k) {
    const role = k.role ? `Role ${k.role}` : `ClusterRole ${k.clusterRole}`;
    return `${role} ${k.clusterWide ? 'CLUSTER-WIDE' : `in namespaces ${(k.namespaces ?? []).join(', ')}`}`;
  },
  schema: { access: kubernetesAccessSchema, allow: kubernetesAllowSchema },
  cli: {
    options: {
      'cluster-role': { type: 'string' },
      role: { type: 'string' },
      'target-namespace': { type: 'string', multiple: true },
      'cluster-wide': { type: 'boolean' },
    },
    usage: `(--cluster-role ROLE | --role ROLE) [--target-namespace NS ...] [--cluster-wide]`,
    help: `  --cluster-role ROLE      a ClusterRole, bound in --target-namespace (or -n), or
  --role ROLE              a namespaced Role
  --target-namespace NS    where the role applies (repeatable; default: -n)
  --cluster-wide           the ClusterRole cluster-wide, if the policy allows it`,
    parse(v, { namespace }) {
      const clusterRole = v['cluster-role'] as string | undefined;
      const role = v.role as string | undefined;
      if (clusterRole && role) throw new Error('give --cluster-role or --role, not both');
      if (!clusterRole && !role) return undefined;
      const targets = (v['target-namespace'] as string[] | undefined) ?? [namespace];
      return {
        ...(clusterRole ? { clusterRole } : { role: role! }),
        ...(v['cluster-wide'] ? { clusterWide: true } : { namespaces: targets }),
      };
    },
  },
  form: [
    {
      option: 'cluster-role',
      label: 'ClusterRole',
      choose: true,
      offered: (a) => a.clusterRoles ?? [],
    },
    { option: 'role', label: 'Role', choose: true, offered: (a) => a.roles ?? [] },
    {
      option: 'target-namespace',
      label: 'In namespaces',
      hint: "comma-separated; the request's namespace when empty",
      offered: (a) => a.namespaces ?? [],
    },
    {
      option: 'cluster-wide',
      label: 'Cluster-wide',
      offered: (a) => (a.clusterWide ? ['true'] : []),
    },
  ],
  async driver({ cluster }) {
    const c = cluster as KubernetesCluster | undefined;
    if (!c) throw new Error('the Kubernetes provider needs the operator cluster');
    const { KubernetesProvider, rbacPort } = await import('./driver.ts');
    return new KubernetesProvider(rbacPort(c.kubeConfig), c.bindings, c.recentDeletes);
  },
};
