import { createHash } from 'node:crypto';
import { parseDuration } from '../api/v1alpha1/duration.ts';
import {
  ANNOTATION_CREATED_BY,
  ANNOTATION_GITOPS,
  ANNOTATION_REQUESTED_BY,
  ANNOTATION_REQUESTER_GROUPS,
  type AccessApproval,
  type AccessGrant,
  type AccessGrantSpec,
  type AccessPolicy,
  type AccessTarget,
  type Approval,
  type Principals,
  DEFAULT_MAX_SCHEDULE_AHEAD,
} from '../api/v1alpha1/types.ts';
import { describeTarget } from '../api/v1alpha1/describe.ts';
import { entryOf } from '../providers/kinds.ts';
import type { Decision } from './decision.ts';
import { anyGlob } from './glob.ts';
import { describeRisks, type RoleRisk } from './escalation.ts';

/** Who asked for a grant, as vouched for by admission (config/admission). */
export interface Requester {
  user: string;
  /** Groups the requester claimed and admission verified. */
  groups: string[];
  /** Created by a trusted GitOps identity for the person it names. */
  viaGitOps: boolean;
  /** Who created it (the GitOps identity, for a GitOps grant), when admission stamped it. */
  createdBy?: string;
}

export function requesterOf(grant: AccessGrant): Requester | undefined {
  const a = grant.metadata.annotations ?? {};
  const user = a[ANNOTATION_REQUESTED_BY];
  if (!user) return undefined;
  const groups = (a[ANNOTATION_REQUESTER_GROUPS] ?? '')
    .split(',')
    .map((g) => g.trim())
    .filter(Boolean);
  const createdBy = a[ANNOTATION_CREATED_BY];
  // Created by someone other than who it names: a GitOps grant, marked or not.
  const viaGitOps =
    a[ANNOTATION_GITOPS] === 'true' || (createdBy !== undefined && createdBy !== user);
  return {
    user,
    // Groups written in Git are nobody's verified word: GitOps requesters count by name.
    groups: viaGitOps ? [] : groups,
    viaGitOps,
    ...(createdBy ? { createdBy } : {}),
  };
}

function canonical(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(canonical);
  if (v && typeof v === 'object') {
    return Object.fromEntries(
      Object.keys(v)
        .sort()
        .map((k) => [k, canonical((v as Record<string, unknown>)[k])]),
    );
  }
  return v;
}

/**
 * What an approval approves: every field of the spec but `revoked`, as the full
 * SHA-256 (64 hex digits), so no other spec can be made to match an approval.
 */
export function specHash(spec: AccessGrantSpec): string {
  const { revoked: _revoked, ...rest } = spec;
  return createHash('sha256')
    .update(JSON.stringify(canonical(rest)))
    .digest('hex');
}

/**
 * Whether `recorded` (a grant's status.specHash) names this spec. Grants recorded
 * before hashes were full carry the first 16 digits; they still match their own spec.
 */
export function sameSpec(recorded: string, spec: AccessGrantSpec): boolean {
  const hash = specHash(spec);
  return recorded.length === 16 ? hash.startsWith(recorded) : recorded === hash;
}

export { globMatch, templateMatch } from './glob.ts';

function inPrincipals(p: Principals | undefined, user: string, groups: string[]): boolean {
  return (p?.users ?? []).includes(user) || (p?.groups ?? []).some((g) => groups.includes(g));
}

/**
 * Pure: why an approver may not decide on this grant, or undefined if they may.
 * Nobody approves their own request, nor access they would receive themselves:
 * as the subject, as the subject service account, or as a member of the subject
 * group. Admission makes spec.approverGroups list all of the approver's groups;
 * membership of a `system:` group cannot be told from them, so nobody approves
 * access given to one.
 */
export function ineligibleApprover(
  approval: AccessApproval,
  grant: AccessGrant,
  requester: Requester,
): string | undefined {
  const who = approval.spec.approver;
  const s = grant.spec.subject;
  if (who === requester.user) return `${who} asked for it`;
  if (s.kind === 'User' && s.name === who) return `${who} would receive it`;
  if (s.kind === 'ServiceAccount' && who === `system:serviceaccount:${s.namespace}:${s.name}`) {
    return `${who} is the subject service account`;
  }
  if (s.kind === 'Group') {
    if (s.name.startsWith('system:')) return `${who} may be in the subject group ${s.name}`;
    // In Slack, the groups are the mapping's, not necessarily all of the person's:
    // whether they are in the subject group cannot be told from them.
    if (approval.spec.via === 'slack' && approval.spec.decision === 'Approve') {
      return `${who} approved in Slack, where not all of their groups are known; a grant for a group is approved with timebox approve`;
    }
    if ((approval.spec.approverGroups ?? []).includes(s.name)) {
      return `${who} is in the subject group ${s.name}`;
    }
  }
  return undefined;
}

/**
 * Pure: whether one access entry of a grant is inside the policy's allow-list:
 * some allow-list entry of the same provider allows it, by that provider's rules
 * (src/providers/<name>/kind.ts). Cloud identities are bounded like subjects:
 * under selfOnly only the requester's own, otherwise the ones the entry lists.
 */
export function targetAllowed(
  t: AccessTarget,
  policy: AccessPolicy,
  grantNamespace: string,
  requester: string,
): boolean {
  const e = entryOf(t);
  if (!e) return false;
  const ctx = { namespace: grantNamespace, requester, selfOnly: policy.spec.selfOnly === true };
  return policy.spec.access.some((allow) => {
    const a = (allow as Record<string, unknown>)[e.kind.name];
    return a !== undefined && e.kind.allows(e.entry, a, ctx);
  });
}

const deny = (reason: string, message: string): Decision => ({
  verdict: 'Denied',
  reason,
  message,
});

const inNamespaces = (namespaces: string[] | undefined, ns: string) =>
  (namespaces ?? []).some((n) => n === '*' || n === ns);

/**
 * Pure: who may be the subject. Never a `system:` user or group (everyone is in
 * system:authenticated, and system:masters bypasses RBAC). Under selfOnly only
 * the requester; otherwise the requester, or whoever `subjects` lists, with a
 * service account only in one of the policy's namespaces.
 */
export function subjectCheck(
  grant: AccessGrant,
  policy: AccessPolicy,
  requester: string,
): Decision | undefined {
  const s = grant.spec.subject;
  const name = policy.metadata.name;
  const p = policy.spec;
  if (s.kind !== 'ServiceAccount' && s.name.startsWith('system:')) {
    return deny(
      'SubjectNotAllowed',
      `${s.kind} ${s.name} cannot be a subject: system: users and groups stand for everyone, or for Kubernetes itself`,
    );
  }
  if (p.selfOnly) {
    if (s.kind === 'User' && s.name === requester) return undefined;
    return deny(
      'NotSelf',
      `AccessPolicy '${name}' is selfOnly: the subject must be the requester, {kind: User, name: ${requester}}`,
    );
  }
  if (s.kind === 'User' && s.name === requester) return undefined;
  const listed =
    s.kind === 'User'
      ? anyGlob(p.subjects?.users, s.name)
      : s.kind === 'Group'
        ? anyGlob(p.subjects?.groups, s.name)
        : anyGlob(p.subjects?.serviceAccounts, `${s.namespace}/${s.name}`);
  if (!listed) {
    const field = s.kind === 'User' ? 'users' : s.kind === 'Group' ? 'groups' : 'serviceAccounts';
    return deny(
      'SubjectNotAllowed',
      `${s.kind} ${s.kind === 'ServiceAccount' ? `${s.namespace}/` : ''}${s.name} is not a subject AccessPolicy '${name}' allows: only the requester${p.subjects ? `, or who subjects.${field} lists [${(p.subjects[field] ?? []).join(', ')}]` : ' (it lists no subjects)'}`,
    );
  }
  if (s.kind === 'ServiceAccount' && !inNamespaces(p.namespaces, s.namespace ?? '')) {
    return deny(
      'SubjectNotAllowed',
      `ServiceAccount ${s.namespace}/${s.name} lives outside the namespaces of AccessPolicy '${name}' [${(p.namespaces ?? []).join(', ')}]`,
    );
  }
  return undefined;
}

/** Pure: whether a policy takes grants from this GitOps identity. */
function gitOpsCheck(requester: Requester, policy: AccessPolicy): Decision | undefined {
  const g = policy.spec.gitops;
  const name = policy.metadata.name;
  if (!g?.allowed) {
    return deny(
      'GitOpsNotAllowed',
      `AccessPolicy '${name}' does not take grants from GitOps; its author may set gitops.allowed: true`,
    );
  }
  if (g.identities?.length && !anyGlob(g.identities, requester.createdBy ?? '')) {
    return deny(
      'GitOpsIdentityNotTrusted',
      `AccessPolicy '${name}' takes GitOps grants only from [${g.identities.join(', ')}], not from ${requester.createdBy ?? 'an identity admission did not record'}`,
    );
  }
  return undefined;
}

/** What every policy check reads: the grant, its policy, and who vouched for asking. */
export interface CheckInput {
  grant: AccessGrant;
  policy: AccessPolicy;
  requester: Requester;
  /** What the grant's roles let their holder do beyond the grant (from the live roles). */
  risks: RoleRisk[];
}

/** One named rule of a policy: undefined when it holds, else the decision (cert-manager's policies.Chain). */
export type PolicyCheck = (i: CheckInput) => Decision | undefined;

const gitOps: PolicyCheck = ({ requester, policy }) =>
  requester.viaGitOps ? gitOpsCheck(requester, policy) : undefined;

// A GitOps grant names its requester too: the same rules hold for them.
const requesterListed: PolicyCheck = ({ requester, policy }) => {
  const p = policy.spec;
  if (inPrincipals(p.requesters, requester.user, requester.groups)) return undefined;
  const groupsHint = requester.viaGitOps
    ? 'a GitOps grant, whose groups cannot be verified: list the requester in requesters.users'
    : requester.groups.length
      ? `groups ${requester.groups.join(', ')}`
      : `no groups (claim yours in the ${ANNOTATION_REQUESTER_GROUPS} annotation)`;
  return deny(
    'NotEligible',
    `${requester.user} (${groupsHint}) is not a requester of AccessPolicy '${policy.metadata.name}'; its requesters are users [${(p.requesters.users ?? []).join(', ')}] and groups [${(p.requesters.groups ?? []).join(', ')}]`,
  );
};

const subjectAllowed: PolicyCheck = ({ grant, policy, requester }) =>
  subjectCheck(grant, policy, requester.user);

// A cloud identity (a GCP member, ...) is an identity too: under selfOnly it
// must be the requester's, as each provider tells (notSelf).
const cloudIdentityIsSelf: PolicyCheck = ({ grant, policy, requester }) => {
  if (!policy.spec.selfOnly) return undefined;
  for (const [i, t] of grant.spec.access.entries()) {
    const e = entryOf(t);
    const why = e?.kind.notSelf?.(e.entry, requester.user);
    if (why) {
      return deny(
        'NotSelf',
        `AccessPolicy '${policy.metadata.name}' is selfOnly: spec.access[${i}].${why}`,
      );
    }
  }
  return undefined;
};

// Absent means nothing: a policy that does not state its namespaces allows none.
const namespaceAllowed: PolicyCheck = ({ grant, policy }) => {
  const p = policy.spec;
  const ns = grant.metadata.namespace ?? '';
  if (inNamespaces(p.namespaces, ns)) return undefined;
  return deny(
    'NamespaceNotAllowed',
    p.namespaces?.length
      ? `grants under AccessPolicy '${policy.metadata.name}' may live only in namespaces [${p.namespaces.join(', ')}], not '${ns}'`
      : `AccessPolicy '${policy.metadata.name}' states no namespaces, so it allows none; its author must list them (or ['*'] for any)`,
  );
};

const accessAllowed: PolicyCheck = ({ grant, policy, requester }) => {
  const ns = grant.metadata.namespace ?? '';
  for (const [i, t] of grant.spec.access.entries()) {
    if (!targetAllowed(t, policy, ns, requester.user)) {
      return deny(
        'AccessNotAllowed',
        `spec.access[${i}] (${describeTarget(t)}) is not in the allow-list of AccessPolicy '${policy.metadata.name}'`,
      );
    }
  }
  return undefined;
};

const scheduleWithin: PolicyCheck = ({ grant, policy }) => {
  const ahead = scheduledAheadMs(grant);
  const maxAhead = policy.spec.maxScheduleAhead ?? DEFAULT_MAX_SCHEDULE_AHEAD;
  if (ahead === undefined || ahead <= parseDuration(maxAhead)) return undefined;
  return deny(
    'ScheduledTooFarAhead',
    `startAt ${grant.spec.startAt} is more than the maxScheduleAhead ${maxAhead} of AccessPolicy '${policy.metadata.name}' after the request; request a start within ${maxAhead}`,
  );
};

const durationWithin: PolicyCheck = ({ grant, policy }) => {
  const max = policy.spec.maxDuration;
  if (parseDuration(grant.spec.duration) <= parseDuration(max)) return undefined;
  return deny(
    'DurationTooLong',
    `duration ${grant.spec.duration} exceeds the maxDuration ${max} of AccessPolicy '${policy.metadata.name}'; request at most ${max}`,
  );
};

const escalationAllowed: PolicyCheck = ({ policy, risks }) => {
  if (!risks.length || policy.spec.allowPersistentEscalation) return undefined;
  return deny(
    'PersistentEscalation',
    `${describeRisks(risks)}: access that could outlive the grant. AccessPolicy '${policy.metadata.name}' hands such roles out only with allowPersistentEscalation: true; ask for a narrower role`,
  );
};

const reasonGiven: PolicyCheck = ({ grant, policy }) => {
  if (!policy.spec.requireReason || grant.spec.reason?.trim()) return undefined;
  return deny(
    'ReasonRequired',
    `AccessPolicy '${policy.metadata.name}' requires spec.reason: say why the access is needed`,
  );
};

/** A chain of named checks, run in order; the first that fails decides. */
export type PolicyChain = readonly (readonly [name: string, check: PolicyCheck])[];

/** What a request must satisfy before it is granted: who, for whom, where, what, when, how long, why. */
export const AT_REQUEST: PolicyChain = [
  ['GitOps', gitOps],
  ['Requester', requesterListed],
  ['Subject', subjectAllowed],
  ['CloudIdentityIsSelf', cloudIdentityIsSelf],
  ['Namespace', namespaceAllowed],
  ['Access', accessAllowed],
  ['Schedule', scheduleWithin],
  ['Duration', durationWithin],
  ['Escalation', escalationAllowed],
  ['Reason', reasonGiven],
];

/**
 * What an active grant must go on satisfying: the request's rules, so that an
 * edited policy that no longer allows it revokes it, but for the schedule, a
 * question of when the request was made that is settled once it began.
 */
export const WHILE_ACTIVE: PolicyChain = AT_REQUEST.filter(([name]) => name !== 'Schedule');

/**
 * Pure: whether a grant satisfies its policy, by `chain` (AT_REQUEST, or
 * WHILE_ACTIVE for a grant already granted): undefined when it does, else the
 * decision of the first check that fails.
 */
export function checkPolicy(
  grant: AccessGrant,
  policy: AccessPolicy | undefined,
  risks: RoleRisk[] = [],
  chain: PolicyChain = AT_REQUEST,
): Decision | undefined {
  const name = grant.spec.policy;
  if (!name)
    return deny(
      'PolicyRequired',
      'spec.policy must name the AccessPolicy that authorizes this grant',
    );
  if (!policy) {
    return {
      verdict: 'Pending',
      reason: 'PolicyNotFound',
      message: `AccessPolicy '${name}' does not exist (yet); the grant waits for it`,
    };
  }
  const requester = requesterOf(grant);
  if (!requester) {
    return deny(
      'RequesterUnknown',
      `the grant has no ${ANNOTATION_REQUESTED_BY} annotation, so nobody vouches for who asked; install the admission policies of config/admission`,
    );
  }
  const input = { grant, policy, requester, risks };
  for (const [, check] of chain) {
    const decision = check(input);
    if (decision) return decision;
  }
  return undefined;
}

/** How long after its creation a grant is scheduled to start; undefined when it has no startAt. */
function scheduledAheadMs(grant: AccessGrant): number | undefined {
  const start = Date.parse(grant.spec.startAt ?? '');
  const created = Date.parse(String(grant.metadata.creationTimestamp ?? ''));
  if (Number.isNaN(start) || Number.isNaN(created)) return undefined;
  return start - created;
}

export interface Evaluation extends Decision {
  approvals: Approval[];
}

function recorded(a: AccessApproval, now: Date): Approval {
  return {
    approver: a.spec.approver,
    decision: a.spec.decision,
    at: new Date(String(a.metadata.creationTimestamp ?? now.toISOString())).toISOString(),
    ...(a.spec.grantRef.specHash && a.spec.decision !== 'Revoke'
      ? { specHash: a.spec.grantRef.specHash }
      : {}),
    ...(a.spec.comment ? { comment: a.spec.comment } : {}),
  };
}

/**
 * Pure: the full decision on a grant, approvals included. It is made again at
 * every step, activation and each repair of an active grant alike, against the
 * spec about to be granted. `activatedAt` (once committed) is the moment at which
 * approvals must have been valid (approval.validFor).
 */
export function evaluateRequest(
  grant: AccessGrant,
  policy: AccessPolicy | undefined,
  approvals: AccessApproval[],
  now: Date,
  activatedAt?: string,
  risks: RoleRisk[] = [],
): Evaluation {
  const mine = approvals.filter(
    (a) =>
      a.spec.grantRef.name === grant.metadata.name && a.spec.grantRef.uid === grant.metadata.uid,
  );
  // Ending access is always safe, so a revocation by an approver of the policy
  // counts whatever else is wrong with the grant.
  const revocation = mine.find(
    (a) =>
      a.spec.decision === 'Revoke' &&
      policy !== undefined &&
      inPrincipals(policy.spec.approval.approvers, a.spec.approver, a.spec.approverGroups ?? []),
  );
  const revokedBy = revocation ? { revokedBy: recorded(revocation, now) } : {};
  // Once activation is committed, the request-time rules are settled.
  const checked = checkPolicy(grant, policy, risks, activatedAt ? WHILE_ACTIVE : AT_REQUEST);
  if (checked) return { ...checked, approvals: [], ...revokedBy };
  const p = policy!.spec;
  const requester = requesterOf(grant)!;
  const hash = specHash(grant.spec);
  const decisions = mine.filter((a) => a.spec.decision !== 'Revoke');
  const stale = decisions.filter((a) => a.spec.grantRef.specHash !== hash).length;
  const decidedAt = Date.parse(activatedAt ?? '') || now.getTime();
  const validForMs = p.approval.validFor ? parseDuration(p.approval.validFor) : undefined;
  const isExpired = (a: AccessApproval) =>
    validForMs !== undefined &&
    decidedAt - Date.parse(String(a.metadata.creationTimestamp ?? now.toISOString())) > validForMs;
  const current = decisions.filter((a) => a.spec.grantRef.specHash === hash);
  const expired = current.filter(isExpired).length;
  const valid = current.filter((a) => !isExpired(a));
  const why = new Map(valid.map((a) => [a, ineligibleApprover(a, grant, requester)]));
  const eligible = valid.filter(
    (a) =>
      !why.get(a) &&
      inPrincipals(p.approval.approvers, a.spec.approver, a.spec.approverGroups ?? []),
  );
  const notCounted = [...why.values()].filter((w): w is string => w !== undefined);

  const denial = eligible.find((a) => a.spec.decision === 'Deny');
  if (denial) {
    return {
      ...deny(
        'DeniedByApprover',
        `denied by ${denial.spec.approver}${denial.spec.comment ? `: ${denial.spec.comment}` : ''}`,
      ),
      approvals: [recorded(denial, now)],
      ...revokedBy,
    };
  }
  if (requester.viaGitOps && p.gitops?.reviewApproves) {
    return {
      verdict: 'Approved',
      reason: 'ApprovedByReview',
      message: `created by the GitOps identity ${requester.createdBy ?? '(unrecorded)'} for ${requester.user}: AccessPolicy '${grant.spec.policy}' takes the reviewed change as the approval`,
      approvals: [],
      ...revokedBy,
    };
  }
  if (p.approval.mode === 'Auto') {
    return {
      verdict: 'Approved',
      reason: 'AutoApproved',
      message: `AccessPolicy '${grant.spec.policy}' approves automatically`,
      approvals: [],
      ...revokedBy,
    };
  }
  const approvers = [
    ...new Set(eligible.filter((a) => a.spec.decision === 'Approve').map((a) => a.spec.approver)),
  ];
  const required = p.approval.required ?? 1;
  const counted = approvers.map((who) =>
    recorded(
      eligible.find((a) => a.spec.approver === who)!,
      now,
    ),
  );
  if (approvers.length >= required) {
    return {
      verdict: 'Approved',
      reason: 'Approved',
      message: `approved by ${approvers.join(', ')} for spec sha256:${hash}`,
      approvals: counted,
      ...revokedBy,
    };
  }
  const waiting = {
    ...awaiting(approvers.length, required, p.approval.approvers, {
      stale,
      expired,
      validFor: p.approval.validFor,
      notCounted,
      notApprovers: valid.length - eligible.length - notCounted.length,
    }),
    approvals: counted,
    ...revokedBy,
  };
  const created = Date.parse(String(grant.metadata.creationTimestamp ?? ''));
  const timeoutMs = p.approval.pendingTimeout
    ? parseDuration(p.approval.pendingTimeout)
    : undefined;
  if (timeoutMs === undefined || Number.isNaN(created)) return waiting;
  const left = created + timeoutMs - now.getTime();
  if (left > 0) return { ...waiting, recheckAfterMs: left };
  return {
    ...deny(
      'PendingTimeout',
      `not approved within the pendingTimeout ${p.approval.pendingTimeout} of AccessPolicy '${grant.spec.policy}'; create a new request`,
    ),
    approvals: counted,
    ...revokedBy,
  };
}

interface Ignored {
  stale: number;
  expired: number;
  validFor: string | undefined;
  /** Why approvers were not counted, e.g. `bob is in the subject group sre`. */
  notCounted: string[];
  notApprovers: number;
}

function awaiting(have: number, need: number, who: Principals | undefined, i: Ignored): Decision {
  const notes = [
    i.stale ? `${i.stale} approval(s) of another version of the spec ignored` : '',
    i.expired ? `${i.expired} approval(s) older than the validFor ${i.validFor} ignored` : '',
    i.notCounted.length
      ? `not counted: ${i.notCounted.join('; ')} (nobody approves access they asked for or would receive)`
      : '',
    i.notApprovers
      ? `${i.notApprovers} approval(s) from people who may not approve this grant ignored`
      : '',
  ].filter(Boolean);
  return {
    verdict: 'Pending',
    reason: 'AwaitingApproval',
    message: `${have} of ${need} approval(s); approvers: users [${(who?.users ?? []).join(', ')}], groups [${(who?.groups ?? []).join(', ')}]${notes.length ? `; ${notes.join('; ')}` : ''}`,
  };
}
