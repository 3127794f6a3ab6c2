import type { RbacRule } from '../policy/escalation.ts';

/** A label selector, as an aggregation rule holds it. */
export interface LabelSelector {
  matchLabels?: Record<string, string>;
  matchExpressions?: { key: string; operator: string; values?: string[] }[];
}

/** The fields of a Role or ClusterRole that right-sizing reads. */
export interface RoleObject {
  metadata?: { name?: string; namespace?: string; labels?: Record<string, string> };
  rules?: RbacRule[] | null;
  aggregationRule?: { clusterRoleSelectors?: LabelSelector[] | null } | null;
}

/** Pure: whether labels match a selector (an empty selector matches nothing, as for aggregation). */
export function selects(sel: LabelSelector, labels: Record<string, string> = {}): boolean {
  const exprs = sel.matchExpressions ?? [];
  const pairs = Object.entries(sel.matchLabels ?? {});
  if (pairs.length === 0 && exprs.length === 0) return false;
  return (
    pairs.every(([k, v]) => labels[k] === v) &&
    exprs.every((e) => {
      const has = Object.hasOwn(labels, e.key);
      switch (e.operator) {
        case 'In':
          return has && (e.values ?? []).includes(labels[e.key]!);
        case 'NotIn':
          return !has || !(e.values ?? []).includes(labels[e.key]!);
        case 'Exists':
          return has;
        case 'DoesNotExist':
          return !has;
        default:
          return false;
      }
    })
  );
}

/**
 * Pure: the rules a ClusterRole gives. For an aggregated one (view, edit, admin)
 * they are the rules of every ClusterRole its selectors pick, recursively: the
 * cluster's aggregation controller copies them into `rules`, but a role read
 * before it ran, or in a cluster without it, has only the selectors.
 */
export function clusterRoleRules(
  name: string,
  all: readonly RoleObject[],
  seen: Set<string> = new Set(),
): RbacRule[] | undefined {
  const role = all.find((r) => r.metadata?.name === name);
  if (!role) return undefined;
  seen.add(name);
  const rules = [...(role.rules ?? [])];
  for (const sel of role.aggregationRule?.clusterRoleSelectors ?? []) {
    for (const other of all) {
      const n = other.metadata?.name ?? '';
      if (seen.has(n) || !selects(sel, other.metadata?.labels)) continue;
      rules.push(...(clusterRoleRules(n, all, seen) ?? []));
    }
  }
  return rules;
}
