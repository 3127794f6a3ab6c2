import assert from 'node:assert/strict';
import { aGrant, anApproval, aPolicy } from '../api/v1alpha1/testing.ts';
import type { AccessGrant } from '../api/v1alpha1/types.ts';
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
  aGrant({ metadata: { name }, spec: { policy }, status });

describe('routing', () => {
  it("re-queues a binding's owner, and nothing for a binding that is not Timebox's", () => {
    assert.deepEqual(
      grantsOfBinding({ metadata: { annotations: { 'timebox.dev/grant': 'payments/a' } } }),
      ['payments/a'],
    );
    assert.deepEqual(grantsOfBinding({ metadata: { name: 'someone-elses' } }), []);
  });

  it('re-queues every grant under an edited policy, and only those', () => {
    const p = aPolicy({ metadata: { name: 'oncall' } });
    const all = [grant('a', 'oncall'), grant('b', 'other'), grant('c', 'oncall')];
    assert.deepEqual(grantsOfPolicy(p, all), ['payments/a', 'payments/c']);
  });

  it('re-queues the grant an approval names, in its own namespace', () => {
    const a = anApproval({
      metadata: { namespace: 'payments' },
      spec: { grantRef: { name: 'a' } },
    });
    assert.deepEqual(grantsOfApproval(a), ['payments/a']);
  });

  it('recomputes every policy when a role changes', () => {
    const ps = [aPolicy({ metadata: { name: 'x' } }), aPolicy({ metadata: { name: 'y' } })];
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
