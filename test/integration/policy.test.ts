import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import {
  ApiException,
  CustomObjectsApi,
  PatchStrategy,
  setHeaderOptions,
} from '@kubernetes/client-node';
import {
  GROUP,
  VERSION,
  type AccessGrant,
  type AccessPolicy,
} from '../../src/api/v1alpha1/types.ts';
import type { Identity } from '../../src/sandbox/impersonation.ts';
import { ALICE, BOB, CAROL, decideAs, requestAs } from '../support/requests.ts';
import { eventually } from '../support/wait.ts';
import {
  canListPods,
  createAccessPolicy,
  createNamespace,
  GITOPS_USER,
  grantsApi,
  waitForPhase,
  withOperator,
  operatorCaughtUp,
} from '../support/timebox.ts';

const MALLORY: Identity = { user: 'mallory@example.com', groups: ['interns'] };
const OPERATOR = 'timebox-operator-policy';

async function expectRejected(p: Promise<unknown>, code: number, message: RegExp): Promise<void> {
  try {
    await p;
  } catch (err) {
    assert.ok(err instanceof ApiException, String(err));
    assert.equal(err.code, code, String(err.body));
    assert.match(String(err.body), message);
    return;
  }
  assert.fail('admission accepted it');
}

describe('AccessPolicy and AccessApproval', function () {
  this.timeout(120_000);
  const suite = withOperator(OPERATOR);
  let ns: string;

  beforeEach(async () => {
    ns = await createNamespace(suite.cluster, 'payments');
  });

  const custom = () => suite.cluster.admin().makeApiClient(CustomObjectsApi);

  async function createPolicy(over: Partial<AccessPolicy['spec']> = {}): Promise<string> {
    const name = `pol-${randomUUID().slice(0, 8)}`;
    await createAccessPolicy(suite.cluster.admin(), name, {
      requesters: { groups: ['payments-oncall'] },
      selfOnly: true,
      namespaces: [ns],
      access: [{ kubernetes: { clusterRoles: ['view', 'edit'], namespaces: [ns] } }],
      maxDuration: '4h',
      requireReason: true,
      allowPersistentEscalation: true,
      approval: {
        mode: 'Manual',
        approvers: { groups: ['payments-leads'] },
        required: 1,
        pendingTimeout: '24h',
      },
      ...over,
    });
    return name;
  }

  const request = (
    who: Identity,
    policy: string,
    name: string,
    spec: Partial<AccessGrant['spec']> = {},
  ) => requestAs(who, ns, policy, name, spec);

  const approve = (
    who: Identity,
    g: AccessGrant,
    decision: 'Approve' | 'Deny' = 'Approve',
    approver = who.user,
    groups = who.groups,
  ) =>
    decideAs(suite.cluster, who, ns, g.metadata.name!, {
      decision,
      approver,
      ...(groups ? { groups } : {}),
    });

  it('activates a request under an Auto policy at once, recording who asked', async () => {
    const policy = await createPolicy({ approval: { mode: 'Auto' } });
    await grantsApi(suite.cluster.as(ALICE)).create(request(ALICE, policy, 'auto'));
    const g = await waitForPhase(suite.cluster, ns, 'auto', 'Active');
    assert.equal(g.status?.requestedBy, ALICE.user);
    assert.equal(g.status?.conditions?.find((c) => c.type === 'Ready')?.status, 'True');
    assert.equal(await canListPods(suite.cluster, ALICE.user, ns), true);
  });

  it('takes who asked from the API server: stamped when left out, refused when forged', async () => {
    const policy = await createPolicy({ approval: { mode: 'Auto' } });
    const alice = grantsApi(suite.cluster.as(ALICE));
    const unsigned = request(ALICE, policy, 'unsigned');
    unsigned.metadata.annotations = {};
    const stamped = await alice.create(unsigned);
    assert.deepEqual(stamped.metadata.annotations, {
      'timebox.dev/created-by': ALICE.user,
      'timebox.dev/requested-by': ALICE.user,
      'timebox.dev/requester-groups': 'payments-oncall',
    });
    const creator = request(ALICE, policy, 'created-by-bob');
    creator.metadata.annotations!['timebox.dev/created-by'] = BOB.user;
    await expectRejected(alice.create(creator), 403, /created-by must be you/);
    const forged = request(ALICE, policy, 'forged');
    forged.metadata.annotations!['timebox.dev/requested-by'] = BOB.user;
    await expectRejected(alice.create(forged), 403, /must be your user name/);
    const groups = request(ALICE, policy, 'claims-leads');
    groups.metadata.annotations!['timebox.dev/requester-groups'] = 'payments-leads';
    await expectRejected(
      alice.create(groups),
      403,
      /may list only your own groups: payments-oncall, system:authenticated/,
    );
    const gitops = request(ALICE, policy, 'fake-gitops');
    gitops.metadata.annotations!['timebox.dev/gitops'] = 'true';
    await expectRejected(alice.create(gitops), 403, /only the trusted GitOps identities/);
  });

  it('waits for an approver under a Manual policy; self-approval and forged approvals do not count', async () => {
    const policy = await createPolicy();
    const g = await grantsApi(suite.cluster.as(ALICE)).create(request(ALICE, policy, 'manual'));
    await eventually(
      async () =>
        (await grantsApi(suite.cluster.admin()).get(ns, 'manual')).status?.conditions?.[0]
          ?.reason === 'AwaitingApproval',
      {
        what: 'AwaitingApproval',
      },
    );
    assert.equal(await canListPods(suite.cluster, ALICE.user, ns), false);

    // Alice approves herself: admission lets her speak for herself, the controller ignores it.
    await approve({ user: ALICE.user, groups: ['payments-oncall'] }, g);
    // Mallory signs as Bob: admission refuses.
    await expectRejected(
      approve(MALLORY, g, 'Approve', BOB.user),
      403,
      /spec\.approver must be you: set it to \\"mallory@example.com\\"/,
    );
    // Mallory claims to be a lead: admission refuses.
    await expectRejected(
      approve(MALLORY, g, 'Approve', MALLORY.user, ['payments-leads']),
      403,
      /approverGroups may list only your own groups/,
    );
    // A barrier, not a sleep: the operator has judged alice's own approval.
    const waiting = await eventually(
      async () => {
        const g = await grantsApi(suite.cluster.admin()).get(ns, 'manual');
        return /not counted: alice@example.com asked for it/.test(
          g.status?.conditions?.[0]?.message ?? '',
        )
          ? g
          : undefined;
      },
      { what: "the operator to judge alice's own approval" },
    );
    assert.equal(waiting.status?.phase, 'Pending');
    assert.match(
      waiting.status?.conditions?.[0]?.message ?? '',
      /0 of 1 .* not counted: alice@example.com asked for it/,
    );

    await approve(BOB, g);
    const active = await waitForPhase(suite.cluster, ns, 'manual', 'Active');
    assert.deepEqual(
      active.status?.approvals?.map((a) => [a.approver, a.decision]),
      [[BOB.user, 'Approve']],
    );
    assert.equal(await canListPods(suite.cluster, ALICE.user, ns), true);
  });

  it('needs two distinct approvers for 2-of-3', async () => {
    const policy = await createPolicy({
      approval: {
        mode: 'Manual',
        approvers: { users: [BOB.user, CAROL.user, 'dave@example.com'] },
        required: 2,
      },
    });
    const g = await grantsApi(suite.cluster.as(ALICE)).create(
      request(ALICE, policy, 'two-of-three'),
    );
    await approve(BOB, g);
    await approve(BOB, g);
    await eventually(
      async () =>
        /1 of 2/.test(
          (await grantsApi(suite.cluster.admin()).get(ns, 'two-of-three')).status?.conditions?.[0]
            ?.message ?? '',
        ),
      {
        what: 'one approval counted',
      },
    );
    assert.equal(
      (await grantsApi(suite.cluster.admin()).get(ns, 'two-of-three')).status?.phase,
      'Pending',
    );
    await approve(CAROL, g);
    await waitForPhase(suite.cluster, ns, 'two-of-three', 'Active');
  });

  it('ends the request on a Deny', async () => {
    const policy = await createPolicy();
    const g = await grantsApi(suite.cluster.as(ALICE)).create(request(ALICE, policy, 'denied'));
    await approve(BOB, g, 'Deny');
    const denied = await waitForPhase(suite.cluster, ns, 'denied', 'Denied');
    assert.equal(denied.status?.conditions?.[0]?.reason, 'DeniedByApprover');
    assert.match(
      denied.status?.conditions?.[0]?.message ?? '',
      /denied by bob@example.com: not during the freeze/,
    );
    // Terminal: a later approval changes nothing.
    await approve(CAROL, g);
    await operatorCaughtUp(suite.cluster, ns);
    assert.equal(
      (await grantsApi(suite.cluster.admin()).get(ns, 'denied')).status?.phase,
      'Denied',
    );
  });

  it('denies a request nobody approves within pendingTimeout', async () => {
    const policy = await createPolicy({
      approval: { mode: 'Manual', approvers: { groups: ['payments-leads'] }, pendingTimeout: '3s' },
    });
    await grantsApi(suite.cluster.as(ALICE)).create(request(ALICE, policy, 'stale'));
    const denied = await waitForPhase(suite.cluster, ns, 'stale', 'Denied', 10_000);
    assert.equal(denied.status?.conditions?.[0]?.reason, 'PendingTimeout');
  });

  it('denies what the policy does not allow, saying what to fix', async () => {
    const policy = await createPolicy({ approval: { mode: 'Auto' } });
    const alice = grantsApi(suite.cluster.as(ALICE));
    const cases: [string, Partial<AccessGrant['spec']>, string, RegExp][] = [
      [
        'outside',
        { access: [{ kubernetes: { clusterRole: 'admin', namespaces: [ns] } }] },
        'AccessNotAllowed',
        /spec\.access\[0\] \(kubernetes: ClusterRole admin/,
      ],
      [
        'too-long',
        { duration: '6h' },
        'DurationTooLong',
        /exceeds the maxDuration 4h .* request at most 4h/,
      ],
      ['no-reason', { reason: '' }, 'ReasonRequired', /requires spec\.reason/],
      ['for-bob', { subject: { kind: 'User', name: BOB.user } }, 'NotSelf', /selfOnly/],
    ];
    for (const [name, spec] of cases) {
      await alice.create(request(ALICE, policy, name, spec));
    }
    for (const [name, , reason, message] of cases) {
      const g = await waitForPhase(suite.cluster, ns, name, 'Denied');
      assert.equal(g.status?.conditions?.[0]?.reason, reason, name);
      assert.match(g.status?.conditions?.[0]?.message ?? '', message, name);
    }
    assert.equal(await canListPods(suite.cluster, ALICE.user, ns), false, 'nothing was granted');
  });

  it('denies a request from someone who is not a requester of the policy', async () => {
    const policy = await createPolicy({ approval: { mode: 'Auto' } });
    await grantsApi(suite.cluster.as(MALLORY)).create(request(MALLORY, policy, 'intern'));
    const g = await waitForPhase(suite.cluster, ns, 'intern', 'Denied');
    assert.equal(g.status?.conditions?.[0]?.reason, 'NotEligible');
    assert.match(
      g.status?.conditions?.[0]?.message ?? '',
      /mallory@example.com \(groups interns\) is not a requester/,
    );
    assert.equal(await canListPods(suite.cluster, MALLORY.user, ns), false);
  });

  it('revokes active grants that an edited or deleted policy no longer allows', async () => {
    const policy = await createPolicy({ approval: { mode: 'Auto' } });
    await grantsApi(suite.cluster.as(ALICE)).create(
      request(ALICE, policy, 'edited', { duration: '3h' }),
    );
    await waitForPhase(suite.cluster, ns, 'edited', 'Active');
    assert.equal(await canListPods(suite.cluster, ALICE.user, ns), true);
    await custom().patchClusterCustomObject(
      {
        group: GROUP,
        version: VERSION,
        plural: 'accesspolicies',
        name: policy,
        body: { spec: { maxDuration: '1h' } },
      },
      setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
    );
    const revoked = await waitForPhase(suite.cluster, ns, 'edited', 'Revoked');
    assert.equal(revoked.status?.conditions?.[0]?.reason, 'PolicyChanged');
    assert.match(revoked.status?.conditions?.[0]?.message ?? '', /exceeds the maxDuration 1h/);
    assert.equal(await canListPods(suite.cluster, ALICE.user, ns), false);

    const other = await createPolicy({ approval: { mode: 'Auto' } });
    await grantsApi(suite.cluster.as(ALICE)).create(request(ALICE, other, 'orphaned'));
    await waitForPhase(suite.cluster, ns, 'orphaned', 'Active');
    await custom().deleteClusterCustomObject({
      group: GROUP,
      version: VERSION,
      plural: 'accesspolicies',
      name: other,
    });
    const gone = await waitForPhase(suite.cluster, ns, 'orphaned', 'Revoked');
    assert.equal(gone.status?.conditions?.[0]?.reason, 'PolicyDeleted');
  });

  describe('GitOps grants', () => {
    const viaGit = (
      policy: string,
      name: string,
      requester: Identity,
      subject = requester.user,
    ) => {
      const g = request(requester, policy, name, {
        subject: { kind: 'User', name: subject },
        startAt: new Date(Date.now() - 1000).toISOString(),
      });
      g.metadata.annotations = {
        'timebox.dev/requested-by': requester.user,
        'timebox.dev/requester-groups': (requester.groups ?? []).join(','),
        'timebox.dev/gitops': 'true',
      };
      return g;
    };
    const gitops = () => grantsApi(suite.cluster.as({ user: GITOPS_USER }));
    const reviewed = { allowed: true, reviewApproves: true };
    // Groups written in Git are nobody's verified word: GitOps requesters count by name.
    const byName = { users: [ALICE.user] };

    it('are refused unless the policy opts in, whoever they claim to come from', async () => {
      // The original attack: a GitOps token, a grant "requested by" the CEO for
      // someone else, under a Manual selfOnly policy.
      const policy = await createPolicy();
      await gitops().create(viaGit(policy, 'ceo', { user: 'ceo@example.com' }, MALLORY.user));
      const g = await waitForPhase(suite.cluster, ns, 'ceo', 'Denied');
      assert.equal(g.status?.conditions?.[0]?.reason, 'GitOpsNotAllowed');
      assert.equal(await canListPods(suite.cluster, MALLORY.user, ns), false);
    });

    it('need a window, an eligible requester, and selfOnly holds for them', async () => {
      const policy = await createPolicy({ requesters: byName, gitops: reviewed });
      const noWindow = viaGit(policy, 'no-window', ALICE);
      delete noWindow.spec.startAt;
      // Without a fixed window, a grant Git re-applies after deletion would grant again.
      await expectRejected(
        gitops().create(noWindow),
        422,
        /spec.startAt is required in a grant from GitOps/,
      );
      await gitops().create(viaGit(policy, 'from-stranger', { user: 'pr-author@example.com' }));
      await gitops().create(viaGit(policy, 'for-mallory', ALICE, MALLORY.user));
      assert.equal(
        (await waitForPhase(suite.cluster, ns, 'from-stranger', 'Denied')).status?.conditions?.[0]
          ?.reason,
        'NotEligible',
      );
      assert.equal(
        (await waitForPhase(suite.cluster, ns, 'for-mallory', 'Denied')).status?.conditions?.[0]
          ?.reason,
        'NotSelf',
      );
      await gitops().create(viaGit(policy, 'from-git', ALICE));
      const g = await waitForPhase(suite.cluster, ns, 'from-git', 'Active');
      assert.equal(g.status?.requestedBy, ALICE.user);
      assert.equal(g.metadata.annotations?.['timebox.dev/created-by'], GITOPS_USER);
      assert.match(
        g.status?.history?.find((h) => h.phase === 'Pending')?.message ?? '',
        new RegExp(`created by the GitOps identity ${GITOPS_USER} for ${ALICE.user}`),
      );
    });

    it('are GitOps grants even when the GitOps identity leaves the mark out', async () => {
      const policy = await createPolicy({ approval: { mode: 'Auto' } });
      const unmarked = viaGit(policy, 'unmarked', ALICE);
      delete unmarked.metadata.annotations!['timebox.dev/gitops'];
      await expectRejected(
        gitops().create(structuredClone(unmarked)),
        422,
        /must say so with timebox.dev\/gitops: \\"true\\"/,
      );
      const maybe = viaGit(policy, 'maybe', ALICE);
      maybe.metadata.annotations!['timebox.dev/gitops'] = 'false';
      await expectRejected(gitops().create(maybe), 422, /timebox.dev\/gitops: \\"true\\"/);
    });

    it('still need approvals unless the policy takes the review as one', async () => {
      const policy = await createPolicy({ requesters: byName, gitops: { allowed: true } });
      const g = await gitops().create(viaGit(policy, 'needs-approval', ALICE));
      await eventually(
        async () =>
          (await grantsApi(suite.cluster.admin()).get(ns, 'needs-approval')).status?.conditions?.[0]
            ?.reason === 'AwaitingApproval',
        { what: 'AwaitingApproval' },
      );
      await approve(BOB, g);
      await waitForPhase(suite.cluster, ns, 'needs-approval', 'Active');
    });

    it('come only from the identities the policy names', async () => {
      const policy = await createPolicy({
        requesters: byName,
        gitops: { ...reviewed, identities: ['system:serviceaccount:argocd:*'] },
      });
      await gitops().create(viaGit(policy, 'other-tool', ALICE));
      const g = await waitForPhase(suite.cluster, ns, 'other-tool', 'Denied');
      assert.equal(g.status?.conditions?.[0]?.reason, 'GitOpsIdentityNotTrusted');
      assert.match(g.status?.conditions?.[0]?.message ?? '', new RegExp(`not from ${GITOPS_USER}`));
    });
  });
});
