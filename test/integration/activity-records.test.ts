import assert from 'node:assert/strict';
import {
  CustomObjectsApi,
  PatchStrategy,
  RbacAuthorizationV1Api,
  setHeaderOptions,
} from '@kubernetes/client-node';
import { ACCESS_ACTIVITY } from '../../src/api/v1alpha1/activity.ts';
import { GROUP, VERSION } from '../../src/api/v1alpha1/types.ts';
import { activityObject } from '../../src/activity/object.ts';
import type { ClusterEnvironment } from '../../src/sandbox/environment.ts';
import type { Identity } from '../../src/sandbox/impersonation.ts';
import { CLUSTER_START_TIMEOUT_MS, testCluster } from '../support/cluster.ts';
import { ALICE, BOB, refusal } from '../support/requests.ts';
import { createNamespace, installTimebox } from '../support/timebox.ts';

const OPERATOR = 'timebox-operator-activity-records';
const AUDITOR: Identity = { user: 'audrey@example.com', groups: ['timebox-auditors'] };
const MERGE = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);

/**
 * A grant's AccessActivity is what an owner reads to see what was done with the
 * access: only the operator writes it. Nobody else may forge one, pre-create one
 * for a grant to come, edit one to hide a write or a refused attempt, or delete one;
 * and the operator itself may not delete one either (the garbage collector does,
 * with the grant).
 */
describe('AccessActivity records: written by the operator alone', function () {
  this.timeout(120_000);
  let cluster: ClusterEnvironment;
  let ns: string;
  const api = (who: Identity) => cluster.as(who).makeApiClient(CustomObjectsApi);
  const target = (name: string) => ({
    group: GROUP,
    version: VERSION,
    plural: ACCESS_ACTIVITY.plural,
    namespace: ns,
    name,
  });
  const record = (name: string) =>
    activityObject({ namespace: ns, name, uid: `uid-${name}` }, {
      requests: 1,
      denied: [],
      writes: [],
    } as never);

  before(async function () {
    this.timeout(CLUSTER_START_TIMEOUT_MS);
    cluster = await testCluster();
    await installTimebox(cluster, [OPERATOR]);
    ns = await createNamespace(cluster, 'payments');
    // The auditors' role, bound as a cluster would bind it.
    await cluster
      .admin()
      .makeApiClient(RbacAuthorizationV1Api)
      .createClusterRoleBinding({
        body: {
          metadata: { name: 'activity-records-auditors' },
          roleRef: {
            apiGroup: 'rbac.authorization.k8s.io',
            kind: 'ClusterRole',
            name: 'timebox-auditor',
          },
          subjects: [
            { apiGroup: 'rbac.authorization.k8s.io', kind: 'Group', name: 'timebox-auditors' },
          ],
        },
      })
      // The cluster is shared: a run before this one in it may have bound it already.
      .catch((err: unknown) => assert.equal((err as { code?: number }).code, 409));
    await cluster
      .admin()
      .makeApiClient(CustomObjectsApi)
      .createNamespacedCustomObject({ ...target('existing'), body: record('existing') });
  });

  for (const [who, id] of [
    ['the requester and subject', ALICE],
    ['an approver', BOB],
    ['an auditor', AUDITOR],
  ] as const) {
    it(`refuses ${who} every write, and lets them read`, async () => {
      const as = api(id);
      await as.getNamespacedCustomObject(target('existing'));
      // Pre-creating the record of a grant to come, so its real record cannot be made.
      const created = await refusal(
        as.createNamespacedCustomObject({ ...target('future'), body: record('future') }),
      );
      assert.equal(created.code, 403, created.message);
      // Hiding a write or a refused attempt.
      const patched = await refusal(
        as.patchNamespacedCustomObject(
          { ...target('existing'), body: { status: { requests: 0, denied: [] } } },
          MERGE,
        ),
      );
      assert.equal(patched.code, 403, patched.message);
      const deleted = await refusal(as.deleteNamespacedCustomObject(target('existing')));
      assert.equal(deleted.code, 403, deleted.message);
    });
  }

  it("lets the operator's identity create and update records, never delete them", async () => {
    const as = api({ user: OPERATOR, groups: [] });
    await as.createNamespacedCustomObject({
      ...target('by-operator'),
      body: record('by-operator'),
    });
    // It writes with compare-and-swap (update with the resourceVersion read).
    const read = (await as.getNamespacedCustomObject(target('by-operator'))) as ReturnType<
      typeof record
    >;
    await as.replaceNamespacedCustomObject({
      ...target('by-operator'),
      body: { ...read, status: { ...read.status, requests: 2 } },
    });
    const deleted = await refusal(as.deleteNamespacedCustomObject(target('by-operator')));
    assert.equal(deleted.code, 403, deleted.message);
  });
});
