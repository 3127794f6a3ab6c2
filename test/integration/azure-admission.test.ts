import assert from 'node:assert/strict';
import type { AccessTarget } from '../../src/api/v1alpha1/types.ts';
import { scopeEscapes } from '../../src/providers/azure/testing.ts';
import type { ClusterEnvironment } from '../../src/sandbox/environment.ts';
import { CLUSTER_START_TIMEOUT_MS, testCluster } from '../support/cluster.ts';
import { refusal } from '../support/requests.ts';
import {
  createAccessPolicy,
  createNamespace,
  grant,
  grantsApi,
  installTimebox,
  TEST_POLICY,
} from '../support/timebox.ts';

const SUB = '00000000-0000-0000-0000-0000000000aa';
const RG = `/subscriptions/${SUB}/resourceGroups/payments`;
const OID = '11111111-2222-3333-4444-555555555555';
const SAYS_WHAT_IS_ALLOWED = /letters, digits, -, _, \., \( and \)/;

describe('Azure scopes at admission (the real API server)', function () {
  this.timeout(60_000);
  let cluster: ClusterEnvironment;
  let ns: string;

  before(async function () {
    this.timeout(CLUSTER_START_TIMEOUT_MS);
    cluster = await testCluster();
    await installTimebox(cluster, []);
    ns = await createNamespace(cluster, 'azure-admission');
  });

  const create = (name: string, access: AccessTarget[]) =>
    grantsApi(cluster.admin()).create(grant(ns, name, { access, policy: TEST_POLICY }));
  const azure = (scope: string): AccessTarget => ({
    azure: { scope, role: 'Reader', principalId: OID },
  });

  for (const [i, [what, scope]] of scopeEscapes(
    SUB,
    RG,
    '00000000-0000-0000-0000-0000000000bb',
  ).entries()) {
    it(`refuses a grant's scope that a URL parser would move, saying what is allowed: ${what}`, async () => {
      const refused = await refusal(create(`escape-${i}`, [azure(scope)]));
      assert.equal(refused.code, 422, refused.message);
      assert.match(refused.message, SAYS_WHAT_IS_ALLOWED);
    });
  }

  it('accepts subscriptions, resource groups and resources named in Azure resource-name characters', async () => {
    const ok = [
      `/subscriptions/${SUB}`,
      `/subscriptions/${SUB}/resourceGroups/rg_(1).x-y`,
      `${RG}/providers/Microsoft.Storage/storageAccounts/acme/blobServices/default/containers/c1`,
    ];
    for (const [i, scope] of ok.entries()) await create(`fine-${i}`, [azure(scope)]);
  });

  it("refuses a policy's scope pattern that is not made of segments of those characters and *", async () => {
    const bad = [
      '/subscriptions/*/resourceGroups/payments\\..\\..',
      '/subscriptions/*/resourceGroups/%2e%2e',
      '/subscriptions/*/resourceGroups/pay ments',
      '/subscriptions/*/resourceGroups/payments/..',
      '/subscriptions/*/resourceGroups/payments.',
      '/subscriptions/*//resourceGroups/payments',
      '/subscriptions/*/resourceGroups/\uff0e\uff0e',
      '/resourceGroups/payments',
    ];
    for (const [i, pattern] of bad.entries()) {
      const refused = await refusal(
        createAccessPolicy(cluster.admin(), `azure-bad-${i}`, {
          requesters: { users: ['nobody'] },
          namespaces: [ns],
          access: [{ azure: { scopes: [pattern], roles: ['Reader'] } }],
          maxDuration: '1h',
          approval: { mode: 'Auto' },
        }),
      );
      assert.equal(refused.code, 422, `${pattern}: ${refused.message}`);
      assert.match(refused.message, SAYS_WHAT_IS_ALLOWED, pattern);
    }
    await createAccessPolicy(cluster.admin(), 'azure-good', {
      requesters: { users: ['nobody'] },
      namespaces: [ns],
      access: [
        {
          azure: {
            scopes: Array.from(
              { length: 64 },
              (_, i) =>
                `/subscriptions/*/resourceGroups/payments-${i}/providers/Microsoft.Storage/storageAccounts/*`,
            ),
            roles: ['Reader'],
          },
        },
      ],
      maxDuration: '1h',
      approval: { mode: 'Auto' },
    });
  });
});
