import type { AccessGrant } from '../../api/v1alpha1/types.ts';
import type { Artefact } from '../provider.ts';

/**
 * Pure building blocks of the GCP provider: each grant is one conditional role
 * binding whose condition ends access at expiresAt (`request.time < timestamp(…)`),
 * so IAM itself stops honouring it even if the operator is down. The condition's
 * title carries the grant UID: that is how Timebox finds what it owns.
 */

export interface Expr {
  title: string;
  description?: string;
  expression: string;
}

export interface Binding {
  role: string;
  members: string[];
  condition?: Expr;
}

export interface IamPolicy {
  version?: number;
  bindings?: Binding[];
  etag?: string;
}

const TITLE_PREFIX = 'timebox-';

export function conditionTitle(grantUid: string): string {
  return `${TITLE_PREFIX}${grantUid}`;
}

/** RFC 3339 at second precision, as IAM conditions are usually written. */
export function rfc3339(iso: string): string {
  return new Date(iso).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

export function expiryCondition(grantUid: string, grant: string, expiresAt: string): Expr {
  return {
    title: conditionTitle(grantUid),
    description: `Timebox AccessGrant ${grant}; expires ${rfc3339(expiresAt)}`,
    expression: `request.time < timestamp("${rfc3339(expiresAt)}")`,
  };
}

const sameCondition = (a?: Expr, b?: Expr) =>
  a?.title === b?.title && a?.expression === b?.expression;

/**
 * Pure: the policy with `member` holding `role` under `condition`, and under no
 * other condition of the same title (an earlier expiry of the same grant). IAM
 * merges bindings with the same role and condition, so a member is added to such
 * a binding when there is one. Conditional bindings need policy version 3.
 */
export function withMember(
  policy: IamPolicy,
  role: string,
  member: string,
  condition: Expr,
): IamPolicy {
  const rest = withoutMember(policy, role, member, condition.title).bindings ?? [];
  const at = rest.findIndex((b) => b.role === role && sameCondition(b.condition, condition));
  const bindings =
    at >= 0
      ? rest.map((b, i) => (i === at ? { ...b, members: [...b.members, member] } : b))
      : [...rest, { role, members: [member], condition }];
  return { ...policy, version: 3, bindings };
}

/** Pure: the policy without `member` in any binding of `role` whose condition has this title. */
export function withoutMember(
  policy: IamPolicy,
  role: string,
  member: string,
  title: string,
): IamPolicy {
  return {
    ...policy,
    bindings: (policy.bindings ?? []).flatMap((b) => {
      if (b.role !== role || b.condition?.title !== title || !b.members.includes(member))
        return [b];
      const members = b.members.filter((m) => m !== member);
      return members.length > 0 ? [{ ...b, members }] : [];
    }),
  };
}

/** Pure: the binding through which `member` holds `role` under this title, if any. */
export function bindingOf(
  policy: IamPolicy,
  role: string,
  member: string,
  title: string,
): Binding | undefined {
  return (policy.bindings ?? []).find(
    (b) => b.role === role && b.condition?.title === title && b.members.includes(member),
  );
}

/** The expiry written in a Timebox condition, or undefined for anyone else's binding. */
export function timeboxExpiry(b: Binding): Date | undefined {
  if (!b.condition?.title.startsWith(TITLE_PREFIX)) return undefined;
  const m = /^request\.time < timestamp\("([^"]+)"\)$/.exec(b.condition.expression);
  const d = m ? new Date(m[1]!) : undefined;
  return d && !Number.isNaN(d.getTime()) ? d : undefined;
}

/**
 * Pure: the policy without Timebox bindings whose expiry has passed. IAM already
 * ignores them; removing them keeps policies from filling with dead bindings
 * (a policy holds at most 1,500 members).
 */
export function withoutExpiredTimeboxBindings(policy: IamPolicy, now: Date): IamPolicy {
  return {
    ...policy,
    bindings: (policy.bindings ?? []).filter((b) => {
      const at = timeboxExpiry(b);
      return at === undefined || at.getTime() > now.getTime();
    }),
  };
}

/** A GCP artefact: one member holding one role on one resource until expiresAt. */
export interface GcpBody {
  resource: string;
  role: string;
  member: string;
  title: string;
  /** RFC 3339 at second precision, as written in the condition. */
  expiresAt: string;
}

/** Pure: the conditional bindings a grant should hold until expiresAt, one per gcp entry. */
export function desiredGcpArtefacts(grant: AccessGrant, expiresAt: string): Artefact[] {
  const uid = grant.metadata.uid ?? '';
  return grant.spec.access.flatMap((a): Artefact[] => {
    if (!a.gcp) return [];
    const body: GcpBody = {
      resource: a.gcp.resource,
      role: a.gcp.role,
      member: a.gcp.member,
      title: conditionTitle(uid),
      expiresAt: rfc3339(expiresAt),
    };
    return [
      {
        provider: 'gcp',
        ref: `IamBinding ${a.gcp.resource} ${a.gcp.role} ${a.gcp.member}`,
        failSafe: true,
        body,
      },
    ];
  });
}
