import type { AccessGrant, Subject } from '../api/v1alpha1/types.ts';
import {
  COMPLETE_STAGES,
  effectiveUser,
  isDenied,
  resourceName,
  WRITE_VERBS,
  type AuditEvent,
} from './audit-event.ts';
import type { ActivityProvider } from '../api/v1alpha1/activity.ts';
import type { ProviderRequest } from '../providers/kind.ts';
import { entryOf } from '../providers/kinds.ts';
import type { Use } from './record.ts';

/** What attribution needs to know of a grant: whose it is, where, and when. */
export interface GrantWindow {
  /** `<namespace>/<name>` of the grant. */
  key: string;
  uid: string;
  subject: Subject;
  startMs: number;
  /** endedAt once it ended, else expiresAt. */
  endMs: number;
  /** Namespaces of its Kubernetes targets. */
  namespaces: ReadonlySet<string>;
  /** Whether a Kubernetes target binds cluster-wide (any namespace, and cluster-scoped resources). */
  clusterWide: boolean;
  /** Whether it has Kubernetes targets at all. */
  kubernetes: boolean;
  /**
   * The identities its other targets give access to, as their kinds name them
   * (`activity.principals`): whose requests in the provider's own logs count.
   */
  principals: readonly { provider: string; principal: string }[];
}

/** Pure: the window of a grant that has been activated; undefined for one that never was. */
export function grantWindow(g: AccessGrant): GrantWindow | undefined {
  const startMs = Date.parse(g.status?.activatedAt ?? '');
  const endMs = Date.parse(g.status?.endedAt ?? g.status?.expiresAt ?? '');
  if (Number.isNaN(startMs) || Number.isNaN(endMs) || !g.metadata.uid) return undefined;
  const namespaces = new Set<string>();
  let clusterWide = false;
  let kubernetes = false;
  const principals: { provider: string; principal: string }[] = [];
  for (const a of g.spec.access ?? []) {
    if (a.kubernetes) kubernetes = true;
    if (a.kubernetes?.clusterWide) clusterWide = true;
    for (const ns of a.kubernetes?.namespaces ?? []) namespaces.add(ns);
    const e = entryOf(a as Readonly<Record<string, unknown>>);
    for (const principal of e?.kind.activity?.principals(e.entry) ?? [])
      principals.push({ provider: e!.kind.name, principal });
  }
  return {
    key: `${g.metadata.namespace}/${g.metadata.name}`,
    uid: g.metadata.uid,
    subject: g.spec.subject,
    startMs,
    endMs,
    namespaces,
    clusterWide,
    kubernetes,
    principals,
  };
}

const principalKey = (provider: string, principal: string) => `${provider}\u0000${principal}`;

/** The user name Kubernetes gives a ServiceAccount. */
export function serviceAccountUser(namespace: string, name: string): string {
  return `system:serviceaccount:${namespace}:${name}`;
}

/** Grants by the user name or group that makes a request as their subject. */
export class GrantIndex {
  private readonly byUser = new Map<string, GrantWindow[]>();
  private readonly byGroup = new Map<string, GrantWindow[]>();
  private readonly byPrincipal = new Map<string, GrantWindow[]>();
  readonly size: number;

  constructor(windows: readonly GrantWindow[]) {
    const push = (m: Map<string, GrantWindow[]>, k: string, w: GrantWindow) =>
      m.set(k, [...(m.get(k) ?? []), w]);
    for (const w of windows) {
      const s = w.subject;
      if (s.kind === 'User') push(this.byUser, s.name, w);
      else if (s.kind === 'Group') push(this.byGroup, s.name, w);
      else push(this.byUser, serviceAccountUser(s.namespace ?? '', s.name), w);
      for (const p of w.principals)
        push(this.byPrincipal, principalKey(p.provider, p.principal), w);
    }
    this.size = windows.length;
  }

  static of(grants: readonly AccessGrant[]): GrantIndex {
    return new GrantIndex(grants.flatMap((g) => grantWindow(g) ?? []));
  }

  /** Grants whose subject is this user, directly or through one of their groups. */
  forUser(username: string, groups: readonly string[] = []): GrantWindow[] {
    const out = [...(this.byUser.get(username) ?? [])];
    for (const g of groups) out.push(...(this.byGroup.get(g) ?? []));
    return out;
  }

  /** Grants whose targets of this provider give access to this principal. */
  forPrincipal(provider: string, principal: string): GrantWindow[] {
    return this.byPrincipal.get(principalKey(provider, principal)) ?? [];
  }
}

export interface Attribution {
  grant: GrantWindow;
  use: Use;
}

/**
 * Pure: the grants a Kubernetes audit event counts for, and how. A request counts
 * for the grants whose subject made it (for an impersonated request, the user
 * the API server impersonated, which it records only once it has allowed the
 * impersonation), made within the grant's window:
 * - allowed, in one of the grant's namespaces (or anywhere for a cluster-wide
 *   grant; cluster-scoped resources only then): a use;
 * - refused by the authorizer, anywhere: a denied attempt, what the person tried
 *   beyond the grant.
 * Requests of `ignoreUsers` (Timebox's own identity) and incomplete stages count
 * for nothing, so each request is counted once.
 */
export function attribute(
  e: AuditEvent,
  index: GrantIndex,
  ignoreUsers: ReadonlySet<string> = new Set(),
): Attribution[] {
  if (!COMPLETE_STAGES.has(e.stage ?? '')) return [];
  if (!e.objectRef?.resource || !e.verb) return [];
  const user = effectiveUser(e);
  if (!user?.username) return [];
  if (ignoreUsers.has(user.username) || (e.user?.username && ignoreUsers.has(e.user.username)))
    return [];
  const atMs = Date.parse(e.requestReceivedTimestamp ?? e.stageTimestamp ?? '');
  if (Number.isNaN(atMs)) return [];
  const denied = isDenied(e);
  const namespace = e.objectRef.namespace || undefined;
  const use: Use = {
    atMs,
    provider: 'kubernetes',
    verb: e.verb,
    resource: resourceName(e.objectRef),
    ...(namespace ? { namespace } : {}),
    ...(e.objectRef.name ? { name: e.objectRef.name } : {}),
    ...(e.responseStatus?.code !== undefined ? { code: e.responseStatus.code } : {}),
    denied,
    write: WRITE_VERBS.has(e.verb),
  };
  const out: Attribution[] = [];
  for (const grant of index.forUser(user.username, user.groups)) {
    if (!grant.kubernetes || atMs < grant.startMs || atMs > grant.endMs) continue;
    const inScope =
      grant.clusterWide || (namespace !== undefined && grant.namespaces.has(namespace));
    if (denied || inScope) out.push({ grant, use });
  }
  return out;
}

/**
 * Pure: the grants a provider's request (a CloudTrail record) counts for: those
 * whose targets of that provider give access to the principal that made it,
 * made within the grant's window. Allowed: a use; refused: a denied attempt.
 * The provider vouches for the principal (its source checks where the record
 * comes from); the core only matches it.
 */
export function attributeRequest(
  provider: ActivityProvider,
  r: ProviderRequest,
  index: GrantIndex,
): Attribution[] {
  if (!Number.isFinite(r.atMs) || !r.verb || !r.resource) return [];
  const use: Use = {
    atMs: r.atMs,
    provider,
    verb: r.verb,
    resource: r.resource,
    ...(r.name ? { name: r.name } : {}),
    ...(r.code !== undefined ? { code: r.code } : {}),
    denied: r.denied,
    write: r.write,
  };
  return index
    .forPrincipal(provider, r.principal)
    .filter((grant) => r.atMs >= grant.startMs && r.atMs <= grant.endMs)
    .map((grant) => ({ grant, use }));
}
