import assert from 'node:assert/strict';
import { aGrant } from '../api/v1alpha1/testing.ts';
import { FINALIZER, type AccessGrant, type AccessGrantStatus } from '../api/v1alpha1/types.ts';
import { FakeClock } from '../runtime/clock.ts';
import type { Decision } from '../policy/decision.ts';
import { specHash } from '../policy/evaluate.ts';
import { desiredArtefacts, plan, planFailure, type Observed } from './plan.ts';
import { expiryState, msUntilBindingExpiry } from './expiry.ts';

const APPROVED: Decision = { verdict: 'Approved', reason: 'NoPolicy', message: 'ok' };

/** alice's grant of ClusterRole edit in payments and billing for 2h, with the finalizer. */
function grant(
  over: {
    status?: AccessGrantStatus;
    spec?: Partial<AccessGrant['spec']>;
    finalizer?: boolean;
    deleting?: boolean;
  } = {},
): AccessGrant {
  return aGrant({
    metadata: {
      uid: '1a2b3c4d-0000-0000-0000-000000000000',
      generation: 1,
      finalizers: over.finalizer === false ? [] : [FINALIZER],
      deletionTimestamp: over.deleting ? new Date('2026-11-25T09:00:00Z') : undefined,
    },
    spec: {
      duration: '2h',
      access: [{ kubernetes: { clusterRole: 'edit', namespaces: ['payments', 'billing'] } }],
      ...over.spec,
    },
    status: over.status,
  });
}

function observed(g: AccessGrant, expiresAt?: string, over: Partial<Observed> = {}): Observed {
  return {
    artefacts: expiresAt ? desiredArtefacts(g, expiresAt) : [],
    providers: ['kubernetes'],
    decision: APPROVED,
    ...over,
  };
}

const ACTIVE: AccessGrantStatus = {
  phase: 'Active',
  activatedAt: '2026-11-25T09:00:00.000Z',
  expiresAt: '2026-11-25T11:00:00.000Z',
};

describe('plan', () => {
  let clock: FakeClock;
  beforeEach(() => (clock = new FakeClock('2026-11-25T09:00:00Z')));

  it('adds the finalizer before anything else', () => {
    const p = plan(grant({ finalizer: false }), observed(grant()), clock.now());
    assert.equal(p.addFinalizer, true);
    assert.deepEqual([p.ensure, p.revoke, p.status], [[], [], undefined]);
  });

  it('evaluates a new grant at once: Pending while approval is pending', () => {
    const decision: Decision = { verdict: 'Pending', reason: 'AwaitingApproval', message: 'm' };
    const p = plan(grant(), observed(grant(), undefined, { decision }), clock.now());
    assert.equal(p.status?.phase, 'Pending');
    assert.equal(p.status?.conditions?.[0]?.status, 'False');
    assert.equal(p.status?.history?.length, 1);
    assert.deepEqual(
      p.events.map((e) => e.reason),
      ['AwaitingApproval'],
      'an Event says the request waits, for event forwarders',
    );
    const waiting = { ...grant(), status: p.status! };
    const again = plan(waiting, observed(waiting, undefined, { decision }), clock.now());
    assert.deepEqual(again.events, [], 'once, not on every reconcile');
  });

  it('commits an approved new grant directly, recording it as Pending', () => {
    const p = plan(grant(), observed(grant()), clock.now());
    assert.equal(p.commit?.phase, 'Pending');
    assert.deepEqual(
      p.commit?.history?.map((h) => h.phase),
      ['Pending'],
    );
  });

  it('commits activatedAt and expiresAt before granting anything', () => {
    const g = grant({ status: { phase: 'Pending' } });
    const p = plan(g, observed(g), clock.now());
    assert.equal(p.commit?.expiresAt, '2026-11-25T11:00:00.000Z');
    assert.equal(p.commit?.activatedAt, '2026-11-25T09:00:00.000Z');
    assert.equal(p.commit?.phase, 'Pending');
    assert.deepEqual(p.ensure, []);
    assert.equal(p.requeueAfterMs, 0);
  });

  it('grants every target once expiry is committed, then goes Active with an expiry timer', () => {
    const g = grant({
      status: { phase: 'Pending', activatedAt: ACTIVE.activatedAt, expiresAt: ACTIVE.expiresAt },
    });
    const p = plan(g, observed(g), clock.now());
    assert.deepEqual(
      p.ensure.map((a) => a.ref),
      [
        'RoleBinding payments/timebox-alice-debug-1a2b3c4d',
        'RoleBinding billing/timebox-alice-debug-1a2b3c4d',
      ],
    );
    assert.equal(p.status?.phase, 'Active');
    assert.equal(p.status?.conditions?.[0]?.status, 'True');
    assert.equal(p.requeueAfterMs, 2 * 3600 * 1000);
    assert.deepEqual(
      p.events.map((e) => e.reason),
      ['Granted'],
    );
  });

  it('waits for a scheduled start and sets a timer for it', () => {
    const g = grant({ status: { phase: 'Pending' }, spec: { startAt: '2026-11-25T09:30:00Z' } });
    const p = plan(g, observed(g), clock.now());
    assert.equal(p.status?.conditions?.[0]?.reason, 'Scheduled');
    assert.equal(p.requeueAfterMs, 30 * 60 * 1000);
    assert.equal(p.commit, undefined);
  });

  it('activates a scheduled grant once its start has passed', () => {
    const g = grant({ status: { phase: 'Pending' }, spec: { startAt: '2026-11-25T08:30:00Z' } });
    const p = plan(g, observed(g), clock.now());
    // A scheduled grant is a window: activated late, it gets what is left of it.
    assert.equal(p.commit?.expiresAt, '2026-11-25T10:30:00.000Z');
    assert.equal(p.commit?.activatedAt, '2026-11-25T09:00:00.000Z');
  });

  it('never activates a grant whose window is over (re-applied from Git, or approved too late)', () => {
    const g = grant({ status: { phase: 'Pending' }, spec: { startAt: '2026-01-05T09:00:00Z' } });
    const p = plan(g, observed(g), clock.now());
    assert.equal(p.commit, undefined);
    assert.deepEqual(p.ensure, []);
    assert.equal(p.status?.phase, 'Expired');
    assert.equal(p.status?.conditions?.[0]?.reason, 'WindowPassed');
    assert.match(
      p.status?.conditions?.[0]?.message ?? '',
      /window \(startAt \+ duration\) ended at 2026-01-05T11:00:00.000Z .* nothing was granted/,
    );
  });

  const pendingCases: [string, Decision, string | undefined][] = [
    [
      'stays Pending while the decision is pending',
      { verdict: 'Pending', reason: 'AwaitingApproval', message: 'm' },
      'Pending',
    ],
    [
      'is Denied when the decision denies',
      { verdict: 'Denied', reason: 'NotEligible', message: 'm' },
      'Denied',
    ],
  ];
  for (const [name, decision, phase] of pendingCases) {
    it(name, () => {
      const g = grant({ status: { phase: 'Pending' } });
      const p = plan(g, observed(g, undefined, { decision }), clock.now());
      assert.equal(p.status?.phase, phase);
      assert.equal(p.status?.conditions?.[0]?.reason, decision.reason);
      assert.equal(p.commit, undefined);
    });
  }

  it('does nothing while an active grant matches what is observed', () => {
    const g = grant({ status: { ...ACTIVE } });
    const first = plan(g, observed(g, ACTIVE.expiresAt), clock.now());
    const settled = { ...g, status: first.status ?? g.status };
    clock.advance(60_000);
    const p = plan(settled, observed(g, ACTIVE.expiresAt), clock.now());
    assert.deepEqual([p.ensure, p.revoke, p.status, p.events], [[], [], undefined, []]);
    assert.equal(p.requeueAfterMs, 2 * 3600 * 1000 - 60_000);
  });

  it('repairs a deleted or edited binding while active', () => {
    const g = grant({ status: { ...ACTIVE } });
    const [payments, billing] = desiredArtefacts(g, ACTIVE.expiresAt!);
    const edited = {
      ...billing!,
      body: {
        ...(billing!.body as object),
        roleRef: {
          apiGroup: 'rbac.authorization.k8s.io',
          kind: 'ClusterRole',
          name: 'cluster-admin',
        },
      },
    };
    const p = plan(g, observed(g, undefined, { artefacts: [edited] }), clock.now());
    assert.deepEqual(
      p.ensure.map((a) => a.ref),
      [payments!.ref, billing!.ref],
    );
    assert.deepEqual(
      p.events.map((e) => e.reason),
      ['DriftRepaired'],
    );
  });

  it('revokes an owned artefact that the grant no longer describes', () => {
    const g = grant({ status: { ...ACTIVE } });
    const stray = {
      ...desiredArtefacts(g, ACTIVE.expiresAt!)[0]!,
      ref: 'RoleBinding other/timebox-stray',
    };
    const p = plan(
      g,
      observed(g, ACTIVE.expiresAt, {
        artefacts: [...desiredArtefacts(g, ACTIVE.expiresAt!), stray],
      }),
      clock.now(),
    );
    assert.deepEqual(
      p.revoke.map((a) => a.ref),
      ['RoleBinding other/timebox-stray'],
    );
  });

  const endings: [string, Partial<AccessGrant['spec']>, number, string, string][] = [
    ['expires at expiresAt', {}, 2 * 3600 * 1000, 'Expired', 'Expired'],
    [
      'expires when the operator was down past expiresAt',
      {},
      5 * 3600 * 1000,
      'Expired',
      'Expired',
    ],
    ['is revoked by spec.revoked', { revoked: true }, 60_000, 'Revoked', 'RevokedByUser'],
  ];
  for (const [name, spec, advance, phase, reason] of endings) {
    it(name, () => {
      const g = grant({ status: { ...ACTIVE }, spec });
      clock.advance(advance);
      const p = plan(g, observed(g, ACTIVE.expiresAt), clock.now());
      assert.equal(p.status?.phase, phase);
      assert.equal(p.status?.conditions?.[0]?.reason, reason);
      assert.equal(p.revoke.length, 2);
      assert.equal(p.status?.endedAt, clock.now().toISOString());
      assert.ok(p.status?.targets?.every((t) => t.state === 'Revoked'));
      assert.equal(p.requeueAfterMs, undefined);
    });
  }

  describe('re-decides before granting anything, at every step', () => {
    // Committed (activation under way) and Active: both would grant next.
    const committed: AccessGrantStatus = {
      phase: 'Pending',
      activatedAt: ACTIVE.activatedAt,
      expiresAt: ACTIVE.expiresAt,
    };
    for (const [state, status] of [
      ['committed', committed],
      ['active', ACTIVE],
    ] as const) {
      it(`grants nothing to a ${state} grant whose spec is not the one approved`, () => {
        const approved = grant();
        const swapped = grant({
          status: { ...status, specHash: specHash(approved.spec) },
          spec: { access: [{ kubernetes: { clusterRole: 'cluster-admin', clusterWide: true } }] },
        });
        const held = desiredArtefacts(swapped, ACTIVE.expiresAt!);
        const p = plan(swapped, observed(swapped, undefined, { artefacts: held }), clock.now());
        assert.deepEqual(p.ensure, []);
        assert.equal(p.revoke.length, held.length);
        assert.equal(p.status?.phase, 'Revoked');
        assert.equal(p.status?.conditions?.[0]?.reason, 'SpecChanged');
        assert.match(
          p.status?.conditions?.[0]?.message ?? '',
          /no longer the one requested and approved/,
        );
      });

      it(`grants nothing to a ${state} grant that is no longer approved`, () => {
        const g = grant({ status: { ...status, specHash: specHash(grant().spec) } });
        const decision: Decision = {
          verdict: 'Pending',
          reason: 'AwaitingApproval',
          message: '0 of 1 approval(s)',
        };
        const p = plan(g, observed(g, undefined, { decision }), clock.now());
        assert.deepEqual(p.ensure, []);
        assert.equal(p.status?.phase, 'Revoked');
        assert.equal(p.status?.conditions?.[0]?.reason, 'NoLongerApproved');
        assert.match(p.status?.conditions?.[0]?.message ?? '', /no longer approved \(0 of 1/);
      });
    }

    it('records who approved which spec when committing, in an Event too', () => {
      const hash = specHash(grant().spec);
      const decision: Decision = {
        verdict: 'Approved',
        reason: 'Approved',
        message: `approved by bob for spec sha256:${hash}`,
      };
      const p = plan(
        grant({ status: { phase: 'Pending' } }),
        observed(grant(), undefined, { decision }),
        clock.now(),
      );
      assert.equal(p.commit?.specHash, hash);
      assert.match(
        p.commit?.conditions?.[0]?.message ?? '',
        new RegExp(`approved by bob for spec sha256:${hash}`),
      );
      const committed = { ...grant(), status: p.commit! };
      const granted = plan(committed, observed(committed, undefined, { decision }), clock.now());
      assert.equal(granted.status?.phase, 'Active');
      assert.match(
        granted.status?.history?.at(-1)?.message ?? '',
        new RegExp(`access granted until .*; approved by bob for spec sha256:${hash}`),
      );
      assert.deepEqual(
        p.events.map((e) => [e.reason, e.message]),
        [['Approved', decision.message]],
      );
    });
  });

  it('is revoked by an approver of its policy, naming them in the record', () => {
    const g = grant({ status: { ...ACTIVE, approvals: [] } });
    const revokedBy = {
      approver: 'carol',
      decision: 'Revoke' as const,
      at: '2026-11-25T09:05:00.000Z',
      comment: 'incident over',
    };
    const p = plan(
      g,
      observed(g, ACTIVE.expiresAt, { decision: { ...APPROVED, revokedBy } }),
      clock.now(),
    );
    assert.equal(p.status?.phase, 'Revoked');
    assert.equal(p.status?.conditions?.[0]?.reason, 'RevokedByApprover');
    assert.match(
      p.status?.conditions?.[0]?.message ?? '',
      /revoked by carol, an approver .*: incident over/,
    );
    assert.deepEqual(p.status?.approvals, [revokedBy]);
    assert.equal(p.revoke.length, 2);
    assert.deepEqual(p.ensure, []);
  });

  it('never trusts a status.expiresAt later than activation plus duration', () => {
    // Someone with status write rights pushes the expiry out by a day.
    const g = grant({ status: { ...ACTIVE, expiresAt: '2026-11-26T11:00:00.000Z' } });
    clock.advance(2 * 3600 * 1000);
    const p = plan(g, observed(g, ACTIVE.expiresAt), clock.now());
    assert.equal(p.status?.phase, 'Expired');
    assert.deepEqual(p.ensure, []);
  });

  it('does not expire a millisecond early', () => {
    const g = grant({ status: { ...ACTIVE } });
    const settled = { ...g, status: plan(g, observed(g, ACTIVE.expiresAt), clock.now()).status };
    clock.advance(2 * 3600 * 1000 - 1);
    const p = plan(settled, observed(g, ACTIVE.expiresAt), clock.now());
    assert.equal(p.status, undefined);
    assert.equal(p.requeueAfterMs, 1);
  });

  it('expires a grant whose committed expiry passed before activation finished', () => {
    const g = grant({
      status: { phase: 'Pending', activatedAt: ACTIVE.activatedAt, expiresAt: ACTIVE.expiresAt },
    });
    clock.advance(3 * 3600 * 1000);
    const p = plan(g, observed(g, ACTIVE.expiresAt), clock.now());
    assert.equal(p.status?.phase, 'Expired');
    assert.deepEqual(p.ensure, []);
    assert.equal(p.revoke.length, 2);
  });

  for (const phase of ['Expired', 'Revoked', 'Denied', 'Failed'] as const) {
    it(`never grants again once ${phase}, and cleans up leftovers`, () => {
      const g = grant({ status: { ...ACTIVE, phase } });
      const p = plan(g, observed(g, ACTIVE.expiresAt), clock.now());
      assert.deepEqual(p.ensure, []);
      assert.equal(p.status, undefined);
      assert.equal(p.revoke.length, 2);
    });
  }

  it('revokes before removing the finalizer on delete', () => {
    const g = grant({ status: { ...ACTIVE }, deleting: true });
    const p = plan(g, observed(g, ACTIVE.expiresAt), clock.now());
    assert.equal(p.revoke.length, 2);
    assert.equal(p.removeFinalizer, true);
    assert.deepEqual(p.ensure, []);
  });

  it('fails targets whose provider is not configured, granting nothing', () => {
    const g = grant({
      status: { phase: 'Pending', activatedAt: ACTIVE.activatedAt, expiresAt: ACTIVE.expiresAt },
      spec: {
        access: [
          { kubernetes: { clusterRole: 'view', namespaces: ['payments'] } },
          {
            aws: {
              principalArn: 'arn:aws:iam::111122223333:role/alice',
              policyArn: 'arn:aws:iam::aws:policy/ReadOnlyAccess',
            },
          },
        ],
      },
    });
    const p = plan(g, observed(g), clock.now());
    assert.equal(p.status?.phase, 'Failed');
    assert.deepEqual(p.ensure, []);
    assert.match(p.status?.conditions?.[0]?.message ?? '', /no aws provider is configured/);
  });

  it('revokes an active grant its edited or deleted policy no longer allows', () => {
    const g = grant({ status: { ...ACTIVE } });
    const cases: [Decision, string][] = [
      [
        {
          verdict: 'Denied',
          reason: 'DurationTooLong',
          message: 'duration 2h exceeds the maxDuration 1h',
        },
        'PolicyChanged',
      ],
      [
        {
          verdict: 'Pending',
          reason: 'PolicyNotFound',
          message: "AccessPolicy 'x' does not exist",
        },
        'PolicyDeleted',
      ],
    ];
    for (const [policyCheck, reason] of cases) {
      const p = plan(g, observed(g, ACTIVE.expiresAt, { policyCheck }), clock.now());
      assert.equal(p.status?.phase, 'Revoked');
      assert.equal(p.status?.conditions?.[0]?.reason, reason);
      assert.match(p.status?.conditions?.[0]?.message ?? '', new RegExp(policyCheck.message));
      assert.equal(p.revoke.length, 2);
    }
  });

  it('revokes an idle grant (reason Idle), and otherwise wakes when it would become idle', () => {
    const g = grant({ status: { ...ACTIVE, specHash: undefined } });
    const message =
      "access revoked: idle for 30m (the policy's idleTimeout), not used since activation";
    const idle = plan(
      g,
      observed(g, ACTIVE.expiresAt, { idle: { idle: true, message } }),
      clock.now(),
    );
    assert.equal(idle.status?.phase, 'Revoked');
    assert.equal(idle.status?.conditions?.[0]?.reason, 'Idle');
    assert.equal(idle.status?.history?.at(-1)?.reason, 'Idle');
    assert.deepEqual(
      idle.events.map((e) => e.reason),
      ['Idle'],
    );
    assert.equal(idle.revoke.length, 2);
    const busy = plan(
      g,
      observed(g, ACTIVE.expiresAt, { idle: { idle: false, recheckAfterMs: 60_000 } }),
      clock.now(),
    );
    assert.equal(busy.status?.phase ?? 'Active', 'Active');
    assert.equal(busy.requeueAfterMs, 60_000);
    assert.equal(busy.revoke.length, 0);
  });

  it('records who asked, the spec hash and the approvals while pending, and wakes for the timeout', () => {
    const g = grant({ status: { phase: 'Pending' } });
    g.metadata.annotations = { 'timebox.dev/requested-by': 'alice@example.com' };
    const decision: Decision = {
      verdict: 'Pending',
      reason: 'AwaitingApproval',
      message: '1 of 2',
      approvals: [{ approver: 'bob', decision: 'Approve', at: '2026-11-25T08:59:00Z' }],
      recheckAfterMs: 60_000,
    };
    const p = plan(g, observed(g, undefined, { decision }), clock.now());
    assert.equal(p.status?.requestedBy, 'alice@example.com');
    assert.match(p.status?.specHash ?? '', /^[0-9a-f]{64}$/);
    assert.deepEqual(
      p.status?.approvals?.map((a) => a.approver),
      ['bob'],
    );
    assert.equal(p.requeueAfterMs, 60_000);
  });

  it('planFailure rolls back everything the grant holds, and says which target failed', () => {
    const g = grant({ status: { ...ACTIVE, phase: 'Pending' } });
    const [first] = desiredArtefacts(g, ACTIVE.expiresAt!);
    const p = planFailure(
      g,
      observed(g, undefined, { artefacts: [first!] }),
      'RoleBinding billing/timebox-alice-debug-1a2b3c4d',
      'Forbidden',
      'cannot bind',
      clock.now(),
    );
    assert.equal(p.status?.phase, 'Failed');
    assert.deepEqual(p.revoke, [first]);
    assert.deepEqual(
      p.status?.targets?.map((t) => t.message),
      ['rolled back', 'cannot bind'],
    );
  });

  it('clips long provider errors to fit the status schema', () => {
    const g = grant({ status: { ...ACTIVE, phase: 'Pending' } });
    const huge = `forbidden: ${'rule '.repeat(2000)}`;
    const p = planFailure(
      g,
      observed(g),
      'RoleBinding payments/timebox-alice-debug-1a2b3c4d',
      'Forbidden',
      huge,
      clock.now(),
    );
    assert.ok((p.status?.conditions?.[0]?.message.length ?? 0) <= 1024);
    assert.ok(p.status?.targets?.every((t) => (t.message?.length ?? 0) <= 1024));
    assert.ok(p.status?.history?.every((h) => (h.message?.length ?? 0) <= 1024));
  });

  it('keeps lastTransitionTime when the Ready status does not change', () => {
    const g = grant({ status: { phase: 'Pending' } });
    const d1: Decision = { verdict: 'Pending', reason: 'AwaitingApproval', message: 'waiting' };
    const first = plan(g, observed(g, undefined, { decision: d1 }), clock.now()).status!;
    clock.advance(5_000);
    const second = plan(
      { ...g, status: first },
      observed(g, undefined, { decision: { ...d1, message: 'still waiting' } }),
      clock.now(),
    ).status!;
    assert.equal(
      second.conditions?.[0]?.lastTransitionTime,
      first.conditions?.[0]?.lastTransitionTime,
    );
    assert.equal(second.conditions?.[0]?.message, 'still waiting');
  });
});

describe('expiry', () => {
  const now = new Date('2026-11-25T09:00:00Z');
  it('reports a scheduled start', () => {
    const g = grant({ spec: { startAt: '2026-11-25T10:00:00Z' } });
    assert.deepEqual(expiryState(g, now), {
      kind: 'scheduled',
      startAt: '2026-11-25T10:00:00Z',
      msUntilStart: 3_600_000,
    });
  });
  it('reports running and expired grants', () => {
    assert.equal(expiryState(grant({ status: ACTIVE }), now).kind, 'running');
    assert.equal(
      expiryState(grant({ status: ACTIVE }), new Date('2026-11-25T11:00:00Z')).kind,
      'expired',
    );
  });
  it('treats a binding without a readable expires-at as due now', () => {
    assert.equal(msUntilBindingExpiry(undefined, now), 0);
    assert.equal(msUntilBindingExpiry({ 'timebox.dev/expires-at': 'soon' }, now), 0);
    assert.equal(
      msUntilBindingExpiry({ 'timebox.dev/expires-at': '2026-11-25T09:00:01Z' }, now),
      1000,
    );
  });
});
