import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { randomUUID } from 'node:crypto';
import {
  ApiException,
  CoreV1Api,
  CustomObjectsApi,
  RbacAuthorizationV1Api,
  type KubeConfig,
  type KubernetesObject,
} from '@kubernetes/client-node';
import { parse, stringify } from 'yaml';
import {
  GROUP,
  NOTIFICATION_CHANNEL,
  VERSION,
  type AccessGrant,
  type AccessPolicy,
  type NotificationChannel,
} from '../../src/api/v1alpha1/types.ts';
import { aGrant } from '../../src/api/v1alpha1/testing.ts';
import { timeboxClient } from '../../src/kube/client.ts';
import { applyManifests, installCRDs, loadManifests, REPO_ROOT } from '../../src/kube/manifests.ts';
import { newCA, newServingCert } from '../../src/admission/certs.ts';
import { grantUidLookup, installWebhookForUrl } from '../../src/admission/kube.ts';
import { startWebhookServer, type WebhookServer } from '../../src/admission/server.ts';
import { createLogger } from '../../src/log/logger.ts';
import type { ClusterEnvironment } from '../../src/sandbox/environment.ts';
import { CLUSTER_START_TIMEOUT_MS, testCluster } from './cluster.ts';
import { eventually } from './wait.ts';

export const OPERATOR_NAMESPACE = 'timebox-system';
/** The GitOps identity the tests trust, besides Argo CD's default one. */
export const GITOPS_USER = 'timebox-gitops';
/** The policy most tests use: anything Kubernetes, approved at once, for the admin. */
export const TEST_POLICY = 'it-auto';
export const ADMIN = 'timebox-sandbox-admin';
const MAIN = fileURLToPath(new URL('../../src/main.ts', import.meta.url));

/**
 * Installs what a cluster admin would: the CRDs, the operator namespace, and the
 * operator's RBAC from config/rbac, bound to the test operator identities so the
 * operators under test run with exactly the permissions we ship.
 */
export async function installTimebox(
  cluster: ClusterEnvironment,
  operatorUsers: string[],
): Promise<void> {
  const admin = cluster.admin();
  await installCRDs(admin);
  const core = admin.makeApiClient(CoreV1Api);
  await core
    .createNamespace({ body: { metadata: { name: OPERATOR_NAMESPACE } } })
    .catch((e: unknown) => {
      if (!(e instanceof ApiException && e.code === 409)) throw e;
    });
  const rbac = loadManifests(join(REPO_ROOT, 'config', 'rbac')).map((o) =>
    withUsers(o, operatorUsers),
  );
  await applyManifests(admin, rbac, 'timebox-tests');
  const admission = loadManifests(join(REPO_ROOT, 'config', 'admission')).map((o) =>
    forTests(o, operatorUsers),
  );
  await applyManifests(admin, admission, 'timebox-tests');
  await startTestWebhook(cluster);
  // Everyone in the tests may ask and approve; policies decide the rest.
  const everyone = ['timebox-requester', 'timebox-approver'].map(
    (role): KubernetesObject =>
      ({
        apiVersion: 'rbac.authorization.k8s.io/v1',
        kind: 'ClusterRoleBinding',
        metadata: { name: `it-${role}` },
        roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: role },
        subjects: [
          { kind: 'Group', name: 'system:authenticated', apiGroup: 'rbac.authorization.k8s.io' },
        ],
      }) as KubernetesObject,
  );
  await applyManifests(admin, everyone, 'timebox-tests');
  const policy = {
    apiVersion: `${GROUP}/${VERSION}`,
    kind: 'AccessPolicy',
    metadata: { name: TEST_POLICY },
    spec: {
      requesters: { users: [ADMIN] },
      namespaces: ['*'],
      subjects: { users: ['*'], groups: ['*'], serviceAccounts: ['*'] },
      access: [
        { kubernetes: { clusterRoles: ['view', 'edit'], namespaces: ['*'], clusterWide: true } },
      ],
      maxDuration: '24h',
      // edit can mint ServiceAccount tokens: the tests hand it out knowingly.
      allowPersistentEscalation: true,
      approval: { mode: 'Auto' },
    },
  } as KubernetesObject;
  await applyManifests(admin, [policy], 'timebox-tests');
  // A new ValidatingAdmissionPolicy is enforced only once the API server has
  // loaded it: wait until a grant in someone else's name is refused.
  await eventually(
    async () => {
      const probe = grant('default', `probe-${randomUUID().slice(0, 6)}`);
      probe.metadata.annotations = { 'timebox.dev/requested-by': 'someone-else' };
      try {
        await grantsApi(admin).create(probe);
        await grantsApi(admin).delete('default', probe.metadata.name!);
        return false;
      } catch (err) {
        return err instanceof ApiException && err.code === 403;
      }
    },
    { timeoutMs: 20_000, what: 'the admission policies to be enforced' },
  );
}

/** The configuration the tests' own identity webhook is installed under. */
export const TEST_WEBHOOK = 'timebox-identity-tests';
let testWebhook: Promise<{ server: WebhookServer; ca: string }> | undefined;

/**
 * The identity webhook (src/admission) for the whole test run, served from this
 * process: operators come and go (crash tests kill them), and with failurePolicy
 * Fail a webhook served by one of them would refuse every create while it is
 * down. test/integration/operator-identity.test.ts shows the operator serving it.
 */
export async function startTestWebhook(cluster: ClusterEnvironment): Promise<void> {
  testWebhook ??= (async () => {
    const now = new Date();
    const ca = newCA(now);
    const server = await startWebhookServer({
      host: '127.0.0.1',
      port: 0,
      certificate: newServingCert(ca, ['127.0.0.1'], now),
      lookup: grantUidLookup(cluster.admin(), () => undefined),
      log: createLogger({ level: 'warn' }),
    });
    return { server, ca: ca.certPem };
  })();
  const { server, ca } = await testWebhook;
  await installWebhookForUrl(cluster.admin(), TEST_WEBHOOK, `https://127.0.0.1:${server.port}`, ca);
}

/** Stops the tests' webhook server (its configuration goes with the cluster). */
export async function stopTestWebhook(): Promise<void> {
  const webhook = await testWebhook?.catch(() => undefined);
  testWebhook = undefined;
  await webhook?.server.close();
}

/**
 * Adds the test GitOps identity to the `trusted` variable of the admission
 * policies, and the test operators' user names to the controller's identities.
 */
function forTests(o: KubernetesObject, operatorUsers: string[]): KubernetesObject {
  const spec = (
    o as {
      spec?: {
        variables?: { name: string; expression: string }[];
        matchConditions?: { name: string; expression: string }[];
      };
    }
  ).spec;
  for (const v of spec?.variables ?? []) {
    if (v.name === 'trusted') v.expression = v.expression.replace(/\]$/, `, '${GITOPS_USER}']`);
  }
  const extra = operatorUsers.map((u) => `, '${u}'`).join('');
  for (const m of spec?.matchConditions ?? []) {
    if (m.name === 'is-the-controller') m.expression = m.expression.replace(/\]$/, `${extra}]`);
  }
  return o;
}

function withUsers(o: KubernetesObject, users: string[]): KubernetesObject {
  if (o.kind !== 'ClusterRoleBinding' && o.kind !== 'RoleBinding') return o;
  const b = o as KubernetesObject & { subjects: unknown[] };
  return {
    ...b,
    subjects: [
      ...b.subjects,
      ...users.map((name) => ({ kind: 'User', name, apiGroup: 'rbac.authorization.k8s.io' })),
    ],
  } as KubernetesObject;
}

/** A kubeconfig file that acts as `user` (impersonated by the sandbox admin). */
export function kubeconfigAs(cluster: ClusterEnvironment, user: string, dir: string): string {
  const doc = parse(readFileSync(cluster.kubeconfigPath!, 'utf8')) as {
    users: { user: Record<string, unknown> }[];
  };
  for (const u of doc.users) u.user.as = user;
  // KUBECONFIG splits on ':', which service account names contain.
  const path = join(dir, `kubeconfig-${user.replace(/[^\w.@-]/g, '_')}`);
  writeFileSync(path, stringify(doc), { mode: 0o600 });
  return path;
}

/** The operator as a real child process (`node src/main.ts`), as users run it. */
export class OperatorProcess {
  readonly child: ChildProcess;
  readonly name: string;
  readonly startedAt = Date.now();
  private out = '';

  private constructor(name: string, child: ChildProcess) {
    this.name = name;
    this.child = child;
    child.stdout?.on('data', (d: Buffer) => (this.out += d.toString()));
    child.stderr?.on('data', (d: Buffer) => (this.out += d.toString()));
  }

  static start(
    name: string,
    kubeconfig: string,
    extraArgs: string[] = [],
    extraEnv: Record<string, string> = {},
    /** The operator's entry point: the sources, or a production build's dist/main.js. */
    main = MAIN,
    /** Node.js flags before the entry point, e.g. the image's (imageNodeFlags). */
    nodeFlags: string[] = [],
  ): OperatorProcess {
    const child = spawn(
      process.execPath,
      [
        ...nodeFlags,
        main,
        `--namespace=${OPERATOR_NAMESPACE}`,
        // Short leases so a crashed leader is replaced quickly in tests.
        '--lease-duration=3',
        '--renew-deadline=2',
        '--retry-period=0.5',
        // Several operators run side by side; a test that scrapes passes its own ports.
        '--metrics-bind-address=0',
        '--health-probe-bind-address=0',
        // The tests' webhook is served from the test process (startTestWebhook).
        '--webhook-bind-address=0',
        ...extraArgs,
      ],
      {
        env: { ...process.env, KUBECONFIG: kubeconfig, TIMEBOX_LOG_LEVEL: 'info', ...extraEnv },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    return new OperatorProcess(name, child);
  }

  get logs(): string {
    return this.out;
  }

  async waitForLog(re: RegExp, timeoutMs = 30_000): Promise<void> {
    await eventually(async () => re.test(this.out), {
      timeoutMs,
      what: () => `${this.name} to log ${re}; logs:\n${this.out.slice(-3000)}`,
    });
  }

  get leading(): boolean {
    return /acquired lease, leading/.test(this.out);
  }

  /** Graceful stop (SIGTERM): releases the lease. */
  async stop(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    this.child.kill('SIGTERM');
    await once(this.child, 'exit');
  }

  /** A crash: SIGKILL, nothing released. */
  async kill(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    this.child.kill('SIGKILL');
    await once(this.child, 'exit');
  }
}

/** AccessGrants as `kc`'s identity: the typed client, with list giving the items. */
export function grantsApi(kc: KubeConfig) {
  const grants = timeboxClient(kc).grants;
  return {
    create: (g: AccessGrant) => grants.create(g),
    get: (namespace: string, name: string) => grants.get(namespace, name),
    list: async (namespace: string) => (await grants.list(namespace)).items,
    delete: (namespace: string, name: string) => grants.delete(namespace, name),
    patch: (namespace: string, name: string, body: unknown) =>
      grants.mergePatch(namespace, name, body),
  };
}

/** Whether `user` may list pods in `namespace`, asked by really trying, as that user. */
export async function canListPods(
  cluster: ClusterEnvironment,
  user: string,
  namespace: string,
): Promise<boolean> {
  try {
    await cluster.as({ user }).makeApiClient(CoreV1Api).listNamespacedPod({ namespace });
    return true;
  } catch (err) {
    if (err instanceof ApiException && err.code === 403) return false;
    throw err;
  }
}

export async function createNamespace(
  cluster: ClusterEnvironment,
  prefix: string,
): Promise<string> {
  const name = `${prefix}-${randomUUID().slice(0, 6)}`;
  await cluster
    .admin()
    .makeApiClient(CoreV1Api)
    .createNamespace({ body: { metadata: { name } } });
  return name;
}

export async function roleBindingsOf(cluster: ClusterEnvironment, namespace: string, uid: string) {
  const list = await cluster
    .admin()
    .makeApiClient(RbacAuthorizationV1Api)
    .listNamespacedRoleBinding({ namespace, labelSelector: `timebox.dev/grant-uid=${uid}` });
  return list.items;
}

/**
 * A grant for the admin to create under TEST_POLICY: aGrant() with view in
 * `namespace`, and no uid (the API server gives it); `spec` replaces whole fields.
 */
export function grant(
  namespace: string,
  name: string,
  spec: Partial<AccessGrant['spec']> = {},
): AccessGrant {
  return aGrant({
    metadata: {
      name,
      namespace,
      uid: undefined,
      annotations: { 'timebox.dev/requested-by': ADMIN },
    },
    spec: {
      policy: TEST_POLICY,
      reason: 'INC-4211 checkout latency',
      access: [{ kubernetes: { clusterRole: 'view', namespaces: [namespace] } }],
      ...spec,
    },
  });
}

export async function waitForPhase(
  cluster: ClusterEnvironment,
  namespace: string,
  name: string,
  phase: string,
  timeoutMs = 10_000,
): Promise<AccessGrant> {
  const api = grantsApi(cluster.admin());
  let last: AccessGrant | undefined;
  const terminal = ['Expired', 'Revoked', 'Denied', 'Failed'];
  const seen = await eventually(
    async () => {
      last = await api.get(namespace, name);
      // A terminal phase is final: waiting longer for another one is pointless.
      const p = last.status?.phase ?? '';
      return p === phase || terminal.includes(p) ? last : undefined;
    },
    {
      timeoutMs,
      what: () => `${namespace}/${name} to be ${phase}; status: ${JSON.stringify(last?.status)}`,
    },
  );
  if (seen.status?.phase !== phase) {
    throw new Error(
      `${namespace}/${name} became ${seen.status?.phase}, not ${phase}; status: ${JSON.stringify(seen.status)}`,
    );
  }
  return seen;
}

/**
 * A barrier, instead of sleeping and hoping: a probe grant made now, and waited
 * for until the operator has granted it. The operator's watch delivers events in
 * resource-version order and its queue hands keys out first in, first out, so once
 * it has acted on the probe it has seen every change made before it. Then an
 * assertion that something did NOT happen means something.
 */
export async function operatorCaughtUp(
  cluster: ClusterEnvironment,
  namespace: string,
): Promise<void> {
  const name = `barrier-${randomUUID().slice(0, 8)}`;
  const api = grantsApi(cluster.admin());
  await api.create(grant(namespace, name, { duration: '1m' }));
  await waitForPhase(cluster, namespace, name, 'Active', 30_000);
  await api.delete(namespace, name);
}

/** Creates a cluster-scoped AccessPolicy. */
export async function createAccessPolicy(
  kc: KubeConfig,
  name: string,
  spec: AccessPolicy['spec'],
): Promise<void> {
  await timeboxClient(kc).policies.create({ metadata: { name }, spec });
}

/** Creates a cluster-scoped NotificationChannel. */
export async function createNotificationChannel(
  kc: KubeConfig,
  name: string,
  spec: NotificationChannel['spec'],
): Promise<void> {
  await kc.makeApiClient(CustomObjectsApi).createClusterCustomObject({
    group: GROUP,
    version: VERSION,
    plural: NOTIFICATION_CHANNEL.plural,
    body: {
      apiVersion: `${GROUP}/${VERSION}`,
      kind: NOTIFICATION_CHANNEL.kind,
      metadata: { name },
      spec,
    },
  });
}

/** What `withOperator` sets up for a suite, filled in by its `before` hook. */
export interface OperatorSuite {
  cluster: ClusterEnvironment;
  operator: OperatorProcess;
  /** A scratch directory, removed after the suite. */
  work: string;
}

/**
 * Registers the hooks most suites share: the test cluster with Timebox
 * installed, and one operator process running as `user` under the shipped RBAC.
 */
export function withOperator(user: string): OperatorSuite {
  const suite = {} as OperatorSuite;
  before(async function () {
    this.timeout(CLUSTER_START_TIMEOUT_MS);
    suite.cluster = await testCluster();
    await installTimebox(suite.cluster, [user]);
    suite.work = mkdtempSync(join(tmpdir(), 'timebox-suite-'));
    suite.operator = OperatorProcess.start(
      'operator',
      kubeconfigAs(suite.cluster, user, suite.work),
    );
    await suite.operator.waitForLog(/starting controllers/);
  });
  after(async () => {
    await suite.operator?.stop();
    if (suite.work) rmSync(suite.work, { recursive: true, force: true });
  });
  return suite;
}
