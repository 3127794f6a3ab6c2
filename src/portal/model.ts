import { randomBytes } from 'node:crypto';
import { parseDuration } from '../api/v1alpha1/duration.ts';
import { requestFor } from '../policy/request.ts';
import { AWS_MODES, type AwsMode } from '../providers/aws/api.ts';
import {
  ANNOTATION_REQUESTED_BY,
  type AccessGrant,
  type AccessPolicy,
  type AccessTarget,
  type Principals,
} from '../api/v1alpha1/types.ts';

/** A signed-in person as the API server knows them. */
export interface Me {
  user: string;
  groups: string[];
}

const inPrincipals = (p: Principals | undefined, me: Me): boolean =>
  (p?.users ?? []).includes(me.user) || (p?.groups ?? []).some((g) => me.groups.includes(g));

/** Pure: the policies `me` may request under (their `requesters`). */
export function eligiblePolicies(policies: readonly AccessPolicy[], me: Me): AccessPolicy[] {
  return policies
    .filter((p) => inPrincipals(p.spec.requesters, me))
    .sort((a, b) => (a.metadata.name ?? '').localeCompare(b.metadata.name ?? ''));
}

/** Pure: whether `me` is one of the policy's approvers. */
export function isApproverOf(policy: AccessPolicy | undefined, me: Me): boolean {
  return (
    policy?.spec.approval.mode === 'Manual' && inPrincipals(policy.spec.approval.approvers, me)
  );
}

const requestedBy = (g: AccessGrant) =>
  g.status?.requestedBy ?? g.metadata.annotations?.[ANNOTATION_REQUESTED_BY];

/** Pure: grants `me` asked for or would receive, newest first. */
export function myGrants(grants: readonly AccessGrant[], me: Me): AccessGrant[] {
  return newestFirst(
    grants.filter(
      (g) =>
        requestedBy(g) === me.user ||
        (g.spec.subject.kind === 'User' && g.spec.subject.name === me.user),
    ),
  );
}

/**
 * Pure: why `me` may not decide on `g`, or undefined. The controller decides
 * again (src/policy/evaluate.ts ineligibleApprover); the portal says so first.
 */
export function cannotDecide(g: AccessGrant, me: Me): string | undefined {
  if (requestedBy(g) === me.user) return 'you asked for it: another approver decides';
  const s = g.spec.subject;
  if (s.kind === 'User' && s.name === me.user) return 'you would receive it';
  if (s.kind === 'Group' && me.groups.includes(s.name))
    return `you are in the group ${s.name} it is for`;
  return undefined;
}

/** Pure: Pending grants waiting for `me` to decide, oldest first. */
export function awaitingMe(
  grants: readonly AccessGrant[],
  policies: ReadonlyMap<string, AccessPolicy>,
  me: Me,
): AccessGrant[] {
  return newestFirst(
    grants.filter(
      (g) =>
        g.status?.phase === 'Pending' &&
        !g.metadata.deletionTimestamp &&
        isApproverOf(policies.get(g.spec.policy), me) &&
        cannotDecide(g, me) === undefined &&
        !(g.status.approvals ?? []).some((a) => a.approver === me.user),
    ),
  ).reverse();
}

export function newestFirst(grants: readonly AccessGrant[]): AccessGrant[] {
  const t = (g: AccessGrant) => Date.parse(String(g.metadata.creationTimestamp ?? '')) || 0;
  return [...grants].sort((a, b) => t(b) - t(a));
}

/** Pure: how a policy approves, in words. */
export function approvalWords(p: AccessPolicy): string {
  const a = p.spec.approval;
  if (a.mode === 'Auto') return 'approved automatically';
  const who = [
    ...(a.approvers?.users ?? []),
    ...(a.approvers?.groups ?? []).map((g) => `group ${g}`),
  ].join(', ');
  return `${a.required ?? 1} approval${(a.required ?? 1) > 1 ? 's' : ''} from ${who || 'nobody (no approvers are listed)'}`;
}

/** The choices a policy offers, for the request form. */
export interface PolicyChoices {
  name: string;
  /** Where the grant may live; `*` means any, typed in. */
  namespaces: string[];
  /** `ClusterRole/edit`, `Role/debugger`. */
  roles: string[];
  /** Where the roles apply; `*` means any, typed in. */
  targetNamespaces: string[];
  clusterWide: boolean;
  aws?: { principalArns: string[]; policyArns: string[]; groupArns: string[]; modes: AwsMode[] };
  gcp?: { resources: string[]; roles: string[]; members: string[] };
  maxDuration: string;
  durations: string[];
  requireReason: boolean;
  selfOnly: boolean;
  approval: string;
}

const uniq = (xs: string[]) => [...new Set(xs)];

/** Pure: what the request form offers under a policy, from its allow-list. */
export function policyChoices(p: AccessPolicy): PolicyChoices {
  const kube = p.spec.access.flatMap((a) => (a.kubernetes ? [a.kubernetes] : []));
  const aws = p.spec.access.flatMap((a) => (a.aws ? [a.aws] : []));
  const gcp = p.spec.access.flatMap((a) => (a.gcp ? [a.gcp] : []));
  const maxMs = parseDuration(p.spec.maxDuration);
  return {
    name: p.metadata.name ?? '',
    namespaces: p.spec.namespaces,
    roles: uniq([
      ...kube.flatMap((k) => (k.clusterRoles ?? []).map((r) => `ClusterRole/${r}`)),
      ...kube.flatMap((k) => (k.roles ?? []).map((r) => `Role/${r}`)),
    ]),
    targetNamespaces: uniq(kube.flatMap((k) => k.namespaces ?? [])),
    clusterWide: kube.some((k) => k.clusterWide),
    ...(aws.length
      ? {
          aws: {
            principalArns: uniq(
              aws.flatMap((a) => [...(a.principalArns ?? []), ...(a.selfPrincipalArns ?? [])]),
            ),
            policyArns: uniq(aws.flatMap((a) => a.policyArns ?? [])),
            groupArns: uniq(aws.flatMap((a) => a.groupArns ?? [])),
            modes: uniq(['InlinePolicy', ...aws.flatMap((a) => a.modes ?? [])]) as AwsMode[],
          },
        }
      : {}),
    ...(gcp.length
      ? {
          gcp: {
            resources: uniq(gcp.flatMap((g) => g.resources ?? [])),
            roles: uniq(gcp.flatMap((g) => g.roles ?? [])),
            members: uniq(gcp.flatMap((g) => g.members ?? [])),
          },
        }
      : {}),
    maxDuration: p.spec.maxDuration,
    durations: ['15m', '30m', '1h', '2h', '4h', '8h', '12h', '24h'].filter(
      (d) => parseDuration(d) <= maxMs,
    ),
    requireReason: p.spec.requireReason ?? false,
    selfOnly: p.spec.selfOnly ?? false,
    approval: approvalWords(p),
  };
}

/** The request form, as posted. */
export interface RequestForm {
  policy?: string;
  namespace?: string;
  role?: string;
  targetNamespaces?: string;
  clusterWide?: string;
  awsPrincipal?: string;
  awsPolicy?: string;
  awsGroup?: string;
  awsMode?: string;
  gcpResource?: string;
  gcpRole?: string;
  gcpMember?: string;
  duration?: string;
  reason?: string;
}

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

/**
 * Pure: the AccessGrant a form asks for, made as `me` (the identity annotations
 * admission checks against the real caller), or what is wrong with the form.
 * Whether the policy allows it is the policy evaluation's to say (precheck).
 */
export function draftFromForm(
  f: RequestForm,
  me: Me,
  suffix = randomBytes(2).toString('hex'),
): { grant: AccessGrant } | { errors: string[] } {
  const errors: string[] = [];
  const text = (v: string | undefined) => (v ?? '').trim();
  const policy = text(f.policy);
  const namespace = text(f.namespace);
  const duration = text(f.duration);
  if (!policy) errors.push('choose a policy');
  if (!DNS_LABEL.test(namespace))
    errors.push('namespace: give the namespace the request lives in, e.g. payments');
  try {
    parseDuration(duration);
  } catch (err) {
    errors.push(`duration: ${(err as Error).message}`);
  }
  const access: AccessTarget[] = [];
  const role = text(f.role);
  if (role) {
    const [kind, name] = role.split('/', 2);
    if ((kind !== 'ClusterRole' && kind !== 'Role') || !name) {
      errors.push(`role: '${role}' is not one the policy offers; pick one from the list`);
    } else {
      const targets = text(f.targetNamespaces)
        .split(/[\s,]+/)
        .filter(Boolean);
      const wide = f.clusterWide === 'on' || f.clusterWide === 'true';
      access.push({
        kubernetes: {
          ...(kind === 'ClusterRole' ? { clusterRole: name } : { role: name }),
          ...(wide
            ? { clusterWide: true }
            : { namespaces: targets.length ? targets : [namespace] }),
        },
      });
    }
  }
  const awsPrincipal = text(f.awsPrincipal);
  const awsPolicy = text(f.awsPolicy);
  const awsGroup = text(f.awsGroup);
  if (awsPrincipal || awsPolicy || awsGroup) {
    const mode = (text(f.awsMode) || (awsGroup ? 'GroupMembership' : 'InlinePolicy')) as AwsMode;
    if (!(AWS_MODES as readonly string[]).includes(mode)) {
      errors.push(`AWS mode must be one of ${AWS_MODES.join(', ')}`);
    } else if (!awsPrincipal || (mode === 'GroupMembership' ? !awsGroup : !awsPolicy)) {
      errors.push(
        mode === 'GroupMembership'
          ? 'AWS: group membership needs both the principal (a user ARN) and the group ARN'
          : 'AWS: give both the principal ARN and the policy ARN',
      );
    } else {
      access.push({
        aws: {
          principalArn: awsPrincipal,
          ...(mode === 'GroupMembership' ? { groupArn: awsGroup } : { policyArn: awsPolicy }),
          ...(mode !== 'InlinePolicy' ? { mode } : {}),
        },
      });
    }
  }
  const gcp = [text(f.gcpResource), text(f.gcpRole), text(f.gcpMember)];
  if (gcp.some(Boolean)) {
    if (!gcp.every(Boolean)) errors.push('GCP: give the resource, the role and the member');
    else access.push({ gcp: { resource: gcp[0]!, role: gcp[1]!, member: gcp[2]! } });
  }
  if (access.length === 0 && errors.length === 0) {
    errors.push('say what you need: a Kubernetes role, AWS access or GCP access');
  }
  if (errors.length) return { errors };
  const label = (s: string) =>
    s
      .toLowerCase()
      .replace(/[^a-z0-9-]/g, '-')
      .replace(/^-+|-+$/g, '');
  const what = role ? role.split('/')[1]! : access[0]!.aws ? 'aws' : 'gcp';
  const name =
    `${label(me.user.split('@')[0]!).slice(0, 30)}-${label(what).slice(0, 20)}-${suffix}`.replace(
      /-+/g,
      '-',
    );
  const reason = text(f.reason);
  return {
    grant: requestFor(me, {
      name,
      namespace,
      policy,
      duration,
      ...(reason ? { reason } : {}),
      access,
    }),
  };
}
