import assert from 'node:assert/strict';
import { aPolicy } from '../../api/v1alpha1/testing.ts';
import type { AccessTarget } from '../../api/v1alpha1/types.ts';
import { targetAllowed } from '../../policy/evaluate.ts';
import type { AzureAccess, AzureAllow } from './api.ts';
import { scopeMatch } from './kind.ts';

const SUB = '00000000-0000-0000-0000-0000000000aa';
const RG = `/subscriptions/${SUB}/resourceGroups/payments-1`;
const OID = '11111111-2222-3333-4444-555555555555';
const allow: AzureAllow = {
  scopes: ['/subscriptions/*/resourceGroups/payments-*'],
  roles: ['Reader'],
  principalIds: [OID],
};
const allowed = (
  azure: Partial<AzureAccess>,
  a: AzureAllow = allow,
  selfOnly = false,
  requester = 'alice',
) =>
  targetAllowed(
    { azure: { scope: RG, role: 'Reader', principalId: OID, ...azure } } as AccessTarget,
    aPolicy({ spec: { selfOnly, access: [{ azure: a }] } }),
    'payments',
    requester,
  );

describe('Azure allow-list (policy evaluation through the azure kind)', () => {
  it('allows an entry inside it, ignoring case as Azure does', () => {
    assert.equal(allowed({}), true);
    assert.equal(
      allowed({ scope: RG.toUpperCase().replace('/SUBSCRIPTIONS', '/subscriptions') }),
      true,
    );
    assert.equal(allowed({ role: 'reader', principalId: OID.toUpperCase() }), true);
  });

  it('denies another scope, role, principal, or the mode Azure does not end unless allowed', () => {
    assert.equal(allowed({ scope: `/subscriptions/${SUB}/resourceGroups/prod` }), false);
    assert.equal(allowed({ role: 'Owner' }), false);
    assert.equal(allowed({ principalId: '99999999-2222-3333-4444-555555555555' }), false);
    assert.equal(allowed({ mode: 'Assignment' }), false);
    assert.equal(allowed({ mode: 'Assignment' }, { ...allow, modes: ['Assignment'] }), true);
  });

  it('cannot be escaped with .., empty segments, or a * that crosses a /', () => {
    assert.equal(allowed({ scope: `${RG}/../prod` }), false);
    assert.equal(
      allowed({ scope: `/subscriptions/${SUB}/resourceGroups/payments-1/../../x` }),
      false,
    );
    assert.equal(allowed({ scope: `/subscriptions/${SUB}//resourceGroups/payments-1` }), false);
    assert.equal(
      scopeMatch(
        '/subscriptions/*/resourceGroups/payments-*',
        `/subscriptions/${SUB}/resourceGroups/payments-1/providers/x/y`,
      ),
      false,
    );
    assert.equal(
      scopeMatch('/subscriptions/*', `/subscriptions/${SUB}/resourceGroups/prod`),
      false,
      'a pattern allows no scope below it',
    );
  });

  it("under selfOnly, allows only the principal selfPrincipalIds makes the requester's own", () => {
    const self: AzureAllow = { ...allow, selfPrincipalIds: ['{user}'] };
    assert.equal(allowed({}, self, true, OID), true);
    assert.equal(
      allowed({}, self, true, 'alice'),
      false,
      "listed in principalIds, but not alice's own",
    );
    assert.equal(
      allowed({}, allow, true, OID),
      false,
      'without selfPrincipalIds, nothing under selfOnly',
    );
  });
});
