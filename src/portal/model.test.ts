import assert from 'node:assert/strict';
import { aGrant, aPolicy } from '../api/v1alpha1/testing.ts';
import type { AccessGrant, AccessPolicy } from '../api/v1alpha1/types.ts';
import { precheck } from '../policy/precheck.ts';
import {
  approvalWords,
  awaitingMe,
  cannotDecide,
  draftFromForm,
  eligiblePolicies,
  myGrants,
  policyChoices,
} from './model.ts';

const alice = { user: 'alice@example.com', groups: ['payments-oncall'] };
const bob = { user: 'bob@example.com', groups: ['payments-leads'] };

const oncall = aPolicy({
  spec: {
    requireReason: true,
    approval: { mode: 'Manual', approvers: { groups: ['payments-leads'] }, required: 1 },
  },
});
const auto: AccessPolicy = {
  metadata: { name: 'a-readonly' },
  spec: {
    ...oncall.spec,
    requesters: { users: ['alice@example.com'] },
    approval: { mode: 'Auto' },
  },
};
const other: AccessPolicy = {
  metadata: { name: 'db' },
  spec: { ...oncall.spec, requesters: { groups: ['dba'] } },
};

const NOW = new Date('2026-11-27T10:00:00Z');

function made(form: Parameters<typeof draftFromForm>[0]): AccessGrant {
  const d = draftFromForm(form, alice, 'abcd');
  assert.ok('grant' in d, JSON.stringify(d));
  return d.grant;
}

describe('portal model', () => {
  it('offers the policies a person may request under, and what each allows', () => {
    assert.deepEqual(
      eligiblePolicies([oncall, other, auto], alice).map((p) => p.metadata.name),
      ['a-readonly', 'payments-oncall'],
    );
    assert.deepEqual(eligiblePolicies([oncall, other], bob), []);
    const c = policyChoices(oncall, alice);
    assert.deepEqual(
      c.kinds.map((k) => [k.title, k.fields.map((f) => `${f.option}=${f.choices.join('|')}`)]),
      [['Kubernetes RBAC', ['cluster-role=view|edit', 'target-namespace=payments']]],
    );
    assert.deepEqual(c.namespaces, ['payments']);
    assert.deepEqual(c.durations, ['15m', '30m', '1h', '2h', '4h']);
    assert.equal(c.requireReason, true);
    assert.equal(c.approval, '1 approval from group payments-leads');
    assert.equal(approvalWords(auto), 'approved automatically');
  });

  it('makes the grant a form asks for, as the person, and the policy judges it', () => {
    const g = made({
      policy: 'payments-oncall',
      namespace: 'payments',
      'cluster-role': 'edit',
      duration: '1h',
      reason: 'INC-1',
    });
    assert.equal(g.metadata.name, 'alice-edit-abcd');
    assert.equal(g.metadata.annotations?.['timebox.dev/requested-by'], 'alice@example.com');
    assert.deepEqual(g.spec.subject, { kind: 'User', name: 'alice@example.com' });
    assert.deepEqual(g.spec.access, [
      { kubernetes: { clusterRole: 'edit', namespaces: ['payments'] } },
    ]);
    assert.equal(precheck(g, [oncall], NOW)[0]!.decision.verdict, 'Pending');
    // The controller's own words for what the policy refuses.
    const long = made({
      policy: 'payments-oncall',
      namespace: 'payments',
      'cluster-role': 'edit',
      duration: '6h',
      reason: 'x',
    });
    assert.match(precheck(long, [oncall], NOW)[0]!.decision.message, /exceeds the maxDuration 4h/);
    const noReason = made({
      policy: 'payments-oncall',
      namespace: 'payments',
      'cluster-role': 'edit',
      duration: '1h',
    });
    assert.match(precheck(noReason, [oncall], NOW)[0]!.decision.message, /reason/);
    const admin = made({
      policy: 'payments-oncall',
      namespace: 'payments',
      'cluster-role': 'admin',
      duration: '1h',
      reason: 'x',
    });
    assert.equal(precheck(admin, [oncall], NOW)[0]!.decision.verdict, 'Denied');
  });

  it('says what is wrong with a form, and makes nothing', () => {
    const errors = (f: Parameters<typeof draftFromForm>[0]) => {
      const d = draftFromForm(f, alice);
      assert.ok('errors' in d);
      return d.errors.join(' | ');
    };
    assert.match(
      errors({ policy: 'p', namespace: 'payments', duration: '1h' }),
      /say what you need: access in Kubernetes RBAC, AWS IAM, GCP IAM or Azure RBAC/,
    );
    const kube = { 'cluster-role': 'view' };
    assert.match(
      errors({ policy: 'p', namespace: 'Pay ments', ...kube, duration: '1h' }),
      /namespace/,
    );
    assert.match(
      errors({ policy: 'p', namespace: 'payments', ...kube, duration: 'forever' }),
      /duration/,
    );
    // Each kind's own CLI parsing, in the form's words.
    assert.match(
      errors({ policy: 'p', namespace: 'payments', ...kube, role: 'debugger', duration: '1h' }),
      /^Kubernetes RBAC: give ClusterRole or Role, not both$/,
    );
    assert.match(
      errors({
        policy: 'p',
        namespace: 'payments',
        'aws-principal': 'arn:aws:iam::1:role/a',
        duration: '1h',
      }),
      /^AWS IAM: AWS access needs both Principal ARN and Policy ARN$/,
    );
    assert.match(
      errors({ policy: 'p', namespace: 'payments', 'gcp-role': 'roles/viewer', duration: '1h' }),
      /^GCP IAM: GCP access needs Resource, Role and Member$/,
    );
    assert.match(
      errors({
        policy: 'p',
        namespace: 'payments',
        'azure-scope': '/subscriptions/x',
        'azure-mode': 'Forever',
        duration: '1h',
      }),
      /^Azure RBAC: Mode must be one of Schedule, Assignment, got 'Forever'$/,
    );
  });

  it('shows an approver only what waits for them, never their own', () => {
    const pending = (name: string, by: string) =>
      aGrant({
        metadata: { name, annotations: { 'timebox.dev/requested-by': by } },
        spec: { subject: { name: by }, access: [] },
        status: { phase: 'Pending', requestedBy: by },
      });
    const policies = new Map([['payments-oncall', oncall]]);
    const fromAlice = pending('a', 'alice@example.com');
    const fromBob = pending('b', 'bob@example.com');
    const decided = {
      ...pending('c', 'alice@example.com'),
      status: {
        phase: 'Pending' as const,
        approvals: [{ approver: 'bob@example.com', decision: 'Approve' as const, at: 'x' }],
      },
    };
    assert.deepEqual(
      awaitingMe([fromAlice, fromBob, decided], policies, bob).map((g) => g.metadata.name),
      ['a'],
    );
    assert.deepEqual(
      awaitingMe([fromAlice], policies, alice),
      [],
      'alice approves under no policy',
    );
    assert.match(cannotDecide(fromBob, bob)!, /you asked for it/);
    assert.match(
      cannotDecide(
        {
          ...fromAlice,
          spec: { ...fromAlice.spec, subject: { kind: 'Group', name: 'payments-leads' } },
        },
        bob,
      )!,
      /group payments-leads/,
    );
    assert.deepEqual(
      myGrants([fromAlice, fromBob], alice).map((g) => g.metadata.name),
      ['a'],
    );
  });
});
