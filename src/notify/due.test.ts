import assert from 'node:assert/strict';
import { aGrant } from '../api/v1alpha1/testing.ts';
import type {
  AccessGrant,
  AccessGrantStatus,
  Condition,
  NotifyRule,
} from '../api/v1alpha1/types.ts';
import { dueNotifications, MAX_LATENESS_MS, OVERDUE_AFTER_MS } from './due.ts';

const T0 = Date.parse('2026-11-27T10:00:00Z');
const iso = (ms: number) => new Date(ms).toISOString();
const ALL: NotifyRule[] = [{ channel: 'leads' }];

const grant = (status: AccessGrantStatus) => aGrant({ status });

const ready = (reason: string, at = T0): Condition[] => [
  { type: 'Ready', status: 'False', reason, message: reason, lastTransitionTime: iso(at) },
];
/** Approved by bob and active for an hour from T0, with `over` on top. */
const active = (over: AccessGrantStatus = {}) =>
  grant({
    phase: 'Active',
    approvals: [{ approver: 'bob', decision: 'Approve', at: iso(T0) }],
    activatedAt: iso(T0),
    expiresAt: iso(T0 + 3600_000),
    history: [{ phase: 'Active', at: iso(T0), reason: 'Granted' }],
    ...over,
  });
const events = (g: AccessGrant, rules = ALL, now = T0 + 1000, held?: number) =>
  dueNotifications(g, rules, new Date(now), held).due.map((d) => `${d.channel}/${d.event}`);

describe('dueNotifications', () => {
  it('tells the approvers while a request waits, and not once it has moved on', () => {
    const waiting = grant({ phase: 'Pending', conditions: ready('AwaitingApproval') });
    assert.deepEqual(events(waiting), ['leads/Requested']);
    // Still waiting a day later: still worth telling.
    assert.deepEqual(events(waiting, ALL, T0 + 24 * 3600_000), ['leads/Requested']);
    const scheduled = grant({ phase: 'Pending', conditions: ready('Scheduled') });
    assert.deepEqual(events(scheduled), []);
  });

  it('tells Approved (with approvals) and Activated once active, in that order', () => {
    assert.deepEqual(events(active({ conditions: ready('Granted') })), [
      'leads/Approved',
      'leads/Activated',
    ]);
  });

  it('sends nothing recorded as delivered, and only the events a rule asks for', () => {
    const told = active({ notifications: [{ channel: 'leads', event: 'Approved', at: iso(T0) }] });
    assert.deepEqual(events(told), ['leads/Activated']);
    assert.deepEqual(events(told, [{ channel: 'audit', events: ['Ended'] }]), []);
  });

  it('tells ExpiringSoon from its lead before expiry, and asks to look again then', () => {
    const g = active({
      approvals: [],
      notifications: [{ channel: 'leads', event: 'Activated', at: iso(T0) }],
    });
    const early = dueNotifications(g, ALL, new Date(T0 + 1000));
    assert.deepEqual(early.due, []);
    assert.equal(early.recheckAfterMs, 3600_000 - 5 * 60_000 - 1000, 'default lead: 5 minutes');
    assert.deepEqual(events(g, ALL, T0 + 3600_000 - 5 * 60_000), ['leads/ExpiringSoon']);
    const tenMinutes = [{ channel: 'leads', expiringSoonLead: '10m' }];
    assert.deepEqual(events(g, tenMinutes, T0 + 3600_000 - 9 * 60_000), ['leads/ExpiringSoon']);
  });

  it('tells Ended, Denied and Failed from the final phase', () => {
    assert.deepEqual(events(grant({ phase: 'Expired', endedAt: iso(T0) })), ['leads/Ended']);
    assert.deepEqual(events(grant({ phase: 'Revoked', endedAt: iso(T0) })), ['leads/Ended']);
    assert.deepEqual(events(grant({ phase: 'Denied', endedAt: iso(T0) })), ['leads/Denied']);
    assert.deepEqual(events(grant({ phase: 'Failed', endedAt: iso(T0) })), ['leads/Failed']);
  });

  it('does not send what happened over an hour ago (turning notify on must not send the history)', () => {
    const old = grant({ phase: 'Expired', endedAt: iso(T0) });
    const r = dueNotifications(old, ALL, new Date(T0 + MAX_LATENESS_MS + 1));
    assert.deepEqual(r.due, []);
    assert.deepEqual(
      r.stale.map((d) => d.event),
      ['Ended'],
    );
  });

  it('reports access held past its end to every channel, whatever events it asked for', () => {
    const ended = grant({ phase: 'Expired', endedAt: iso(T0) });
    const rules = [
      { channel: 'leads', events: ['Requested' as const] },
      { channel: 'security', events: ['Ended' as const] },
    ];
    const early = dueNotifications(ended, rules, new Date(T0 + 1000), T0);
    assert.deepEqual(
      early.due.map((d) => `${d.channel}/${d.event}`),
      ['security/Ended'],
    );
    assert.equal(early.recheckAfterMs, OVERDUE_AFTER_MS - 1000, 'not overdue yet: look again then');
    const later = dueNotifications(ended, rules, new Date(T0 + OVERDUE_AFTER_MS), T0);
    assert.deepEqual(
      later.due.map((d) => `${d.channel}/${d.event}`),
      ['security/Ended', 'leads/RevocationOverdue', 'security/RevocationOverdue'],
    );
  });
});
