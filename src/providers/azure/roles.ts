import { subscriptionOf } from './scope.ts';

/**
 * Pure: how a grant names an Azure role, and which roles outlive a grant.
 *
 * - a built-in role by name (Reader), or by its tenant-wide ID
 *   `/providers/Microsoft.Authorization/roleDefinitions/<guid>`;
 * - a custom role by its ID in the scope's subscription,
 *   `/subscriptions/<id>/providers/Microsoft.Authorization/roleDefinitions/<guid>`,
 *   or by its GUID alone, which stands for that.
 *
 * Azure answers for a built-in role under any subscription too, so the driver
 * checks that a role named as custom is one (and one named as built-in is one):
 * an allow-list written for one subscription's custom roles cannot be used to
 * get Owner.
 */

const GUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const BUILT_IN_ID_RE = /^\/providers\/Microsoft\.Authorization\/roleDefinitions\/([0-9a-f-]{36})$/i;
const CUSTOM_ID_RE =
  /^\/subscriptions\/([0-9a-f-]{36})\/providers\/Microsoft\.Authorization\/roleDefinitions\/([0-9a-f-]{36})$/i;

export type RoleRef =
  | { kind: 'name'; name: string }
  | { kind: 'builtIn'; guid: string }
  | { kind: 'custom'; subscription?: string; guid: string };

/** Pure: what a role string names. */
export function parseRole(role: string): RoleRef {
  if (GUID_RE.test(role)) return { kind: 'custom', guid: role.toLowerCase() };
  const b = BUILT_IN_ID_RE.exec(role);
  if (b && GUID_RE.test(b[1]!)) return { kind: 'builtIn', guid: b[1]!.toLowerCase() };
  const c = CUSTOM_ID_RE.exec(role);
  if (c && GUID_RE.test(c[1]!) && GUID_RE.test(c[2]!))
    return { kind: 'custom', subscription: c[1]!.toLowerCase(), guid: c[2]!.toLowerCase() };
  return { kind: 'name', name: role };
}

export const builtInRoleId = (guid: string) =>
  `/providers/Microsoft.Authorization/roleDefinitions/${guid.toLowerCase()}`;
export const customRoleId = (subscription: string, guid: string) =>
  `/subscriptions/${subscription.toLowerCase()}/providers/Microsoft.Authorization/roleDefinitions/${guid.toLowerCase()}`;

/**
 * Pure: the role as the allow-list compares it, for a grant at `scope`: a name
 * as written, a role definition by its full ID, lower case; undefined when a
 * custom role's ID names a subscription other than the scope's.
 */
export function canonicalRole(role: string, scope: string): string | undefined {
  const r = parseRole(role);
  if (r.kind === 'name') return r.name.toLowerCase();
  if (r.kind === 'builtIn') return builtInRoleId(r.guid).toLowerCase();
  const sub = subscriptionOf(scope);
  if (r.subscription !== undefined && r.subscription !== sub) return undefined;
  return customRoleId(sub, r.guid).toLowerCase();
}

/**
 * Pure: an allow-list role pattern in the same form: a bare GUID stands for
 * that custom role in any subscription (the grant's own, checked above).
 */
export function canonicalRolePattern(pattern: string): string {
  if (GUID_RE.test(pattern)) return customRoleId('*', pattern).toLowerCase();
  return pattern.toLowerCase();
}

/**
 * Built-in roles that let their holder assign roles (`Microsoft.Authorization/roleAssignments/write`,
 * or `*`): a permanent assignment for themselves outlives the grant.
 */
export const ESCALATING_BUILT_IN_ROLES: Readonly<Record<string, string>> = {
  Owner: '8e3af657-a8ff-443c-a75c-2fe8c4bcb635',
  'User Access Administrator': '18d7d88d-d35e-4fb5-a5c3-7773c20a72d9',
  'Role Based Access Control Administrator': 'f58310d9-a9f6-439a-9e8d-f62e7b41a168',
  // Assigns Key Vault data roles (a condition limits which): a permanent one for themselves.
  'Key Vault Data Access Administrator': '8b54135c-b56d-4d72-a534-26097cfdc8d8',
};

export const ESCALATION_RISK =
  'create role assignments (Microsoft.Authorization/roleAssignments/write), e.g. a permanent one for themselves';

/** Pure: the escalating built-in role a grant's role names, if it names one (in any form). */
export function escalatingRole(role: string): string | undefined {
  const r = parseRole(role);
  const key = r.kind === 'name' ? r.name.toLowerCase() : r.guid;
  return Object.entries(ESCALATING_BUILT_IN_ROLES).find(
    ([name, guid]) => key === name.toLowerCase() || key === guid,
  )?.[0];
}

/**
 * Pure: the escalating built-in roles an allow-list role pattern lets a grant
 * name, by name, GUID or built-in ID (e.g. `*`, `Owner`, or Owner's ID).
 * `matches` is the allow-list's glob, ignoring case. (A built-in role named by a
 * subscription's ID is refused by the driver, and flagged on the grant.)
 */
export function escalatingRolesMatched(
  pattern: string,
  matches: (pattern: string, value: string) => boolean,
): string[] {
  const p = pattern.toLowerCase();
  return Object.entries(ESCALATING_BUILT_IN_ROLES)
    .filter(([name, guid]) =>
      [name.toLowerCase(), guid, builtInRoleId(guid).toLowerCase()].some(
        (form) => matches(p, form) || matches(canonicalRolePattern(p), form),
      ),
    )
    .map(([name]) => name);
}
