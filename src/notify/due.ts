import {
  DEFAULT_EXPIRING_SOON_LEAD,
  NOTIFICATION_EVENTS,
  type AccessGrant,
  type NotificationEvent,
  type NotifyRule,
} from '../api/v1alpha1/types.ts';
import { parseDuration } from '../api/v1alpha1/duration.ts';
import { findCondition } from '../controller/conditions.ts';

/** A notification to deliver: this event of the grant, to this channel. */
export interface Due {
  channel: string;
  event: NotificationEvent;
  /** When the event happened (RFC 3339). */
  time: string;
}

export interface DueResult {
  /** Not yet delivered, in the order the events happened. */
  due: Due[];
  /** Happened too long ago to be worth telling (e.g. while the operator was down). */
  stale: Due[];
  /** When a time-driven event (ExpiringSoon, RevocationOverdue) becomes due. */
  recheckAfterMs?: number;
}

/**
 * An event more than an hour old when first seen is not sent: telling owners
 * today that a grant was activated yesterday helps nobody, and turning on `notify`
 * for a policy must not mail its whole history. A request still waiting, an
 * expiry still ahead and overdue access are always worth telling.
 */
export const MAX_LATENESS_MS = 3600_000;
/** Access still held this long past its grant's end is reported as overdue. */
export const OVERDUE_AFTER_MS = 30_000;

const ORDER = new Map(NOTIFICATION_EVENTS.map((e, i) => [e, i]));
const ALWAYS_TIMELY = new Set<NotificationEvent>([
  'Requested',
  'ExpiringSoon',
  'RevocationOverdue',
]);

/** Pure: the events a grant has had so far, each with when it happened. */
export function occurred(
  grant: AccessGrant,
  rules: NotifyRule[],
  now: Date,
  /** Earliest end of access this grant still holds past its grant (from the binding caches). */
  heldUntil?: number,
): { events: Map<NotificationEvent, string>; recheckAfterMs?: number } {
  const s = grant.status ?? {};
  const events = new Map<NotificationEvent, string>();
  const ready = findCondition(s.conditions, 'Ready');
  const history = s.history ?? [];
  const nowMs = now.getTime();
  let recheck: number | undefined;
  const at = (ms: number) => {
    if (ms > nowMs) recheck = Math.min(recheck ?? Infinity, ms - nowMs);
  };

  if (s.phase === 'Pending' && ready?.reason === 'AwaitingApproval') {
    events.set('Requested', ready.lastTransitionTime);
  }
  const approvals = (s.approvals ?? []).filter((a) => a.decision === 'Approve');
  const approved =
    s.activatedAt !== undefined || ['Scheduled', 'Activating'].includes(ready?.reason ?? '');
  if (approvals.length > 0 && approved) {
    events.set(
      'Approved',
      approvals
        .map((a) => a.at)
        .sort()
        .at(-1)!,
    );
  }
  if (s.phase === 'Denied') events.set('Denied', s.endedAt ?? ready?.lastTransitionTime ?? '');
  if (history.some((h) => h.phase === 'Active') && s.activatedAt) {
    events.set('Activated', s.activatedAt);
  }
  const expiresMs = Date.parse(s.expiresAt ?? '');
  if (s.phase === 'Active' && !Number.isNaN(expiresMs)) {
    // The shortest lead of the rules that ask for it decides when it is due for each.
    for (const lead of leads(rules)) {
      const dueMs = expiresMs - lead;
      if (nowMs >= dueMs && nowMs < expiresMs) {
        events.set('ExpiringSoon', new Date(dueMs).toISOString());
      } else at(dueMs);
    }
  }
  if (s.phase === 'Expired' || s.phase === 'Revoked') events.set('Ended', s.endedAt ?? '');
  if (s.phase === 'Failed') events.set('Failed', s.endedAt ?? '');
  if (heldUntil !== undefined) {
    const overdueMs = heldUntil + OVERDUE_AFTER_MS;
    if (nowMs >= overdueMs) events.set('RevocationOverdue', new Date(overdueMs).toISOString());
    else at(overdueMs);
  }
  return { events, ...(recheck !== undefined ? { recheckAfterMs: recheck } : {}) };
}

function leads(rules: NotifyRule[]): number[] {
  return [
    ...new Set(
      rules
        .filter((r) => !r.events || r.events.includes('ExpiringSoon'))
        .map((r) => parseDuration(r.expiringSoonLead ?? DEFAULT_EXPIRING_SOON_LEAD)),
    ),
  ];
}

/**
 * Pure: what to deliver for a grant under its policy's `notify` rules, leaving
 * out what `status.notifications` says was delivered.
 */
export function dueNotifications(
  grant: AccessGrant,
  rules: NotifyRule[],
  now: Date,
  heldUntil?: number,
  /** Lateness counts from here (when the notifier first saw the grant); `now` when absent. */
  seenAt: Date = now,
): DueResult {
  const { events, recheckAfterMs } = occurred(grant, rules, now, heldUntil);
  const sent = new Set((grant.status?.notifications ?? []).map((n) => `${n.channel}/${n.event}`));
  const due: Due[] = [];
  const stale: Due[] = [];
  const expiresMs = Date.parse(grant.status?.expiresAt ?? '');
  for (const rule of rules) {
    for (const [event, time] of events) {
      const wanted = event === 'RevocationOverdue' || !rule.events || rule.events.includes(event);
      if (!wanted || sent.has(`${rule.channel}/${event}`)) continue;
      let when = time;
      if (event === 'ExpiringSoon') {
        // Each rule has its own lead: due for this one only once its lead is reached.
        const lead = parseDuration(rule.expiringSoonLead ?? DEFAULT_EXPIRING_SOON_LEAD);
        if (now.getTime() < expiresMs - lead) continue;
        when = new Date(expiresMs - lead).toISOString();
      }
      const d = { channel: rule.channel, event, time: when };
      const late = Math.min(now.getTime(), seenAt.getTime()) - Date.parse(time) > MAX_LATENESS_MS;
      (late && !ALWAYS_TIMELY.has(event) ? stale : due).push(d);
    }
  }
  due.sort((a, b) => ORDER.get(a.event)! - ORDER.get(b.event)!);
  return { due, stale, ...(recheckAfterMs !== undefined ? { recheckAfterMs } : {}) };
}
