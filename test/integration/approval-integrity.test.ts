import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { ApiException, CustomObjectsApi } from '@kubernetes/client-node';
import type { AccessGrant, AccessPolicy } from '../../src/api/v1alpha1/types.ts';
import { specHash } from '../../src/policy/evaluate.ts';
import type { Identity } from '../../src/sandbox/impersonation.ts';
import {
  ALICE,
  allowed,
  approvalAs,
  BOB,
  decideAs,
  refusal,
  requestAs,
} from '../support/requests.ts';
import { eventually } from '../support/wait.ts';
import {
  createAccessPolicy,
  createNamespace,
  grantsApi,
  roleBindingsOf,
  waitForPhase,
  withOperator,
} from '../support/timebox.ts';

/** Another requester under the same policies. */
const MALLORY: Identity = { user: 'mallory@example.com', groups: ['payments-oncall'] };
/** An approver, but of another policy. */
const DAVE: Identity = { user: 'dave@example.com', groups: ['other-leads'] };
const OPERATOR = 'timebox-operator-integrity';

/**
 * The attacks that once got through (see docs/approvals.md), replayed against
 * the sandbox as the attacker: each must be refused at admission, or leave the
 * real authorizer granting nothing beyond what was approved.
 */
describe('approval integrity: an approval grants exactly what was approved', function () {
  this.timeout(180_000);
  const suite = withOperator(OPERATOR);
  let ns: string;
  let manual: string;
  let open: string;

  async function policy(over: Partial<AccessPolicy['spec']> = {}): Promise<string> {
    const name = `int-${randomUUID().slice(0, 8)}`;
    await createAccessPolicy(suite.cluster.admin(), name, {
      requesters: { groups: ['payments-oncall'] },
      selfOnly: true,
      namespaces: [ns],
      access: [{ kubernetes: { clusterRoles: ['view', 'edit'], namespaces: [ns] } }],
      maxDuration: '4h',
      requireReason: true,
      allowPersistentEscalation: true,
      approval: { mode: 'Manual', approvers: { groups: ['payments-leads'] }, required: 1 },
      ...over,
    });
    return name;
  }

  beforeEach(async () => {
    ns = await createNamespace(suite.cluster, 'payments');
    manual = await policy();
    open = await policy({ selfOnly: false });
  });

  const grants = (who: Identity) => grantsApi(suite.cluster.as(who));
  const reasonOf = (g: AccessGrant) => g.status?.conditions?.find((c) => c.type === 'Ready');
  const view = (namespace: string) => [
    { kubernetes: { clusterRole: 'view', namespaces: [namespace] } },
  ];

  it('refuses any change to a pending request, even its requester’s', async () => {
    await grants(ALICE).create(requestAs(ALICE, ns, manual, 'pending', { access: view(ns) }));
    const swaps: Partial<AccessGrant['spec']>[] = [
      { access: [{ kubernetes: { clusterRole: 'edit', namespaces: [ns] } }] },
      { duration: '4h' },
      { subject: { kind: 'Group', name: 'system:authenticated' } },
      { reason: 'something else' },
      { startAt: '2026-01-01T00:00:00Z' },
    ];
    for (const spec of swaps) {
      const r = await refusal(grants(ALICE).patch(ns, 'pending', { spec }));
      assert.equal(r.code, 422, r.message);
      assert.match(r.message, /cannot change after creation, except setting 'revoked: true'/);
    }
  });

  it('never grants what was swapped in around the activation commit (the activation race)', async () => {
    // The original attack: pollers patch the spec while the approval lands, to hit
    // the moment between the commit of expiresAt and Active. Twenty rounds of
    // four pollers each; it took one to four to win before.
    const admin = await policy({
      access: [{ kubernetes: { clusterRoles: ['cluster-admin'], clusterWide: true } }],
      approval: { mode: 'Manual', approvers: { groups: ['platform-leads'] }, required: 2 },
    });
    const swaps: unknown[] = [
      { spec: { access: [{ kubernetes: { clusterRole: 'edit', namespaces: [ns] } }] } },
      { spec: { subject: { kind: 'Group', name: 'system:authenticated' } } },
      {
        spec: {
          policy: admin,
          access: [{ kubernetes: { clusterRole: 'cluster-admin', clusterWide: true } }],
        },
      },
      { spec: { duration: '4h' } },
    ];
    let attempts = 0;
    let accepted = 0;
    for (let round = 0; round < 20; round++) {
      const name = `race-${round}`;
      await grants(ALICE).create(requestAs(ALICE, ns, manual, name, { access: view(ns) }));
      let done = false;
      const pollers = swaps.map(async (body) => {
        while (!done) {
          attempts++;
          await grants(ALICE)
            .patch(ns, name, body)
            .then(
              () => accepted++,
              (err: unknown) => {
                if (!(err instanceof ApiException) || err.code !== 422) throw err;
              },
            );
        }
      });
      await decideAs(suite.cluster, BOB, ns, name);
      const active = await waitForPhase(suite.cluster, ns, name, 'Active').finally(
        () => (done = true),
      );
      await Promise.all(pollers);
      assert.deepEqual(active.spec.access, view(ns), 'the spec is the one approved');
      assert.equal(active.status?.specHash, specHash(active.spec));
      assert.deepEqual(
        active.status?.approvals?.map((a) => [a.approver, a.specHash]),
        [[BOB.user, specHash(active.spec)]],
      );
    }
    assert.ok(attempts >= 20, `the pollers ran (${attempts} attempts)`);
    assert.equal(accepted, 0, 'no swap was accepted');
    // The real authorizer's view: Alice can read (view) and nothing more.
    assert.equal(await allowed(suite.cluster, ALICE, 'list', 'pods', ns), true);
    assert.equal(await allowed(suite.cluster, ALICE, 'create', 'configmaps', ns), false);
    assert.equal(await allowed(suite.cluster, ALICE, 'list', 'secrets'), false);
    assert.equal(await allowed(suite.cluster, { user: 'anyone' }, 'list', 'pods', ns), false);
  });

  it('lets only the requester change a grant, and only to revoke it', async () => {
    const created = await grants(ALICE).create(
      requestAs(ALICE, ns, open, 'alices', { access: view(ns) }),
    );
    // The identity webhook puts the controller's finalizer on it as it is made:
    // deleting it revokes first, from the very first moment.
    assert.deepEqual(created.metadata.finalizers, ['timebox.dev/revoke-access']);
    // Another requester takes over the subject of Alice's pending request, or
    // withdraws it, or just touches it.
    const takeover = await refusal(
      grants(MALLORY).patch(ns, 'alices', {
        spec: { subject: { kind: 'User', name: MALLORY.user } },
      }),
    );
    assert.equal(takeover.code, 422);
    for (const body of [
      { spec: { revoked: true } },
      { metadata: { labels: { team: 'mallory' } } },
    ]) {
      const r = await refusal(grants(MALLORY).patch(ns, 'alices', body));
      assert.equal(r.code, 403);
      assert.match(
        r.message,
        /only the requester of this AccessGrant \(alice@example.com\) may change it, and only to set spec.revoked: true/,
      );
    }
    await decideAs(suite.cluster, BOB, ns, 'alices');
    await waitForPhase(suite.cluster, ns, 'alices', 'Active');
    // Neither another requester nor an approver ends it by editing it...
    for (const who of [MALLORY, BOB]) {
      const r = await refusal(grants(who).patch(ns, 'alices', { spec: { revoked: true } }));
      assert.equal(r.code, 403, who.user);
      assert.match(r.message, /AccessApproval of decision Revoke \(timebox revoke NAME\)/);
    }
    // ...nor pins it, or its namespace, with a finalizer, nor removes one.
    for (const [who, finalizers] of [
      [MALLORY, ['example.com/block', 'timebox.dev/revoke-access']],
      [ALICE, ['example.com/block', 'timebox.dev/revoke-access']],
      [ALICE, []],
    ] as const) {
      const r = await refusal(
        grants(who).patch(ns, 'alices', { metadata: { finalizers: [...finalizers] } }),
      );
      assert.equal(r.code, 403, `${who.user} ${finalizers.join(',')}`);
    }
    // Nor on a grant or an approval of one's own, at creation.
    const pinned = requestAs(ALICE, ns, open, 'pinned', { access: view(ns) });
    pinned.metadata.finalizers = ['example.com/block'];
    const atCreation = await refusal(grants(ALICE).create(pinned));
    assert.equal(atCreation.code, 403);
    assert.match(atCreation.message, /may carry only Timebox's own finalizer/);
    const own = await refusal(
      grants(ALICE).patch(ns, 'alices', { metadata: { finalizers: ['example.com/block'] } }),
    );
    assert.match(own.message, /finalizers of an AccessGrant belong to the Timebox controller/);
    assert.equal(await allowed(suite.cluster, ALICE, 'list', 'pods', ns), true, 'still granted');
    // Alice herself may revoke.
    await grants(ALICE).patch(ns, 'alices', { spec: { revoked: true } });
    const revoked = await waitForPhase(suite.cluster, ns, 'alices', 'Revoked');
    assert.equal(reasonOf(revoked)?.reason, 'RevokedByUser');
    assert.equal(await allowed(suite.cluster, ALICE, 'list', 'pods', ns), false);
  });

  it('lets an approver of the policy end a grant with decision Revoke, and only them', async () => {
    await grants(ALICE).create(requestAs(ALICE, ns, manual, 'ended', { access: view(ns) }));
    await decideAs(suite.cluster, BOB, ns, 'ended');
    await waitForPhase(suite.cluster, ns, 'ended', 'Active');
    // An approver of another policy, and another requester, first: they must not count.
    await decideAs(suite.cluster, DAVE, ns, 'ended', { decision: 'Revoke', comment: 'dave' });
    await decideAs(suite.cluster, MALLORY, ns, 'ended', { decision: 'Revoke', comment: 'mallory' });
    await decideAs(suite.cluster, BOB, ns, 'ended', {
      decision: 'Revoke',
      comment: 'incident over',
    });
    const revoked = await waitForPhase(suite.cluster, ns, 'ended', 'Revoked');
    assert.equal(reasonOf(revoked)?.reason, 'RevokedByApprover');
    assert.match(
      reasonOf(revoked)?.message ?? '',
      /revoked by bob@example.com, an approver of AccessPolicy '.*': incident over/,
    );
    assert.deepEqual(
      revoked.status?.approvals?.map((a) => [a.approver, a.decision]),
      [
        [BOB.user, 'Approve'],
        [BOB.user, 'Revoke'],
      ],
    );
    assert.match(revoked.status?.history?.at(-1)?.message ?? '', /revoked by bob@example.com/);
    assert.equal(await allowed(suite.cluster, ALICE, 'list', 'pods', ns), false);
  });

  it('lets only its approver withdraw an approval, which ends a grant that needed it', async () => {
    await grants(ALICE).create(requestAs(ALICE, ns, manual, 'withdrawn', { access: view(ns) }));
    const approval = await decideAs(suite.cluster, BOB, ns, 'withdrawn');
    await waitForPhase(suite.cluster, ns, 'withdrawn', 'Active');
    const approvals = (who: Identity) => suite.cluster.as(who).makeApiClient(CustomObjectsApi);
    const target = {
      group: 'timebox.dev',
      version: 'v1alpha1',
      plural: 'accessapprovals',
      namespace: ns,
      name: approval.metadata.name!,
    };
    // Another approver (of another policy) and another requester try to pull it.
    for (const who of [DAVE, MALLORY]) {
      const r = await refusal(approvals(who).deleteNamespacedCustomObject(target));
      assert.equal(r.code, 403, who.user);
      assert.match(
        r.message,
        /only its approver \(bob@example.com\) may withdraw this AccessApproval/,
      );
    }
    assert.equal(await allowed(suite.cluster, ALICE, 'list', 'pods', ns), true, 'still granted');
    await approvals(BOB).deleteNamespacedCustomObject(target);
    const ended = await waitForPhase(suite.cluster, ns, 'withdrawn', 'Revoked');
    assert.equal(reasonOf(ended)?.reason, 'NoLongerApproved');
    await eventually(async () => !(await allowed(suite.cluster, ALICE, 'list', 'pods', ns)), {
      what: 'access to end',
    });
  });

  it('does not count an approver who is in the subject group, and says why', async () => {
    const leads = await policy({
      selfOnly: false,
      subjects: { groups: ['payments-leads'] },
      approval: { mode: 'Manual', approvers: { groups: ['payments-leads', 'other-leads'] } },
    });
    await grants(ALICE).create(
      requestAs(ALICE, ns, leads, 'for-leads', {
        subject: { kind: 'Group', name: 'payments-leads' },
      }),
    );
    // Bob hides his membership of the subject group: admission refuses.
    const hidden = await refusal(decideAs(suite.cluster, BOB, ns, 'for-leads', { groups: [] }));
    assert.equal(hidden.code, 403);
    assert.match(hidden.message, /spec.approverGroups must list all of your groups/);
    await decideAs(suite.cluster, BOB, ns, 'for-leads');
    await eventually(
      async () =>
        /not counted: bob@example.com is in the subject group payments-leads/.test(
          reasonOf(await grantsApi(suite.cluster.admin()).get(ns, 'for-leads'))?.message ?? '',
        ),
      { what: 'the reason Bob is not counted' },
    );
    assert.equal(await allowed(suite.cluster, BOB, 'create', 'configmaps', ns), false);
    // Someone outside the group approves: that counts.
    await decideAs(suite.cluster, DAVE, ns, 'for-leads');
    await waitForPhase(suite.cluster, ns, 'for-leads', 'Active');
    // The authorizer's cache follows the new binding within moments.
    await eventually(() => allowed(suite.cluster, BOB, 'create', 'configmaps', ns), {
      what: 'the subject group to get edit',
    });
  });

  it('never grants a grant whose window is over, however often it is re-applied', async () => {
    const auto = await policy({ approval: { mode: 'Auto' } });
    const hourAgo = new Date(Date.now() - 3600_000).toISOString();
    // Created after its window (e.g. rebuilt from Git): nothing, ever.
    await grants(ALICE).create(
      requestAs(ALICE, ns, auto, 'past', { startAt: hourAgo, duration: '30m', access: view(ns) }),
    );
    const past = await waitForPhase(suite.cluster, ns, 'past', 'Expired');
    assert.equal(reasonOf(past)?.reason, 'WindowPassed');
    assert.equal(past.status?.activatedAt, undefined);

    // Inside its window: only what is left of it.
    await grants(ALICE).create(
      requestAs(ALICE, ns, auto, 'late', { startAt: hourAgo, duration: '90m', access: view(ns) }),
    );
    const active = await waitForPhase(suite.cluster, ns, 'late', 'Active');
    assert.equal(
      active.status?.expiresAt,
      new Date(Date.parse(hourAgo) + 90 * 60_000).toISOString(),
    );
    // Expired and deleted, then re-applied as Argo CD self-heal would: nothing again.
    const short = requestAs(ALICE, ns, auto, 'reapplied', {
      startAt: new Date(Date.now() - 1000).toISOString(),
      duration: '3s',
      access: view(ns),
    });
    const first = await grants(ALICE).create(structuredClone(short));
    await waitForPhase(suite.cluster, ns, 'reapplied', 'Expired');
    await grantsApi(suite.cluster.admin()).delete(ns, 'reapplied');
    await eventually(
      async () =>
        grantsApi(suite.cluster.admin())
          .get(ns, 'reapplied')
          .then(
            () => false,
            () => true,
          ),
      { what: 'the grant to be gone' },
    );
    const again = await grants(ALICE).create(structuredClone(short));
    assert.notEqual(again.metadata.uid, first.metadata.uid);
    const ended = await waitForPhase(suite.cluster, ns, 'reapplied', 'Expired');
    assert.equal(reasonOf(ended)?.reason, 'WindowPassed');
    assert.deepEqual(await roleBindingsOf(suite.cluster, ns, again.metadata.uid!), []);
  });

  it('bounds how far ahead a grant may start, and sleeps soundly on a far start', async () => {
    const auto = await policy({ approval: { mode: 'Auto' }, maxScheduleAhead: '2000h' });
    await grants(ALICE).create(
      requestAs(ALICE, ns, manual, 'forever', { startAt: '9999-12-31T00:00:00Z' }),
    );
    const forever = await waitForPhase(suite.cluster, ns, 'forever', 'Denied');
    assert.equal(reasonOf(forever)?.reason, 'ScheduledTooFarAhead');
    assert.match(reasonOf(forever)?.message ?? '', /maxScheduleAhead 168h/);

    // Thirty days ahead, beyond what one setTimeout can wait: a timer that
    // overflowed used to fire every millisecond, reconciling without end.
    const month = new Date(Date.now() + 30 * 24 * 3600_000).toISOString();
    await grants(ALICE).create(requestAs(ALICE, ns, auto, 'next-month', { startAt: month }));
    await eventually(
      async () =>
        reasonOf(await grantsApi(suite.cluster.admin()).get(ns, 'next-month'))?.reason ===
        'Scheduled',
      { what: 'the grant to be Scheduled' },
    );
    // Barrier: a later grant is processed, so the first one's timer is set.
    await grants(ALICE).create(requestAs(ALICE, ns, auto, 'barrier', { access: view(ns) }));
    await waitForPhase(suite.cluster, ns, 'barrier', 'Active');
    assert.doesNotMatch(suite.operator.logs, /TimeoutOverflowWarning/);
  });

  it('lets approvals of a scheduled grant lapse (approval.validFor)', async () => {
    const lapsing = await policy({
      approval: {
        mode: 'Manual',
        approvers: { groups: ['payments-leads'] },
        required: 1,
        validFor: '2s',
      },
    });
    const startAt = new Date(Date.now() + 4_000).toISOString();
    await grants(ALICE).create(
      requestAs(ALICE, ns, lapsing, 'lapsed', { startAt, access: view(ns) }),
    );
    await decideAs(suite.cluster, BOB, ns, 'lapsed');
    // Approved now, but by the start the approval is older than validFor.
    await eventually(
      async () =>
        /1 approval\(s\) older than the validFor 2s ignored/.test(
          reasonOf(await grantsApi(suite.cluster.admin()).get(ns, 'lapsed'))?.message ?? '',
        ),
      { what: 'the lapsed approval to be ignored', timeoutMs: 15_000 },
    );
    const g = await grantsApi(suite.cluster.admin()).get(ns, 'lapsed');
    assert.equal(g.status?.phase, 'Pending');
    assert.equal(g.status?.activatedAt, undefined);
    // A fresh approval, inside validFor, activates it.
    await decideAs(suite.cluster, BOB, ns, 'lapsed', { comment: 'still needed' });
    await waitForPhase(suite.cluster, ns, 'lapsed', 'Active');
  });

  it('refuses approvals that do not name the full hash of a spec', async () => {
    await grants(ALICE).create(requestAs(ALICE, ns, manual, 'hashed'));
    const g = await grantsApi(suite.cluster.admin()).get(ns, 'hashed');
    const short = await refusal(
      approvalAs(suite.cluster, BOB, ns, {
        metadata: { name: 'short' },
        spec: {
          grantRef: {
            name: 'hashed',
            uid: g.metadata.uid!,
            specHash: specHash(g.spec).slice(0, 16),
          },
          decision: 'Approve',
          approver: BOB.user,
          approverGroups: BOB.groups!,
        },
      }),
    );
    assert.equal(short.code, 422);
    assert.match(short.message, /must be the full SHA-256 of the spec you reviewed/);
    // An approval of what Bob was shown earlier (a smaller request) does not count.
    await decideAs(suite.cluster, BOB, ns, 'hashed', {
      reviewed: { ...g.spec, access: view(ns) },
    });
    await eventually(
      async () =>
        /1 approval\(s\) of another version of the spec ignored/.test(
          reasonOf(await grantsApi(suite.cluster.admin()).get(ns, 'hashed'))?.message ?? '',
        ),
      { what: 'the approval of another version to be ignored' },
    );
    assert.equal(await allowed(suite.cluster, ALICE, 'create', 'configmaps', ns), false);
  });
});
