import assert from 'node:assert/strict';
import { aPolicy } from '../../api/v1alpha1/testing.ts';
import type { AccessTarget } from '../../api/v1alpha1/types.ts';
import { targetAllowed } from '../../policy/evaluate.ts';
import type { AzureAccess, AzureAllow } from './api.ts';
import { azureKind, roleAllowed, scopeMatch } from './kind.ts';
import { SCOPE_PATTERN } from './scope.ts';
import { scopeEscapes } from './testing.ts';

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
      allowed({ scope: `/subscriptions/${SUB.toUpperCase()}/resourceGroups/PAYMENTS-1` }),
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

  describe('scopes a URL parser would move (attack)', () => {
    const STORAGE_POLICY: AzureAllow = {
      scopes: [
        '/subscriptions/*/resourceGroups/payments/providers/Microsoft.Storage/storageAccounts/*',
      ],
      roles: ['Reader'],
      principalIds: [OID],
    };
    const PAYMENTS = `/subscriptions/${SUB}/resourceGroups/payments`;
    for (const [what, scope] of scopeEscapes(
      SUB,
      PAYMENTS,
      '00000000-0000-0000-0000-0000000000bb',
    )) {
      it(`allows none, and the CRD pattern refuses it: ${what}`, () => {
        assert.equal(allowed({ scope }, STORAGE_POLICY), false);
        assert.equal(
          allowed({ scope }, { ...STORAGE_POLICY, scopes: ['/subscriptions/*/*/*/*/*/*/*/*'] }),
          false,
        );
        assert.equal(new RegExp(SCOPE_PATTERN).test(scope), false);
      });
    }

    it('still allows the storage account itself', () => {
      const scope = `${PAYMENTS}/providers/Microsoft.Storage/storageAccounts/acme(1)_x-y.z`;
      assert.equal(allowed({ scope }, STORAGE_POLICY), true);
      assert.equal(new RegExp(SCOPE_PATTERN).test(scope), true);
    });

    it('ignores a malformed scope pattern rather than reading it loosely', () => {
      for (const pattern of [
        '/subscriptions/*/resourceGroups/payments\\..',
        '/subscriptions/*/resourceGroups/%2e%2e',
        '/subscriptions/*//resourceGroups/payments-1',
        '/subscriptions/*/resourceGroups/payments-1/',
        '/subscriptions/*/resourceGroups/payments-1/..',
      ]) {
        assert.equal(scopeMatch(pattern, RG), false, pattern);
      }
    });
  });

  describe('roles, by full role definition ID', () => {
    const A = '00000000-0000-0000-0000-0000000000aa';
    const B = '00000000-0000-0000-0000-0000000000bb';
    const CUSTOM = '99999999-0000-4000-8000-00000000c0de';
    const OWNER = '8e3af657-a8ff-443c-a75c-2fe8c4bcb635';
    const id = (sub: string, guid: string) =>
      `/subscriptions/${sub}/providers/Microsoft.Authorization/roleDefinitions/${guid}`;
    const builtIn = (guid: string) => `/providers/Microsoft.Authorization/roleDefinitions/${guid}`;
    const inA = `/subscriptions/${A}/resourceGroups/payments-1`;
    const inB = `/subscriptions/${B}/resourceGroups/payments-1`;
    const customOfA = [id(A, '*')];

    it("allows a custom role of the pattern's subscription, by ID or GUID, at a scope in it", () => {
      assert.equal(roleAllowed(customOfA, id(A, CUSTOM), inA), true);
      assert.equal(roleAllowed(customOfA, CUSTOM, inA), true);
      assert.equal(roleAllowed(customOfA, CUSTOM.toUpperCase(), inA), true);
    });

    it("admits no role of another subscription, no built-in role's ID, and no name (attack)", () => {
      assert.equal(
        roleAllowed(customOfA, id(B, CUSTOM), inA),
        false,
        'role ID of another subscription',
      );
      assert.equal(
        roleAllowed(customOfA, CUSTOM, inB),
        false,
        'GUID at a scope in another subscription',
      );
      assert.equal(
        roleAllowed(customOfA, id(A, CUSTOM), inB),
        false,
        "role ID not in the scope's subscription",
      );
      assert.equal(roleAllowed([id(B, '*')], id(A, CUSTOM), inB), false);
      assert.equal(roleAllowed(customOfA, builtIn(OWNER), inA), false, "Owner's built-in ID");
      assert.equal(roleAllowed(customOfA, 'Owner', inA), false);
      // Owner's GUID passes as "a custom role of A" here; the driver refuses a
      // built-in role named so, and the guardrail flags Owner in any form.
      assert.deepEqual(
        azureKind.entryRisks!({ scope: inA, role: OWNER, principalId: OID }).map((r) => r.role),
        ['Azure role Owner'],
      );
    });

    it('compares a bare GUID pattern with that role in any subscription, and built-in IDs as written', () => {
      assert.equal(roleAllowed([CUSTOM], id(A, CUSTOM), inA), true);
      assert.equal(roleAllowed([CUSTOM], CUSTOM, inB), true);
      assert.equal(roleAllowed([builtIn(OWNER)], builtIn(OWNER), inA), true);
      assert.equal(roleAllowed([builtIn(OWNER)], OWNER, inA), false);
      assert.equal(roleAllowed(['Reader'], 'reader', inA), true);
    });
  });

  describe('roles that let their holder assign roles (persistent escalation)', () => {
    const risks = (roles: string[]) =>
      azureKind.allowRisks!({ roles }).map((r) => r.role.replace('Azure role ', ''));
    const OWNER = '8e3af657-a8ff-443c-a75c-2fe8c4bcb635';
    const UAA = '18d7d88d-d35e-4fb5-a5c3-7773c20a72d9';
    const RBAC_ADMIN = 'f58310d9-a9f6-439a-9e8d-f62e7b41a168';

    it('flags them in an allow-list by name, GUID, built-in ID or a glob that covers them', () => {
      assert.deepEqual(risks(['Reader', 'Contributor', 'Storage Blob Data Reader']), []);
      assert.deepEqual(risks(['owner']), ['Owner']);
      assert.deepEqual(risks([UAA]), ['User Access Administrator']);
      assert.deepEqual(
        risks([`/providers/Microsoft.Authorization/roleDefinitions/${RBAC_ADMIN}`]),
        ['Role Based Access Control Administrator'],
      );
      assert.deepEqual(risks(['*']), [
        'Owner',
        'User Access Administrator',
        'Role Based Access Control Administrator',
        'Key Vault Data Access Administrator',
      ]);
      assert.deepEqual(risks(['* Administrator']).length, 3);
    });

    it("flags a grant's role in every form", () => {
      const flagged = (role: string) =>
        azureKind.entryRisks!({ scope: RG, role, principalId: OID }).map((r) => r.role);
      for (const role of [
        'Owner',
        'OWNER',
        OWNER,
        `/providers/Microsoft.Authorization/roleDefinitions/${OWNER}`,
        `/subscriptions/${SUB}/providers/Microsoft.Authorization/roleDefinitions/${OWNER.toUpperCase()}`,
      ]) {
        assert.deepEqual(flagged(role), ['Azure role Owner'], role);
      }
      assert.deepEqual(flagged('Contributor'), []);
      assert.match(
        azureKind.entryRisks!({ scope: RG, role: 'Owner', principalId: OID })[0]!.risks[0]!,
        /roleAssignments\/write/,
      );
    });
  });
});
