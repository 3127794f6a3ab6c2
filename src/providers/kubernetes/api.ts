import { DNS_LABEL, names, PATH_SEGMENT, rule, str } from '../schema.ts';

/** A `kubernetes` access entry: a role bound in namespaces, or cluster-wide. */
export interface KubernetesAccess {
  clusterRole?: string;
  role?: string;
  namespaces?: string[];
  clusterWide?: boolean;
}

export interface KubernetesAllow {
  clusterRoles?: string[];
  roles?: string[];
  /** Namespaces RoleBindings may target; `*` matches any. */
  namespaces?: string[];
  /** Whether ClusterRoleBindings (clusterWide: true) are allowed. */
  clusterWide?: boolean;
}

export const kubernetesAccessSchema = {
  type: 'object',
  description:
    'Kubernetes RBAC: a RoleBinding per namespace, or a ClusterRoleBinding when clusterWide is true.',
  properties: {
    clusterRole: str(253, { minLength: 1, pattern: PATH_SEGMENT }),
    role: str(253, { minLength: 1, pattern: PATH_SEGMENT }),
    namespaces: {
      type: 'array',
      maxItems: 64,
      'x-kubernetes-list-type': 'set',
      items: str(63, { pattern: DNS_LABEL }),
    },
    clusterWide: { type: 'boolean' },
  },
  'x-kubernetes-validations': [
    rule('has(self.clusterRole) != has(self.role)', 'set exactly one of clusterRole or role'),
    rule(
      '!(has(self.clusterWide) && self.clusterWide) || (has(self.clusterRole) && !has(self.namespaces))',
      'clusterWide: true needs clusterRole and no namespaces (it creates a ClusterRoleBinding)',
    ),
    rule(
      '(has(self.clusterWide) && self.clusterWide) || (has(self.namespaces) && size(self.namespaces) > 0)',
      'namespaces must list at least one namespace unless clusterWide is true',
    ),
  ],
};

export const kubernetesAllowSchema = {
  type: 'object',
  properties: {
    clusterRoles: names(256, str(253, { pattern: PATH_SEGMENT })),
    roles: names(256, str(253, { pattern: PATH_SEGMENT })),
    namespaces: {
      ...names(256, str(63, { pattern: '^(\\*|[a-z0-9]([-a-z0-9]*[a-z0-9])?)$' })),
      description:
        "Namespaces RoleBindings may target ('*' for any); the grant's own namespace when absent.",
    },
    clusterWide: { type: 'boolean', description: 'Allow ClusterRoleBindings.' },
  },
};
