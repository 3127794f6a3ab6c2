import assert from 'node:assert/strict';
import { aGrant, aPolicy } from '../api/v1alpha1/testing.ts';
import { policyStatus } from '../controller/accesspolicy.ts';
import { checkPolicy } from './evaluate.ts';
import { accessRisks, allowListRisks } from './kind-risks.ts';

const SUB = '00000000-0000-0000-0000-0000000000aa';
const RG = `/subscriptions/${SUB}/resourceGroups/payments`;
const OID = '11111111-2222-3333-4444-555555555555';

describe('persistent escalation through cloud roles (the kinds judge their own)', () => {
  const policy = (allowPersistentEscalation?: boolean) =>
    aPolicy({
      spec: {
        selfOnly: false,
        access: [{ azure: { scopes: [RG], roles: ['Reader', 'Owner'], principalIds: [OID] } }],
        ...(allowPersistentEscalation === undefined ? {} : { allowPersistentEscalation }),
      },
    });
  const grant = (role: string) =>
    aGrant({
      metadata: {
        annotations: {
          'timebox.dev/requested-by': 'alice@example.com',
          'timebox.dev/requester-groups': 'payments-oncall',
        },
      },
      spec: {
        subject: { kind: 'User', name: 'alice@example.com' },
        access: [{ azure: { scope: RG, role, principalId: OID } }],
      },
    });
  const decide = (role: string, allow?: boolean) => {
    const g = grant(role);
    const p = policy(allow);
    return checkPolicy(g, p, accessRisks(g.spec.access));
  };

  it('denies an Azure role that can assign roles unless the policy allows persistent escalation', () => {
    assert.equal(decide('Reader'), undefined);
    const denied = decide('Owner');
    assert.equal(denied?.reason, 'PersistentEscalation');
    assert.match(denied!.message, /Azure role Owner lets its holder create role assignments/);
    assert.equal(decide('Owner', true), undefined);
  });

  it("shows them in the policy's PersistentEscalation condition", () => {
    const p = policy();
    const status = policyStatus(p, allowListRisks(p.spec.access), new Date(0));
    const c = status.conditions?.find((x) => x.type === 'PersistentEscalation');
    assert.equal(c?.reason, 'NotAllowed');
    assert.match(c!.message, /Azure role Owner/);
    const fine = aPolicy({ spec: { access: [{ azure: { scopes: [RG], roles: ['Reader'] } }] } });
    assert.deepEqual(allowListRisks(fine.spec.access), []);
  });
});
