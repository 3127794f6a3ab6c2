import assert from 'node:assert/strict';
import type { AccessApproval, AccessGrant, AccessPolicy } from '../api/v1alpha1/types.ts';
import { RECORD_PRIORITY, REVOKE_PRIORITY } from './lanes.ts';
import {
  grantsOfApproval,
  grantsOfBinding,
  grantsOfPolicy,
  placeGrant,
  policiesOfRoleChange,
} from './routing.ts';

const NOW = new Date('2026-11-27T10:00:00Z');
const grant = (name: string, policy: string, status?: AccessGrant['status']) =>
  ({
    metadata: { name, namespace: 'payments', uid: `uid-${name}` },
    spec: { subject: { kind: 'User', name: 'a' }, policy, duration: '1h', access: [] },
    ...(status ? { status } : {}),
  }) as AccessGrant;

describe('routing', () => {
  it("re-queues a binding's owner, and nothing for a binding that is not Timebox's", () => {
    assert.deepEqual(
      grantsOfBinding({ metadata: { annotations: { 'timebox.dev/grant': 'payments/a' } } }),
      ['payments/a'],
    );
    assert.deepEqual(grantsOfBinding({ metadata: { name: 'someone-elses' } }), []);
  });

  it('re-queues every grant under an edited policy, and only those', () => {
    const p = { metadata: { name: 'oncall' } } as AccessPolicy;
    const all = [grant('a', 'oncall'), grant('b', 'other'), grant('c', 'oncall')];
    assert.deepEqual(grantsOfPolicy(p, all), ['payments/a', 'payments/c']);
  });

  it('re-queues the grant an approval names, in its own namespace', () => {
    const a = {
      metadata: { namespace: 'payments' },
      spec: { grantRef: { name: 'a', uid: 'u' }, decision: 'Approve', approver: 'bob' },
    } as AccessApproval;
    assert.deepEqual(grantsOfApproval(a), ['payments/a']);
  });

  it('recomputes every policy when a role changes', () => {
    const ps = [{ metadata: { name: 'x' } }, { metadata: { name: 'y' } }] as AccessPolicy[];
    assert.deepEqual(policiesOfRoleChange(ps), ['x', 'y']);
  });

  it('places an expired grant in the revoke lane ahead of recording, a new one in the grant lane', () => {
    const none = { awaitsRecord: false, bindingsLeft: false };
    assert.deepEqual(placeGrant(grant('n', 'p'), NOW, none), { lane: 'grant', priority: 0 });
    const expired = grant('e', 'p', { phase: 'Active', expiresAt: '2026-11-27T09:00:00Z' });
    assert.deepEqual(placeGrant(expired, NOW, none), { lane: 'revoke', priority: REVOKE_PRIORITY });
    assert.deepEqual(placeGrant(expired, NOW, { ...none, awaitsRecord: true }), {
      lane: 'revoke',
      priority: RECORD_PRIORITY,
    });
  });
});
