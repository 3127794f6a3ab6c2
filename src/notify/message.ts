import { describeTarget } from '../api/v1alpha1/describe.ts';
import type { AccessGrant, NotificationEvent } from '../api/v1alpha1/types.ts';
import { findCondition } from '../controller/conditions.ts';
import { specHash } from '../policy/evaluate.ts';
import type { Notification } from './types.ts';

/** Where people act on a request: the CLI's name, and the portal if there is one. */
export interface ActOn {
  /** e.g. `timebox` or `kubectl timebox`. */
  cli: string;
  portalUrl?: string;
}

function subjectOf(g: AccessGrant): string {
  const s = g.spec.subject;
  return s.kind === 'User' ? s.name : `${s.kind} ${s.namespace ? `${s.namespace}/` : ''}${s.name}`;
}

function accessOf(g: AccessGrant): string {
  return g.spec.access.map((t) => describeTarget(t).replace(/^\w+: /, '')).join('; ');
}

/** Who decided or ended the grant, for the events that have one. */
function actorOf(g: AccessGrant, event: NotificationEvent): Notification['actor'] {
  const approvals = g.status?.approvals ?? [];
  const by = (decision: string) => approvals.filter((a) => a.decision === decision);
  const ready = findCondition(g.status?.conditions, 'Ready');
  if (event === 'Approved') {
    const yes = by('Approve');
    if (yes.length === 0) return undefined;
    const comment = yes.map((a) => a.comment).find(Boolean);
    return { user: yes.map((a) => a.approver).join(', '), ...(comment ? { comment } : {}) };
  }
  const last = (xs: typeof approvals) => xs.at(-1);
  const decided =
    event === 'Denied'
      ? last(by('Deny'))
      : event === 'Ended' && ready?.reason === 'RevokedByApprover'
        ? last(by('Revoke'))
        : undefined;
  if (decided) {
    return { user: decided.approver, ...(decided.comment ? { comment: decided.comment } : {}) };
  }
  if (event === 'Ended' && ready?.reason === 'RevokedByUser') {
    return { user: g.status?.requestedBy ?? 'the requester' };
  }
  return undefined;
}

function summaryOf(g: AccessGrant, event: NotificationEvent, actor: Notification['actor']): string {
  const who = g.status?.requestedBy ?? 'someone';
  const subject = subjectOf(g);
  const forWhom = subject === who ? '' : ` for ${subject}`;
  const what = `${accessOf(g)}${forWhom} for ${g.spec.duration}`;
  const ready = findCondition(g.status?.conditions, 'Ready');
  switch (event) {
    case 'Requested':
      return `${who} asks for ${what}`;
    case 'Approved':
      return `${actor?.user ?? 'the approvers'} approved ${who}'s request for ${what}`;
    case 'Denied':
      return actor
        ? `${actor.user} denied ${who}'s request for ${what}`
        : `${who}'s request for ${what} was denied: ${ready?.message ?? ''}`;
    case 'Activated':
      return `${subject} now has ${accessOf(g)} until ${g.status?.expiresAt}`;
    case 'ExpiringSoon':
      return `${subject}'s ${accessOf(g)} ends at ${g.status?.expiresAt}`;
    case 'Ended':
      return actor
        ? `${actor.user} revoked ${subject}'s ${accessOf(g)}`
        : `${subject}'s ${accessOf(g)} ended (${ready?.reason ?? g.status?.phase})`;
    case 'Failed':
      return `${who}'s grant of ${accessOf(g)}${forWhom} failed: ${ready?.reason ?? ''}`;
    case 'RevocationOverdue':
      return `${subject} still holds ${accessOf(g)} past the end of the grant`;
  }
}

/** Pure: the notification of one event of a grant, with what a person needs to act on it. */
export function notificationOf(
  g: AccessGrant,
  event: NotificationEvent,
  time: string,
  act: ActOn,
): Notification {
  const s = g.status ?? {};
  const actor = actorOf(g, event);
  const ready = findCondition(s.conditions, 'Ready');
  // The commands bind a decision to exactly the version this notification shows.
  const hash = specHash(g.spec);
  const ref = `${g.metadata.name} -n ${g.metadata.namespace} --spec-hash ${hash}`;
  return {
    id: `${g.metadata.uid}.${event.toLowerCase()}`,
    event,
    time,
    summary: summaryOf(g, event, actor),
    grant: {
      namespace: g.metadata.namespace ?? '',
      name: g.metadata.name ?? '',
      uid: g.metadata.uid ?? '',
      ...(s.phase ? { phase: s.phase } : {}),
      ...(s.requestedBy ? { requestedBy: s.requestedBy } : {}),
      subject: g.spec.subject,
      policy: g.spec.policy,
      duration: g.spec.duration,
      ...(g.spec.reason ? { reason: g.spec.reason } : {}),
      ...(g.spec.startAt ? { startAt: g.spec.startAt } : {}),
      access: g.spec.access,
      ...(s.activatedAt ? { activatedAt: s.activatedAt } : {}),
      ...(s.expiresAt ? { expiresAt: s.expiresAt } : {}),
      specHash: hash,
    },
    ...(actor ? { actor } : {}),
    ...(ready?.message ? { detail: ready.message } : {}),
    ...(event === 'Requested'
      ? {
          act: {
            approveCommand: `${act.cli} approve ${ref}`,
            denyCommand: `${act.cli} deny ${ref} --comment '<why>'`,
            ...(act.portalUrl ? { portalUrl: act.portalUrl } : {}),
          },
        }
      : {}),
  };
}
