import {
  ACTIVITY_LIMITS,
  type AccessActivityStatus,
  type RightSizing,
  type SuggestedRule,
  type UsageEntry,
} from '../api/v1alpha1/activity.ts';
import type { AccessGrant } from '../api/v1alpha1/types.ts';
import type { RbacRule } from '../policy/escalation.ts';

/** A role a grant bound, with its rules as they are when the grant ends. */
export interface GrantedRole {
  /** e.g. `ClusterRole edit`. */
  role: string;
  /** Undefined when the role no longer exists. */
  rules: (RbacRule & { resourceNames?: string[] })[] | undefined;
  /** Where it applies: its namespaces, or `*` for a cluster-wide binding. */
  namespaces: string[];
}

/** How a grant's roles are found: Kubernetes' Role or (aggregated) ClusterRole rules. */
export type RulesOf = (
  kind: 'Role' | 'ClusterRole',
  name: string,
  namespace: string,
) => RbacRule[] | undefined;

/** Pure: the roles a grant's Kubernetes entries bound, and where. */
export function grantedRoles(grant: AccessGrant, rulesOf: RulesOf): GrantedRole[] {
  const out: GrantedRole[] = [];
  for (const a of grant.spec.access ?? []) {
    const k = a.kubernetes;
    if (!k) continue;
    const namespaces = k.clusterWide ? ['*'] : (k.namespaces ?? []);
    if (k.role) {
      // A Role lives in one namespace: the entry binds the one of that name in each.
      for (const ns of namespaces)
        out.push({
          role: `Role ${ns}/${k.role}`,
          rules: rulesOf('Role', k.role, ns),
          namespaces: [ns],
        });
    } else if (k.clusterRole) {
      out.push({
        role: `ClusterRole ${k.clusterRole}`,
        rules: rulesOf('ClusterRole', k.clusterRole, ''),
        namespaces,
      });
    }
  }
  return out;
}

/** `pods`, `pods/log`, `deployments.apps`, `*.apps`, `pods.*`, `*`: as the record names resources. */
function patternName(group: string, resource: string): string {
  const [base, ...sub] = resource.split('/');
  const tail = sub.length ? `/${sub.join('/')}` : '';
  if (group === '*' && base === '*') return `*${tail}`;
  return group ? `${base}.${group}${tail}` : `${base}${tail}`;
}

/** The record's `deployments.apps/scale` as RBAC sees it: group `apps`, resource `deployments/scale`. */
function parseResource(name: string): { group: string; resource: string } {
  const slash = name.indexOf('/');
  const main = slash < 0 ? name : name.slice(0, slash);
  const sub = slash < 0 ? '' : name.slice(slash);
  const dot = main.indexOf('.');
  return dot < 0
    ? { group: '', resource: main + sub }
    : { group: main.slice(dot + 1), resource: main.slice(0, dot) + sub };
}

/** Whether an RBAC resource pattern covers a resource: `*` covers subresources too. */
function resourceCovers(pattern: string, resource: string): boolean {
  if (pattern === '*' || pattern === resource) return true;
  const sub = resource.split('/')[1];
  return sub !== undefined && pattern === `*/${sub}`;
}

interface Matcher {
  unit: string;
  group: string;
  resource: string;
  verbs: string[];
  resourceNames: string[] | undefined;
  namespaces: string[];
}

const sorted = (xs: Iterable<string>) => [...new Set(xs)].sort();

/**
 * Pure: which of the permissions a grant gave were used, and the smallest rules
 * that would have covered every use. Uses are the record's allowed requests
 * (counts); those no granted rule covers were allowed by something else and
 * are left out. Bounded: at most ACTIVITY_LIMITS.usage entries of used and
 * unused resources together (the rest counted in `omitted`), and as many
 * suggested rules as there are counted kinds of request.
 */
export function rightSizing(roles: GrantedRole[], status: AccessActivityStatus): RightSizing {
  const units = new Map<string, { verbs: Set<string>; used: Set<string> }>();
  const matchers: Matcher[] = [];
  const granted = new Set<string>();
  for (const r of roles) {
    for (const ns of r.namespaces) if (ns !== '*') granted.add(ns);
    for (const rule of r.rules ?? []) {
      for (const group of rule.apiGroups ?? []) {
        for (const resource of rule.resources ?? []) {
          const unit = patternName(group, resource);
          const u = units.get(unit) ?? { verbs: new Set(), used: new Set() };
          for (const v of rule.verbs ?? []) u.verbs.add(v);
          units.set(unit, u);
          matchers.push({
            unit,
            group,
            resource,
            verbs: rule.verbs ?? [],
            resourceNames: rule.resourceNames?.length ? rule.resourceNames : undefined,
            namespaces: r.namespaces,
          });
        }
      }
    }
  }

  // Per API group and resourceNames, the verbs used on each resource.
  const needed = new Map<
    string,
    { group: string; names?: string[]; verbs: Map<string, Set<string>> }
  >();
  const usedNamespaces = new Set<string>();
  let elsewhere = 0;
  for (const c of status.counts ?? []) {
    if (c.provider !== 'kubernetes') continue;
    const { group, resource } = parseResource(c.resource);
    const hits = matchers.filter(
      (m) =>
        (m.group === '*' || m.group === group) &&
        resourceCovers(m.resource, resource) &&
        (m.verbs.includes('*') || m.verbs.includes(c.verb)) &&
        (m.namespaces.includes('*') ||
          (c.namespace !== undefined && m.namespaces.includes(c.namespace))),
    );
    if (hits.length === 0) {
      elsewhere += c.count;
      continue;
    }
    for (const h of hits) units.get(h.unit)!.used.add(c.verb);
    if (c.namespace) usedNamespaces.add(c.namespace);
    // The narrowest rule that allowed it: one limited to named objects, if any.
    const names = hits.find((h) => h.resourceNames)?.resourceNames;
    const key = `${group}\u0000${names?.join(',') ?? ''}`;
    const n = needed.get(key) ?? { group, ...(names ? { names } : {}), verbs: new Map() };
    n.verbs.set(resource, (n.verbs.get(resource) ?? new Set()).add(c.verb));
    needed.set(key, n);
  }

  const suggestedRules: SuggestedRule[] = [];
  for (const n of needed.values()) {
    // Resources used with the same verbs share a rule.
    const byVerbs = new Map<string, string[]>();
    for (const [resource, verbs] of n.verbs) {
      const k = sorted(verbs).join(',');
      byVerbs.set(k, [...(byVerbs.get(k) ?? []), resource]);
    }
    for (const [verbs, resources] of byVerbs)
      suggestedRules.push({
        apiGroups: [n.group],
        resources: sorted(resources),
        verbs: verbs.split(','),
        ...(n.names ? { resourceNames: sorted(n.names) } : {}),
      });
  }
  suggestedRules.sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b)));

  const names = sorted(units.keys());
  const usedAll: UsageEntry[] = names
    .filter((n) => units.get(n)!.used.size > 0)
    .map((n) => ({
      resource: n,
      verbs: sorted(units.get(n)!.verbs).slice(0, 32),
      used: sorted(units.get(n)!.used).slice(0, 32),
    }));
  const unusedAll = names.filter((n) => units.get(n)!.used.size === 0);
  const used = usedAll.slice(0, ACTIVITY_LIMITS.usage);
  const unusedResources = unusedAll.slice(0, ACTIVITY_LIMITS.usage - used.length);
  const omitted = usedAll.length + unusedAll.length - used.length - unusedResources.length;
  const unusedNamespaces = sorted([...granted].filter((ns) => !usedNamespaces.has(ns)));
  const missing = roles.filter((r) => !r.rules).map((r) => r.role);

  const parts: string[] = [];
  if (usedAll.length === 0) {
    parts.push(
      `Nothing granted was used: ${sorted(roles.map((r) => r.role)).join(', ')} was not needed`,
    );
  } else {
    const pairs = (u: { verbs: Set<string> }) => u.verbs.size;
    const grantedPairs = [...units.values()].reduce((n, u) => n + pairs(u), 0);
    const usedPairs = [...units.values()].reduce((n, u) => n + u.used.size, 0);
    parts.push(
      `Used ${usedPairs} verb-resource permissions of the ${grantedPairs} granted, on ${usedAll.length} of ${units.size} resources; ${suggestedRules.length} rule${suggestedRules.length === 1 ? '' : 's'} would have covered every use`,
    );
    if (unusedNamespaces.length) parts.push(`never used in ${unusedNamespaces.join(', ')}`);
    if (roles.some((r) => r.namespaces.includes('*')))
      parts.push(
        usedNamespaces.size
          ? `cluster-wide, but used only in ${sorted(usedNamespaces).join(', ')}`
          : 'cluster-wide, but used only on cluster-scoped resources',
      );
  }
  if (status.otherRequests)
    parts.push(`${status.otherRequests} requests beyond the record's cap are not compared`);
  if (elsewhere) parts.push(`${elsewhere} requests were allowed by other roles than the grant's`);
  if (missing.length) parts.push(`not found, so not compared: ${missing.join(', ')}`);

  return {
    roles: sorted(
      roles.map(
        (r) =>
          `${r.role}${r.namespaces.includes('*') ? ' cluster-wide' : ` in ${r.namespaces.join(', ')}`}`,
      ),
    ).slice(0, 16),
    used,
    unusedResources,
    ...(unusedNamespaces.length ? { unusedNamespaces } : {}),
    suggestedRules: suggestedRules.slice(0, ACTIVITY_LIMITS.usage),
    ...(omitted ? { omitted } : {}),
    summary: `${parts.join('; ')}.`.slice(0, 1024),
  };
}
