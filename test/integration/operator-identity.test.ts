import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  AdmissionregistrationV1Api,
  ApiException,
  PatchStrategy,
  setHeaderOptions,
  CoreV1Api,
  CustomObjectsApi,
  RbacAuthorizationV1Api,
  type V1RoleBinding,
} from '@kubernetes/client-node';
import { installWebhookForUrl } from '../../src/admission/kube.ts';
import type { AccessApproval, AccessGrant } from '../../src/api/v1alpha1/types.ts';
import type { ClusterEnvironment } from '../../src/sandbox/environment.ts';
import type { Identity } from '../../src/sandbox/impersonation.ts';
import { CLUSTER_START_TIMEOUT_MS, testCluster } from '../support/cluster.ts';
import { ALICE, allowed, approvalAs, BOB, refusal } from '../support/requests.ts';
import { eventually } from '../support/wait.ts';
import {
  createAccessPolicy,
  createNamespace,
  grantsApi,
  installTimebox,
  kubeconfigAs,
  OPERATOR_NAMESPACE,
  OperatorProcess,
  startTestWebhook,
  TEST_WEBHOOK,
  waitForPhase,
} from '../support/timebox.ts';

const OPERATOR = 'timebox-operator-identity';
const RBAC = 'rbac.authorization.k8s.io';

function binding(
  ns: string,
  name: string,
  role: string,
  subject: { kind: string; name: string; namespace?: string },
  owned = true,
): V1RoleBinding {
  return {
    metadata: {
      name,
      namespace: ns,
      ...(owned
        ? {
            labels: {
              'timebox.dev/grant-uid': 'forged-uid',
              'app.kubernetes.io/managed-by': 'timebox',
            },
          }
        : {}),
    },
    roleRef: { apiGroup: RBAC, kind: 'ClusterRole', name: role },
    subjects: [{ ...subject, ...(subject.kind === 'ServiceAccount' ? {} : { apiGroup: RBAC }) }],
  };
}

async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
  const { port } = s.address() as AddressInfo;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

describe("the operator's own identity", function () {
  this.timeout(120_000);
  let cluster: ClusterEnvironment;
  let work: string;
  let ns: string;

  before(async function () {
    this.timeout(CLUSTER_START_TIMEOUT_MS);
    cluster = await testCluster();
    await installTimebox(cluster, [OPERATOR]);
    work = mkdtempSync(join(tmpdir(), 'timebox-operator-identity-'));
    ns = await createNamespace(cluster, 'payments');
  });
  after(() => {
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it('cannot make itself or anyone powerful, nor touch bindings it does not own', async () => {
    // What a stolen controller token could try.
    const op = cluster.as({ user: OPERATOR }).makeApiClient(RbacAuthorizationV1Api);
    const admin = cluster.admin().makeApiClient(RbacAuthorizationV1Api);
    // Barrier: the admission policy for the controller's identities is in force.
    await eventually(
      async () =>
        op
          .createNamespacedRoleBinding({
            namespace: ns,
            body: binding(ns, 'probe', 'view', { kind: 'User', name: 'x' }, false),
          })
          .then(
            async () => {
              await admin.deleteNamespacedRoleBinding({ name: 'probe', namespace: ns });
              return false;
            },
            (err: unknown) => err instanceof ApiException && err.code === 403,
          ),
      { what: 'timebox-operator-bindings to be enforced' },
    );

    const clusterAdmin = await refusal(
      op.createClusterRoleBinding({
        body: {
          metadata: {
            name: `timebox-owned-${ns}`,
            labels: { 'timebox.dev/grant-uid': 'x', 'app.kubernetes.io/managed-by': 'timebox' },
          },
          roleRef: { apiGroup: RBAC, kind: 'ClusterRole', name: 'cluster-admin' },
          subjects: [{ kind: 'User', name: 'alice@example.com', apiGroup: RBAC }],
        },
      }),
    );
    assert.equal(clusterAdmin.code, 403);
    assert.match(clusterAdmin.message, /cannot bind|escalat|not currently held/i);

    const cases: [string, V1RoleBinding, RegExp][] = [
      [
        'to itself',
        binding(ns, 'self', 'edit', { kind: 'User', name: OPERATOR }),
        /never binds a role to itself/,
      ],
      [
        'to everyone',
        binding(ns, 'everyone', 'edit', { kind: 'Group', name: 'system:authenticated' }),
        /never binds a role to a system: user or group/,
      ],
      [
        'in kube-system',
        binding('kube-system', 'in-kube-system', 'view', { kind: 'User', name: ALICE.user }),
        /never binds roles in kube-system/,
      ],
      [
        'without the ownership labels',
        binding(ns, 'unowned', 'edit', { kind: 'User', name: ALICE.user }, false),
        /only bindings it owns/,
      ],
    ];
    for (const [what, body, message] of cases) {
      const r = await refusal(
        op.createNamespacedRoleBinding({ namespace: body.metadata!.namespace!, body }),
      );
      assert.equal(r.code, 403, what);
      assert.match(r.message, message, what);
    }
    // edit cluster-wide would reach kube-system too.
    const wide = await refusal(
      op.createClusterRoleBinding({
        body: {
          metadata: { name: `timebox-wide-${ns}`, labels: { 'timebox.dev/grant-uid': 'x' } },
          roleRef: { apiGroup: RBAC, kind: 'ClusterRole', name: 'edit' },
          subjects: [{ kind: 'User', name: ALICE.user, apiGroup: RBAC }],
        },
      }),
    );
    assert.equal(wide.code, 403);
    assert.match(wide.message, /binds only view cluster-wide/);
    assert.equal(await allowed(cluster, { user: OPERATOR }, 'create', 'configmaps', ns), false);

    // A binding someone else made: neither deleted nor edited.
    await admin.createNamespacedRoleBinding({
      namespace: ns,
      body: binding(ns, 'team-view', 'view', { kind: 'Group', name: 'payments-team' }, false),
    });
    const del = await refusal(op.deleteNamespacedRoleBinding({ name: 'team-view', namespace: ns }));
    assert.equal(del.code, 403);
    assert.match(del.message, /only bindings it owns/);
    const edit = await refusal(
      op.replaceNamespacedRoleBinding({
        name: 'team-view',
        namespace: ns,
        body: binding(ns, 'team-view', 'view', { kind: 'User', name: 'mallory@example.com' }),
      }),
    );
    assert.equal(edit.code, 403);

    // What it is for still works: an owned binding of a role it may bind.
    await op.createNamespacedRoleBinding({
      namespace: ns,
      body: binding(ns, 'owned', 'edit', { kind: 'User', name: ALICE.user }),
    });
    await op.deleteNamespacedRoleBinding({ name: 'owned', namespace: ns });
  });

  it('may change only the caBundle of its webhook configuration', async () => {
    const hooks = cluster.admin().makeApiClient(AdmissionregistrationV1Api);
    // A configuration by the controller's name that matches nothing, so that
    // nothing else in the cluster is affected while it exists.
    await hooks.createMutatingWebhookConfiguration({
      body: {
        metadata: { name: 'timebox-identity' },
        webhooks: [
          {
            name: 'identity.timebox.dev',
            admissionReviewVersions: ['v1'],
            sideEffects: 'None',
            clientConfig: { url: 'https://127.0.0.1:1/mutate' },
            rules: [
              {
                apiGroups: ['nothing.example.com'],
                apiVersions: ['*'],
                operations: ['CREATE'],
                resources: ['nothing'],
              },
            ],
          },
        ],
      },
    });
    try {
      const op = cluster.as({ user: OPERATOR }).makeApiClient(AdmissionregistrationV1Api);
      const patch = (body: unknown[]) =>
        op.patchMutatingWebhookConfiguration(
          { name: 'timebox-identity', body },
          setHeaderOptions('Content-Type', PatchStrategy.JsonPatch),
        );
      await eventually(
        async () =>
          patch([
            {
              op: 'replace',
              path: '/webhooks/0/clientConfig/url',
              value: 'https://evil.example.com/',
            },
          ]).then(
            () => false,
            (err: unknown) => err instanceof ApiException && err.code === 403,
          ),
        { what: 'timebox-operator-webhook to be enforced' },
      );
      const everything = await refusal(
        patch([
          {
            op: 'replace',
            path: '/webhooks/0/rules',
            value: [
              { apiGroups: ['*'], apiVersions: ['*'], operations: ['CREATE'], resources: ['*/*'] },
            ],
          },
        ]),
      );
      assert.equal(everything.code, 403);
      assert.match(everything.message, /may change only the caBundle/);
      await patch([
        {
          op: 'add',
          path: '/webhooks/0/clientConfig/caBundle',
          value: Buffer.from('ca').toString('base64'),
        },
      ]);
    } finally {
      await hooks.deleteMutatingWebhookConfiguration({ name: 'timebox-identity' });
    }
  });

  it('serves the identity webhook itself, with a CA it keeps in a Secret', async function () {
    // The tests' own webhook steps aside, so only the operator's can stamp.
    const hooks = cluster.admin().makeApiClient(AdmissionregistrationV1Api);
    const core = cluster.admin().makeApiClient(CoreV1Api);
    const port = await freePort();
    await installWebhookForUrl(cluster.admin(), 'timebox-identity', `https://127.0.0.1:${port}`);
    const start = () =>
      OperatorProcess.start('operator-webhook', kubeconfigAs(cluster, OPERATOR, work), [
        `--webhook-bind-address=127.0.0.1:${port}`,
        '--webhook-hosts=127.0.0.1',
      ]);
    let operator = start();
    try {
      const caBundle = await eventually(
        async () =>
          (await hooks.readMutatingWebhookConfiguration({ name: 'timebox-identity' })).webhooks?.[0]
            ?.clientConfig.caBundle,
        { what: 'the operator to inject its CA', timeoutMs: 30_000 },
      );
      await hooks.deleteMutatingWebhookConfiguration({ name: TEST_WEBHOOK });
      await operator.waitForLog(/starting controllers/);

      const policy = `identity-${ns}`;
      await createAccessPolicy(cluster.admin(), policy, {
        requesters: { groups: ['payments-oncall'] },
        selfOnly: true,
        namespaces: [ns],
        access: [{ kubernetes: { clusterRoles: ['view'], namespaces: [ns] } }],
        maxDuration: '1h',
        approval: { mode: 'Manual', approvers: { groups: ['payments-leads'] } },
      });
      // A newcomer's manifests: no identity fields at all.
      const custom = (who: Identity) => cluster.as(who).makeApiClient(CustomObjectsApi);
      const created = (await custom(ALICE).createNamespacedCustomObject({
        group: 'timebox.dev',
        version: 'v1alpha1',
        namespace: ns,
        plural: 'accessgrants',
        body: {
          apiVersion: 'timebox.dev/v1alpha1',
          kind: 'AccessGrant',
          metadata: { name: 'plain' },
          spec: {
            subject: { kind: 'User', name: ALICE.user },
            policy,
            duration: '30m',
            reason: 'INC-7 plain kubectl',
            access: [{ kubernetes: { clusterRole: 'view', namespaces: [ns] } }],
          },
        },
      })) as AccessGrant;
      assert.deepEqual(created.metadata.annotations, {
        'timebox.dev/created-by': ALICE.user,
        'timebox.dev/requested-by': ALICE.user,
        'timebox.dev/requester-groups': 'payments-oncall',
      });
      const seen = await eventually(
        async () => (await grantsApi(cluster.admin()).get(ns, 'plain')).status?.specHash,
        { what: 'the spec hash' },
      );
      const approval = await approvalAs(cluster, BOB, ns, {
        metadata: { name: 'bob-ok' },
        spec: { grantRef: { name: 'plain', specHash: seen }, decision: 'Approve' },
      } as Partial<AccessApproval>);
      assert.deepEqual(approval.spec, {
        grantRef: { name: 'plain', specHash: seen, uid: created.metadata.uid },
        decision: 'Approve',
        approver: BOB.user,
        approverGroups: ['payments-leads'],
      });
      await waitForPhase(cluster, ns, 'plain', 'Active');
      await eventually(() => allowed(cluster, ALICE, 'list', 'pods', ns), { what: 'access' });

      // A restart serves the same certificate: the caBundle does not change.
      await operator.stop();
      operator = start();
      await operator.waitForLog(/admission webhook serving/);
      const after = await hooks.readMutatingWebhookConfiguration({ name: 'timebox-identity' });
      assert.equal(after.webhooks?.[0]?.clientConfig.caBundle, caBundle);
      const secret = await core.readNamespacedSecret({
        name: 'timebox-webhook-tls',
        namespace: OPERATOR_NAMESPACE,
      });
      assert.deepEqual(Object.keys(secret.data ?? {}).sort(), [
        'ca.crt',
        'ca.key',
        'tls.crt',
        'tls.key',
      ]);
    } finally {
      await operator.stop();
      await hooks.deleteMutatingWebhookConfiguration({ name: 'timebox-identity' }).catch(() => {});
      await startTestWebhook(cluster);
    }
  });
});
