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
function rfc3339(iso: string): string {
  return new Date(iso).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

export function expiryCondition(grantUid: string, grant: string, expiresAt: string): Expr {
  return {
    title: conditionTitle(grantUid),
    description: `Timebox AccessGrant ${grant}; expires ${rfc3339(expiresAt)}`,
    expression: `request.time < timestamp("${rfc3339(expiresAt)}")`,
  };
}

const ownedBy = (b: Binding, uid: string) => b.condition?.title === conditionTitle(uid);

/**
 * Pure: the policy with this grant's binding, replacing any earlier one of the
 * grant. Conditional bindings need policy version 3.
 */
export function withGrantBinding(policy: IamPolicy, uid: string, binding: Binding): IamPolicy {
  return {
    ...policy,
    version: 3,
    bindings: [...(policy.bindings ?? []).filter((b) => !ownedBy(b, uid)), binding],
  };
}

/** Pure: the policy without this grant's binding (unchanged if it has none). */
export function withoutGrantBinding(policy: IamPolicy, uid: string): IamPolicy {
  return { ...policy, bindings: (policy.bindings ?? []).filter((b) => !ownedBy(b, uid)) };
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
