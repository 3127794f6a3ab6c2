import assert from 'node:assert/strict';
import { createConnection } from 'node:net';
import { randomUUID } from 'node:crypto';
import {
  AdmissionregistrationV1Api,
  ApiException,
  ApiextensionsV1Api,
  AuthenticationV1Api,
  CoreV1Api,
  CustomObjectsApi,
  KubeConfig,
  RbacAuthorizationV1Api,
} from '@kubernetes/client-node';
import { Sandbox } from '../../src/sandbox/sandbox.ts';
import { isRunning } from '../../src/sandbox/process.ts';
import type { ClusterEnvironment } from '../../src/sandbox/environment.ts';
import { CLUSTER_START_TIMEOUT_MS, testCluster } from '../support/cluster.ts';
import { eventually } from '../support/wait.ts';

function statusOf(err: unknown): number | undefined {
  return err instanceof ApiException ? err.code : undefined;
}

async function expectStatus(p: Promise<unknown>, code: number): Promise<ApiException<unknown>> {
  try {
    await p;
  } catch (err) {
    assert.equal(statusOf(err), code, `expected HTTP ${code}, got ${String(err)}`);
    return err as ApiException<unknown>;
  }
  assert.fail(`expected HTTP ${code}, but the request succeeded`);
}

describe('sandbox control plane', function () {
  let cluster: ClusterEnvironment;
  let ns: string;

  before(async function () {
    this.timeout(CLUSTER_START_TIMEOUT_MS);
    cluster = await testCluster();
    ns = `sandbox-${randomUUID().slice(0, 8)}`;
    await cluster
      .admin()
      .makeApiClient(CoreV1Api)
      .createNamespace({ body: { metadata: { name: ns } } });
  });

  it('writes a kubeconfig file that reaches the API server as admin', async () => {
    assert.ok(cluster.kubeconfigPath, 'the environment has a kubeconfig file');
    const kc = new KubeConfig();
    kc.loadFromFile(cluster.kubeconfigPath);
    const list = await kc.makeApiClient(CoreV1Api).listNamespace();
    assert.ok(list.items.some((n) => n.metadata?.name === ns));
  });

  it('authenticates impersonated users with all their groups', async () => {
    const kc = cluster.as({ user: 'alice@example.com', groups: ['payments-oncall', 'devs'] });
    const review = await kc.makeApiClient(AuthenticationV1Api).createSelfSubjectReview({
      body: { apiVersion: 'authentication.k8s.io/v1', kind: 'SelfSubjectReview' },
    });
    const info = review.status?.userInfo;
    assert.equal(info?.username, 'alice@example.com');
    assert.deepEqual([...(info?.groups ?? [])].sort(), [
      'devs',
      'payments-oncall',
      'system:authenticated',
    ]);
  });

  it('enforces RBAC: a user is denied until an admin binds a role', async () => {
    const alice = cluster.as({ user: 'alice@example.com' }).makeApiClient(CoreV1Api);
    const err = await expectStatus(alice.listNamespacedPod({ namespace: ns }), 403);
    assert.match(String(err.body), /alice@example.com/);

    await cluster
      .admin()
      .makeApiClient(RbacAuthorizationV1Api)
      .createNamespacedRoleBinding({
        namespace: ns,
        body: {
          metadata: { name: 'alice-view' },
          roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'view' },
          subjects: [
            { kind: 'User', name: 'alice@example.com', apiGroup: 'rbac.authorization.k8s.io' },
          ],
        },
      });
    const pods = await eventually(() => alice.listNamespacedPod({ namespace: ns }), {
      what: 'alice to be allowed to list pods',
    });
    assert.deepEqual(pods.items, []);

    // The binding is scoped: other namespaces and other users stay denied.
    await expectStatus(alice.listNamespacedPod({ namespace: 'default' }), 403);
    const bob = cluster.as({ user: 'bob@example.com' }).makeApiClient(CoreV1Api);
    await expectStatus(bob.listNamespacedPod({ namespace: ns }), 403);
  });

  it('authorizes through group membership', async () => {
    const rbac = cluster.admin().makeApiClient(RbacAuthorizationV1Api);
    await rbac.createNamespacedRoleBinding({
      namespace: ns,
      body: {
        metadata: { name: 'leads-edit' },
        roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'edit' },
        subjects: [
          { kind: 'Group', name: 'payments-leads', apiGroup: 'rbac.authorization.k8s.io' },
        ],
      },
    });
    const asMember = cluster
      .as({ user: 'carol@example.com', groups: ['other', 'payments-leads'] })
      .makeApiClient(CoreV1Api);
    await eventually(() => asMember.listNamespacedConfigMap({ namespace: ns }), {
      what: 'group member to be allowed',
    });
    const outsider = cluster
      .as({ user: 'carol@example.com', groups: ['other'] })
      .makeApiClient(CoreV1Api);
    await expectStatus(outsider.listNamespacedConfigMap({ namespace: ns }), 403);
  });

  it('installs and serves a CustomResourceDefinition', async () => {
    const admin = cluster.admin();
    const group = 'sandbox.test.timebox.dev';
    await admin.makeApiClient(ApiextensionsV1Api).createCustomResourceDefinition({
      body: {
        metadata: { name: `widgets.${group}` },
        spec: {
          group,
          scope: 'Namespaced',
          names: { plural: 'widgets', singular: 'widget', kind: 'Widget' },
          versions: [
            {
              name: 'v1',
              served: true,
              storage: true,
              schema: {
                openAPIV3Schema: {
                  type: 'object',
                  properties: {
                    spec: {
                      type: 'object',
                      required: ['size'],
                      properties: { size: { type: 'integer', minimum: 1 } },
                    },
                  },
                },
              },
            },
          ],
        },
      },
    });
    const objects = admin.makeApiClient(CustomObjectsApi);
    const body = {
      apiVersion: `${group}/v1`,
      kind: 'Widget',
      metadata: { name: 'w1' },
      spec: { size: 3 },
    };
    await eventually(
      () =>
        objects.createNamespacedCustomObject({
          group,
          version: 'v1',
          namespace: ns,
          plural: 'widgets',
          body,
        }),
      { timeoutMs: 20_000, what: 'the CRD to be served' },
    );
    const got = (await objects.getNamespacedCustomObject({
      group,
      version: 'v1',
      namespace: ns,
      plural: 'widgets',
      name: 'w1',
    })) as { spec: { size: number } };
    assert.equal(got.spec.size, 3);

    // The schema is enforced by the real API server.
    const invalid = { ...body, metadata: { name: 'w2' }, spec: { size: 0 } };
    const err = await expectStatus(
      objects.createNamespacedCustomObject({
        group,
        version: 'v1',
        namespace: ns,
        plural: 'widgets',
        body: invalid,
      }),
      422,
    );
    assert.match(String(err.body), /spec\.size/);
  });

  it('enforces ValidatingAdmissionPolicies', async () => {
    const admission = cluster.admin().makeApiClient(AdmissionregistrationV1Api);
    const name = `deny-forbidden-${ns}`;
    await admission.createValidatingAdmissionPolicy({
      body: {
        metadata: { name },
        spec: {
          failurePolicy: 'Fail',
          matchConstraints: {
            resourceRules: [
              {
                apiGroups: [''],
                apiVersions: ['v1'],
                operations: ['CREATE'],
                resources: ['configmaps'],
              },
            ],
          },
          validations: [
            {
              expression: "!object.metadata.name.startsWith('forbidden')",
              message: 'config maps may not be called forbidden-*',
            },
          ],
        },
      },
    });
    await admission.createValidatingAdmissionPolicyBinding({
      body: {
        metadata: { name },
        spec: {
          policyName: name,
          validationActions: ['Deny'],
          matchResources: {
            namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': ns } },
          },
        },
      },
    });
    const core = cluster.admin().makeApiClient(CoreV1Api);
    const err = await eventually(
      async () => {
        try {
          await core.createNamespacedConfigMap({
            namespace: ns,
            body: { metadata: { generateName: 'forbidden-' } },
          });
          return false;
        } catch (e) {
          return statusOf(e) === 422 ? (e as ApiException<unknown>) : false;
        }
      },
      { timeoutMs: 20_000, what: 'the policy to take effect' },
    );
    assert.match(String(err.body), /config maps may not be called forbidden-\*/);
    await core.createNamespacedConfigMap({
      namespace: ns,
      body: { metadata: { name: 'allowed' } },
    });
  });
});

describe('sandbox lifecycle', function () {
  it('stops cleanly and leaves no process behind', async function () {
    this.timeout(CLUSTER_START_TIMEOUT_MS);
    const sandbox = await Sandbox.start();
    const pids = sandbox.pids;
    const port = Number(new URL(sandbox.server).port);
    assert.equal(pids.length, 3);
    assert.ok(pids.every(isRunning), 'every component runs while the sandbox is up');
    await sandbox.adminConfig().makeApiClient(CoreV1Api).listNamespace();
    console.log(`      warm sandbox start: ${(sandbox.startupMs / 1000).toFixed(1)}s`);

    await sandbox.stop();
    assert.deepEqual(pids.filter(isRunning), [], 'no component process is left after stop');
    const refused = await new Promise<boolean>((resolveConn) => {
      const sock = createConnection({ host: '127.0.0.1', port });
      sock.once('connect', () => {
        sock.destroy();
        resolveConn(false);
      });
      sock.once('error', () => resolveConn(true));
    });
    assert.ok(refused, 'the API server port is closed after stop');
  });
});
