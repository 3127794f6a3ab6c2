/** One RBAC rule, as a Role or ClusterRole holds it. */
export interface RbacRule {
  apiGroups?: string[];
  resources?: string[];
  verbs: string[];
  nonResourceURLs?: string[];
}

const RBAC = 'rbac.authorization.k8s.io';
const WORKLOADS: [string, string][] = [
  ['', 'pods'],
  ['apps', 'deployments'],
  ['apps', 'daemonsets'],
  ['apps', 'statefulsets'],
  ['apps', 'replicasets'],
  ['batch', 'jobs'],
  ['batch', 'cronjobs'],
];
/** Namespaces whose workloads run with the cluster's own, powerful identities. */
export const PRIVILEGED_NAMESPACES = ['kube-system'];

// Whether an RBAC resource pattern covers `resource`: `*`, the name itself, or
// `*` + `/sub` for that subresource of any resource, as RBAC matches them.
function resourceMatches(pattern: string, resource: string): boolean {
  if (pattern === '*' || pattern === resource) return true;
  const sub = resource.split('/')[1];
  return sub !== undefined && pattern === `*/${sub}`;
}

function allows(rule: RbacRule, group: string, resource: string, verb: string): boolean {
  const has = (list: string[] | undefined, v: string) =>
    (list ?? []).some((x) => x === '*' || x === v);
  return (
    has(rule.apiGroups, group) &&
    (rule.resources ?? []).some((r) => resourceMatches(r, resource)) &&
    has(rule.verbs, verb)
  );
}

const anyRule = (rules: RbacRule[], group: string, resources: string[], verbs: string[]) =>
  rules.some((r) => resources.some((res) => verbs.some((v) => allows(r, group, res, v))));

/**
 * Pure: what in these rules lets their holder keep access after the grant ends,
 * in words. A grant removes its binding at expiry, but not what was made with
 * it: a RoleBinding the holder created for themselves, a ServiceAccount token, a
 * workload running as a privileged identity. `namespaces` are where the rules
 * apply (`*` for everywhere, as for a ClusterRoleBinding).
 */
export function persistentEscalation(rules: RbacRule[], namespaces: string[]): string[] {
  const privileged = namespaces.some((ns) => ns === '*' || PRIVILEGED_NAMESPACES.includes(ns));
  // Every reconcile of every grant asks this of the same few roles, and `view` or
  // `edit` hold hundreds of rules: the answer is kept for as long as the cache
  // holds the same rules (an updated role is a new object, so a new answer).
  const known = escalations.get(rules) ?? new Map<boolean, string[]>();
  escalations.set(rules, known);
  let out = known.get(privileged);
  if (!out) {
    out = escalationsOf(rules, privileged);
    known.set(privileged, out);
  }
  return [...out];
}
const escalations = new WeakMap<RbacRule[], Map<boolean, string[]>>();

function escalationsOf(rules: RbacRule[], privileged: boolean): string[] {
  const out: string[] = [];
  if (rules.some((r) => (r.verbs ?? []).includes('*') && (r.resources ?? []).includes('*'))) {
    out.push('every verb on every resource (a wildcard rule)');
  }
  if (
    anyRule(rules, RBAC, ['rolebindings', 'clusterrolebindings'], ['create', 'update', 'patch'])
  ) {
    out.push('create or change RoleBindings, e.g. a permanent one for themselves');
  }
  if (anyRule(rules, RBAC, ['roles', 'clusterroles'], ['bind', 'escalate'])) {
    out.push('bind or escalate roles');
  }
  if (anyRule(rules, RBAC, ['roles', 'clusterroles'], ['create', 'update', 'patch'])) {
    // The holder can copy what the grant gives into a role they are bound to for
    // good, or into a ClusterRole that aggregates into view or edit.
    out.push('create or change roles, e.g. one that keeps what the grant gives');
  }
  if (anyRule(rules, '', ['users', 'groups', 'serviceaccounts'], ['impersonate'])) {
    out.push('impersonate users, groups or service accounts');
  }
  if (anyRule(rules, '', ['serviceaccounts/token'], ['create'])) {
    out.push('create ServiceAccount tokens that outlive the grant');
  }
  if (anyRule(rules, '', ['secrets'], ['create'])) {
    out.push('create Secrets, including ServiceAccount token Secrets that never expire');
  }
  const podAccess = ['pods/exec', 'pods/attach', 'pods/ephemeralcontainers'];
  if (anyRule(rules, '', podAccess, ['create', 'get', 'patch', 'update'])) {
    out.push('exec into pods, and so read their ServiceAccount tokens, which outlive the grant');
  }
  if (anyRule(rules, '', ['pods'], ['create'])) {
    out.push('run pods as any ServiceAccount of the namespace, and so hold its token');
  }
  if (
    anyRule(rules, 'certificates.k8s.io', ['certificatesigningrequests'], ['create']) &&
    anyRule(rules, 'certificates.k8s.io', ['signers'], ['approve'])
  ) {
    out.push('issue themselves client certificates, which outlive the grant');
  }
  if (privileged && WORKLOADS.some(([g, res]) => anyRule(rules, g, [res], ['create']))) {
    out.push(
      `create workloads in ${PRIVILEGED_NAMESPACES.join(', ')}, which run as its privileged service accounts`,
    );
  }
  return [...new Set(out)];
}

/** Reads a role's rules (e.g. from a cache); undefined when there is no such role. */
export type RoleRules = (
  kind: 'ClusterRole' | 'Role',
  name: string,
  namespace?: string,
) => RbacRule[] | undefined;

/** What one role lets its holder keep, where a grant or policy would bind it. */
export interface RoleRisk {
  /** e.g. `ClusterRole edit` or `Role payments/deployer`. */
  role: string;
  risks: string[];
}

/** Pure: the risks of binding a Kubernetes role in `namespaces` (`*`: cluster-wide). */
export function roleRisks(
  rules: RoleRules,
  kind: 'ClusterRole' | 'Role',
  name: string,
  namespaces: string[],
): RoleRisk[] {
  if (kind === 'ClusterRole') {
    const risks = persistentEscalation(rules('ClusterRole', name) ?? [], namespaces);
    return risks.length ? [{ role: `ClusterRole ${name}`, risks }] : [];
  }
  return namespaces.flatMap((ns) => {
    const risks = persistentEscalation(rules('Role', name, ns) ?? [], [ns]);
    return risks.length ? [{ role: `Role ${ns}/${name}`, risks }] : [];
  });
}

/** Pure: the risks of the Kubernetes roles a grant asks for. */
export function grantRisks(
  access: {
    kubernetes?: {
      clusterRole?: string;
      role?: string;
      namespaces?: string[];
      clusterWide?: boolean;
    };
  }[],
  rules: RoleRules,
): RoleRisk[] {
  return access.flatMap((t) => {
    const k = t.kubernetes;
    if (!k) return [];
    const where = k.clusterWide ? ['*'] : (k.namespaces ?? []);
    return k.role
      ? roleRisks(rules, 'Role', k.role, where)
      : roleRisks(rules, 'ClusterRole', k.clusterRole ?? '', where);
  });
}

export function describeRisks(risks: RoleRisk[]): string {
  return risks.map((r) => `${r.role} lets its holder ${r.risks.join('; ')}`).join('. ');
}

/**
 * Pure: the risks of every Kubernetes role a policy hands out, where it allows
 * them. `namespacesOfRole` lists where a Role of that name exists, for entries
 * that allow any namespace.
 */
export function policyRisks(
  spec: {
    namespaces?: string[];
    access: {
      kubernetes?: {
        clusterRoles?: string[];
        roles?: string[];
        namespaces?: string[];
        clusterWide?: boolean;
      };
    }[];
  },
  rules: RoleRules,
  namespacesOfRole: (name: string) => string[],
): RoleRisk[] {
  const seen = new Map<string, RoleRisk>();
  for (const entry of spec.access) {
    const k = entry.kubernetes;
    if (!k) continue;
    const namespaces = k.namespaces ?? spec.namespaces ?? [];
    const clusterWhere = k.clusterWide ? ['*'] : namespaces;
    for (const name of k.clusterRoles ?? []) {
      for (const r of roleRisks(rules, 'ClusterRole', name, clusterWhere)) seen.set(r.role, r);
    }
    for (const name of k.roles ?? []) {
      const where = namespaces.includes('*') ? namespacesOfRole(name) : namespaces;
      for (const r of roleRisks(rules, 'Role', name, where)) seen.set(r.role, r);
    }
  }
  return [...seen.values()];
}
