import assert from 'node:assert/strict';
import { aGrant } from '../api/v1alpha1/testing.ts';
import type { AccessGrant } from '../api/v1alpha1/types.ts';
import { FakeClock } from '../runtime/clock.ts';
import { EXPIRATION_SERIES_MAX, Metrics, type MetricSources } from './metrics.ts';

function grant(
  name: string,
  phase: string,
  policy: string,
  extra: Partial<AccessGrant['status']> = {},
  reason = 'x',
): AccessGrant {
  return aGrant({
    metadata: { name, creationTimestamp: '2026-11-25T08:00:00Z' as unknown as Date },
    spec: { policy },
    status: {
      phase: phase as never,
      conditions: [{ type: 'Ready', status: 'False', reason, message: '', lastTransitionTime: '' }],
      ...extra,
    },
  });
}

describe('Metrics', () => {
  const clock = new FakeClock('2026-11-25T09:00:00Z');
  const sources: MetricSources = {
    grants: () => [
      grant('a', 'Active', 'oncall', {
        expiresAt: '2026-11-25T09:10:00.000Z',
        targets: [
          { provider: 'kubernetes', ref: 'RoleBinding x', state: 'Active', failSafe: false },
          { provider: 'aws', ref: 'InlinePolicy y', state: 'Active', failSafe: true },
          { provider: 'aws', ref: 'AttachedPolicy z', state: 'Active', failSafe: false },
        ],
      }),
      grant('b', 'Active', 'oncall', { expiresAt: '2026-11-25T11:00:00.000Z' }),
      grant('c', 'Pending', 'prod', {}, 'AwaitingApproval'),
      grant('d', 'Expired', 'oncall'),
    ],
    bindings: () => [
      {
        metadata: {
          labels: { 'timebox.dev/grant-uid': 'u1' },
          annotations: { 'timebox.dev/expires-at': '2026-11-25T08:59:00Z' },
        },
      },
      {
        metadata: {
          labels: { 'timebox.dev/grant-uid': 'u1' },
          annotations: { 'timebox.dev/expires-at': '2026-11-25T08:59:00Z' },
        },
      },
      {
        metadata: {
          labels: { 'timebox.dev/grant-uid': 'u2' },
          annotations: { 'timebox.dev/expires-at': '2026-11-25T09:30:00Z' },
        },
      },
    ],
    queueDepths: () => ({ accessgrant: 3 }),
    isLeader: () => false,
  };

  it('computes gauges from the caches at scrape time', async () => {
    const text = await new Metrics(sources, clock).registry.metrics();
    assert.match(text, /^timebox_grants\{phase="Active",policy="oncall"\} 2$/m);
    assert.match(text, /^timebox_grants\{phase="Pending",policy="prod"\} 1$/m);
    assert.match(text, /^timebox_grants\{phase="Denied",policy=""\} 0$/m);
    assert.match(
      text,
      /^timebox_grant_expiration_timestamp_seconds\{namespace="payments",name="a"\} 1795597800$/m,
    );
    // An hour from expiry is too far ahead for a series of its own; ended grants have none.
    for (const name of ['b', 'd'])
      assert.doesNotMatch(
        text,
        new RegExp(
          `timebox_grant_expiration_timestamp_seconds\\{namespace="payments",name="${name}"\\}`,
        ),
      );
    assert.match(text, /^timebox_grant_expiration_series_omitted 0$/m);
    // One grant (two bindings) is past its expiry.
    assert.match(text, /^timebox_revocation_overdue_grants 1$/m);
    assert.match(text, /^timebox_pending_approval_age_seconds\{policy="prod"\} 3600$/m);
    assert.match(text, /^timebox_workqueue_depth\{name="accessgrant"\} 3$/m);
    assert.match(text, /^timebox_leader_is_leader 0$/m);
    assert.match(text, /^timebox_active_targets\{provider="aws",fail_safe="true"\} 1$/m);
    assert.match(text, /^timebox_active_targets\{provider="aws",fail_safe="false"\} 1$/m);
    assert.match(text, /^timebox_active_targets\{provider="gcp",fail_safe="true"\} 0$/m);
  });

  it('keeps per-grant expiry series to those near or past expiry, at most the cap, soonest first', async () => {
    const many = Array.from({ length: EXPIRATION_SERIES_MAX + 5 }, (_, i) =>
      grant(`g${i}`, 'Active', 'oncall', {
        // From 1 s overdue onwards, 100 ms apart: g0 is the most overdue.
        expiresAt: new Date(Date.parse('2026-11-25T08:59:59Z') + i * 100).toISOString(),
      }),
    );
    const later = grant('later', 'Active', 'oncall', { expiresAt: '2026-11-25T12:00:00Z' });
    const text = await new Metrics(
      { ...sources, grants: () => [later, ...many] },
      clock,
    ).registry.metrics();
    const series = text.match(/^timebox_grant_expiration_timestamp_seconds\{/gm) ?? [];
    assert.equal(series.length, EXPIRATION_SERIES_MAX);
    assert.match(text, /name="g0"/, 'the most overdue is kept');
    assert.doesNotMatch(text, new RegExp(`name="g${EXPIRATION_SERIES_MAX}"`));
    assert.doesNotMatch(text, /name="later"/);
    assert.match(text, /^timebox_grant_expiration_series_omitted 5$/m);
  });
});
