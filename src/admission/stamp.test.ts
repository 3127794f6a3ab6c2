import assert from 'node:assert/strict';
import { aGrant } from '../api/v1alpha1/testing.ts';
import type { AccessApproval } from '../api/v1alpha1/types.ts';
import { review, stampApproval, stampGrant, type AdmissionRequest } from './stamp.ts';

const ALICE = {
  username: 'alice@example.com',
  groups: ['payments-oncall', 'system:authenticated'],
};

const grant = (annotations?: Record<string, string>) => aGrant({ metadata: { annotations } });

const request = (
  kind: string,
  object: unknown,
  over: Partial<AdmissionRequest> = {},
): AdmissionRequest => ({
  uid: 'req-1',
  kind: { group: 'timebox.dev', version: 'v1alpha1', kind },
  operation: 'CREATE',
  namespace: 'payments',
  userInfo: ALICE,
  object,
  ...over,
});

describe('identity stamping', () => {
  it('fills in who asked, with their own groups, on a grant that names nobody', () => {
    assert.deepEqual(stampGrant(grant(), ALICE), [
      {
        op: 'add',
        path: '/metadata/annotations',
        value: {
          'timebox.dev/created-by': 'alice@example.com',
          'timebox.dev/requested-by': 'alice@example.com',
          'timebox.dev/requester-groups': 'payments-oncall',
        },
      },
      { op: 'add', path: '/metadata/finalizers', value: ['timebox.dev/revoke-access'] },
    ]);
  });

  it('adds only what is missing, escaping the annotation keys, and leaves a typed value to admission', () => {
    const typed = grant({ 'timebox.dev/requested-by': 'bob@example.com' });
    assert.deepEqual(stampGrant(typed, ALICE), [
      {
        op: 'add',
        path: '/metadata/annotations/timebox.dev~1created-by',
        value: 'alice@example.com',
      },
      {
        op: 'add',
        path: '/metadata/annotations/timebox.dev~1requester-groups',
        value: 'payments-oncall',
      },
      { op: 'add', path: '/metadata/finalizers', value: ['timebox.dev/revoke-access'] },
    ]);
  });

  it('records only the creator of a GitOps grant: the reviewed change names who asked', () => {
    const git = grant({
      'timebox.dev/gitops': 'true',
      'timebox.dev/requested-by': 'alice@example.com',
    });
    const argo = {
      username: 'system:serviceaccount:argocd:argocd-application-controller',
      groups: [],
    };
    assert.deepEqual(stampGrant(git, argo), [
      { op: 'add', path: '/metadata/annotations/timebox.dev~1created-by', value: argo.username },
      { op: 'add', path: '/metadata/finalizers', value: ['timebox.dev/revoke-access'] },
    ]);
  });

  it("adds the controller's finalizer once, beside any the grant has", () => {
    const stamped = stampGrant(grant(), ALICE).filter((op) => op.path.includes('finalizers'));
    assert.equal(stamped.length, 1, 'a new grant gets it');
    const other = aGrant({ metadata: { finalizers: ['example.com/keep'] } });
    assert.deepEqual(
      stampGrant(other, ALICE).filter((op) => op.path.includes('finalizers')),
      [{ op: 'add', path: '/metadata/finalizers/-', value: 'timebox.dev/revoke-access' }],
    );
    const has = aGrant({ metadata: { finalizers: ['timebox.dev/revoke-access'] } });
    assert.deepEqual(
      stampGrant(has, ALICE).filter((op) => op.path.includes('finalizers')),
      [],
    );
  });

  it('fills in the approver, all their groups and the grant UID, never the spec hash', () => {
    const approval = {
      metadata: { name: 'a', namespace: 'payments' },
      spec: { grantRef: { name: 'g' }, decision: 'Approve' },
    } as unknown as AccessApproval;
    const bob = {
      username: 'bob@example.com',
      groups: ['payments-leads', 'sre', 'system:authenticated'],
    };
    assert.deepEqual(stampApproval(approval, bob, 'uid-1'), [
      { op: 'add', path: '/spec/approver', value: 'bob@example.com' },
      { op: 'add', path: '/spec/approverGroups', value: ['payments-leads', 'sre'] },
      { op: 'add', path: '/spec/grantRef/uid', value: 'uid-1' },
    ]);
  });

  it('refuses an approval of a grant that does not exist, saying which', async () => {
    const approval = { metadata: {}, spec: { grantRef: { name: 'nope' }, decision: 'Approve' } };
    const v = await review(request('AccessApproval', approval), async () => undefined);
    assert.equal(v.allowed, false);
    assert.match(!v.allowed ? v.message : '', /no AccessGrant 'nope' in namespace payments/);
  });

  it('passes anything else through unchanged', async () => {
    const lookup = async () => 'uid';
    for (const r of [
      request('AccessGrant', grant(), { operation: 'UPDATE' }),
      request('AccessPolicy', {}),
      request('Pod', {}, { kind: { group: '', version: 'v1', kind: 'Pod' } }),
    ]) {
      assert.deepEqual(await review(r, lookup), { allowed: true, patch: [] });
    }
  });
});
