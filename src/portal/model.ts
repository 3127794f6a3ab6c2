import { randomBytes } from 'node:crypto';
import { parseDuration } from '../api/v1alpha1/duration.ts';
import { requestFor } from '../policy/request.ts';
import { kinds as registered, type AnyKind } from '../providers/kinds.ts';
import { entriesFromForm, kindChoices, type KindChoices } from './access-fields.ts';
import {
  ANNOTATION_REQUESTED_BY,
  type AccessGrant,
  type AccessPolicy,
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
  /** What it hands out, per kind of access (src/providers/kinds.ts), as form fields. */
  kinds: KindChoices[];
  maxDuration: string;
  durations: string[];
  requireReason: boolean;
  selfOnly: boolean;
  approval: string;
}

/** Pure: what the request form offers `me` under a policy, from its allow-list. */
export function policyChoices(
  p: AccessPolicy,
  me: Me,
  list: readonly AnyKind[] = registered,
): PolicyChoices {
  const maxMs = parseDuration(p.spec.maxDuration);
  const selfOnly = p.spec.selfOnly ?? false;
  return {
    name: p.metadata.name ?? '',
    namespaces: p.spec.namespaces,
    kinds: kindChoices(p, { requester: me.user, selfOnly }, list),
    maxDuration: p.spec.maxDuration,
    durations: ['15m', '30m', '1h', '2h', '4h', '8h', '12h', '24h'].filter(
      (d) => parseDuration(d) <= maxMs,
    ),
    requireReason: p.spec.requireReason ?? false,
    selfOnly,
    approval: approvalWords(p),
  };
}

/**
 * The request form, as posted: the request's own fields, and each kind's access
 * fields under its CLI option names (src/portal/access-fields.ts).
 */
export interface RequestForm {
  policy?: string;
  namespace?: string;
  duration?: string;
  reason?: string;
  [field: string]: unknown;
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
  list: readonly AnyKind[] = registered,
): { grant: AccessGrant } | { errors: string[] } {
  const errors: string[] = [];
  const text = (v: unknown) => (typeof v === 'string' ? v.trim() : '');
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
  const { access, errors: wrong, label: what = 'access' } = entriesFromForm(f, namespace, list);
  errors.push(...wrong);
  if (errors.length) return { errors };
  const label = (s: string) =>
    s
      .toLowerCase()
      .replace(/[^a-z0-9-]/g, '-')
      .replace(/^-+|-+$/g, '');
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
