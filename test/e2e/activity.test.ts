import assert from 'node:assert/strict';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { request as httpsRequest, type RequestOptions } from 'node:https';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { fileURLToPath } from 'node:url';
import {
  ApiException,
  CoreV1Api,
  KubeConfig,
  RbacAuthorizationV1Api,
} from '@kubernetes/client-node';
import type { AccessActivity } from '../../src/api/v1alpha1/activity.ts';
import type { AccessGrant, AccessPolicy } from '../../src/api/v1alpha1/types.ts';
import { timeboxClient } from '../../src/kube/client.ts';
import { ImpersonatingKubeConfig } from '../../src/sandbox/impersonation.ts';
import { freePort } from '../../src/sandbox/ports.ts';
import { personKubeconfigPath } from '../../src/sandbox/sandbox.ts';
import { CLUSTER_START_TIMEOUT_MS } from '../support/cluster.ts';
import { eventually } from '../support/wait.ts';

const MAIN = fileURLToPath(new URL('../../src/main.ts', import.meta.url));
const CLI = fileURLToPath(new URL('../../src/cli/main.ts', import.meta.url));
const ALICE = 'alice@example.com';

/** A GET as the kubeconfig's user, over node:https; resolves to the HTTP status. */
async function rawGet(kc: KubeConfig, path: string): Promise<number> {
  const opts: RequestOptions = {};
  await kc.applyToHTTPSOptions(opts);
  const server = new URL(kc.getCurrentCluster()!.server);
  return new Promise((resolve, reject) => {
    const req = httpsRequest(
      { ...opts, host: server.hostname, port: server.port, path, method: 'GET' },
      (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      },
    );
    req.on('error', reject);
    req.end();
  });
}

const refused = (p: Promise<unknown>) =>
  p.then(
    () => assert.fail('expected the API server to refuse'),
    (err: unknown) => assert.equal((err as ApiException<unknown>).code, 403),
  );

/**
 * `npm start` as a newcomer runs it: the sandbox's API server sends its audit
 * events to the operator, with nothing to configure. Alice, granted edit in
 * payments, reads, writes, and tries what edit does not allow; her grant's
 * record says so, and `timebox describe` shows it.
 */
describe('grant activity from the sandbox API server', function () {
  this.timeout(CLUSTER_START_TIMEOUT_MS);
  let work: string;
  let child: ChildProcess;
  let stderr = '';
  let metricsPort: number;
  let admin: KubeConfig;
  let alice: KubeConfig;
  let sandboxDir: string;

  before(async () => {
    work = await mkdtemp(join(tmpdir(), 'timebox-activity-'));
    metricsPort = await freePort();
    child = spawn(
      process.execPath,
      [
        MAIN,
        '--sandbox',
        `--metrics-bind-address=127.0.0.1:${metricsPort}`,
        '--health-probe-bind-address=0',
        // Not the default 9443: other runs on this machine may hold it.
        `--webhook-bind-address=:${await freePort()}`,
        // Records written every second, so the test waits seconds, not half a minute.
        '--activity-flush-interval=1',
      ],
      { cwd: work, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    child.stdout!.resume();
    await eventually(async () => /operator started/.test(stderr), {
      timeoutMs: 120_000,
      what: () => `the operator to start: ${stderr.slice(-3000)}`,
    });
    sandboxDir = join(work, '.timebox', 'sandbox');
    admin = new KubeConfig();
    admin.loadFromFile(join(sandboxDir, 'kubeconfig'));
    alice = new KubeConfig();
    alice.loadFromFile(personKubeconfigPath(sandboxDir, ALICE));
    const policy = (name: string, extra: Partial<AccessPolicy['spec']> = {}) =>
      timeboxClient(admin).policies.create({
        metadata: { name },
        spec: {
          requesters: { users: [ALICE] },
          selfOnly: true,
          namespaces: ['payments'],
          access: [{ kubernetes: { clusterRoles: ['edit'], namespaces: ['payments'] } }],
          maxDuration: '1h',
          approval: { mode: 'Auto' },
          allowPersistentEscalation: true,
          ...extra,
        },
      });
    await policy('activity-e2e');
    await policy('activity-e2e-idle', { idleTimeout: '10s' });
  });

  after(async () => {
    if (child && child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      await once(child, 'exit');
    }
    await rm(work, { recursive: true, force: true });
  });

  const request = async (name: string, policy: string): Promise<AccessGrant> => {
    await timeboxClient(alice).grants.create({
      metadata: { name, namespace: 'payments' },
      spec: {
        subject: { kind: 'User', name: ALICE },
        policy,
        duration: '30m',
        reason: 'INC-4211 checkout latency',
        access: [{ kubernetes: { clusterRole: 'edit', namespaces: ['payments'] } }],
      },
    });
    let last: AccessGrant | undefined;
    return eventually(
      async () => {
        last = await timeboxClient(admin).grants.get('payments', name);
        return last.status?.phase === 'Active' ? last : undefined;
      },
      { timeoutMs: 30_000, what: () => `${name} to be Active: ${JSON.stringify(last?.status)}` },
    );
  };

  it('records what the granted user did, and describe shows it', async () => {
    await request('alice-activity', 'activity-e2e');
    const core = alice.makeApiClient(CoreV1Api);
    await core.listNamespacedPod({ namespace: 'payments' });
    await core.listNamespacedConfigMap({ namespace: 'payments' });
    await core.createNamespacedConfigMap({
      namespace: 'payments',
      body: { metadata: { name: 'activity-note' }, data: { note: 'INC-4211' } },
    });
    // What edit does not give: RBAC, and anything outside payments.
    await refused(
      alice
        .makeApiClient(RbacAuthorizationV1Api)
        .deleteNamespacedRoleBinding({ namespace: 'payments', name: 'anything' }),
    );
    await refused(core.listNamespacedSecret({ namespace: 'kube-system' }));
    // Made by the admin as alice: an impersonated request counts for alice.
    const asAlice = new ImpersonatingKubeConfig(admin, {
      user: ALICE,
      groups: ['payments-oncall'],
    });
    await asAlice
      .makeApiClient(CoreV1Api)
      .readNamespacedConfigMap({ namespace: 'payments', name: 'activity-note' });

    let record: AccessActivity | undefined;
    await eventually(
      async () => {
        record = await timeboxClient(admin)
          .activities.get('payments', 'alice-activity')
          .catch(() => undefined);
        const s = record?.status;
        return (
          (s?.requests ?? 0) >= 4 &&
          (s?.denied?.length ?? 0) >= 2 &&
          s?.counts?.some((c) => c.verb === 'get' && c.resource === 'configmaps')
        );
      },
      {
        timeoutMs: 30_000,
        what: () =>
          `the record: ${JSON.stringify(record)}; operator: ${stderr
            .split('\n')
            .filter((l) => /activity|audit/.test(l))
            .slice(-20)
            .join('\n')}`,
      },
    );
    const s = record!.status!;
    const count = (verb: string, resource: string) =>
      s.counts?.find(
        (c) => c.verb === verb && c.resource === resource && c.namespace === 'payments',
      )?.count;
    assert.equal(count('list', 'pods'), 1);
    assert.equal(count('list', 'configmaps'), 1);
    assert.equal(count('create', 'configmaps'), 1);
    assert.equal(count('get', 'configmaps'), 1, 'the impersonated read');
    assert.deepEqual(
      s.writes?.map((w) => `${w.verb} ${w.resource}/${w.name} ${w.code}`),
      ['create configmaps/activity-note 201'],
    );
    assert.deepEqual(s.denied?.map((d) => `${d.verb} ${d.resource} ${d.namespace}`).sort(), [
      'delete rolebindings.rbac.authorization.k8s.io payments',
      'list secrets kube-system',
    ]);
    assert.ok(s.firstUsed && s.lastUsed && s.firstUsed <= s.lastUsed);
    // The operator's own requests (its watches, its writes) are nobody's activity.
    assert.ok(!s.counts?.some((c) => c.resource.startsWith('accessgrants')));
    assert.deepEqual(
      record!.metadata.ownerReferences?.map((o) => `${o.kind}/${o.name}`),
      ['AccessGrant/alice-activity'],
    );

    const { stdout } = await promisify(execFile)(
      process.execPath,
      [CLI, 'describe', 'alice-activity', '-n', 'payments'],
      { env: { ...process.env, KUBECONFIG: personKubeconfigPath(sandboxDir, ALICE) } },
    );
    assert.match(stdout, /Activity:\n {2}Requests: {4}\d+/);
    assert.match(stdout, /Writes:\n {4}- \S+ create configmaps\/activity-note in payments \(201\)/);
    assert.match(
      stdout,
      /Denied attempts:[\s\S]*delete rolebindings\.rbac\.authorization\.k8s\.io\/anything in payments \(403\)/,
    );

    const metrics = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
    const attributed = /^timebox_audit_events_total\{result="attributed"\} (\d+)/m.exec(metrics);
    assert.ok(
      Number(attributed?.[1]) >= 6,
      metrics.match(/timebox_audit_events_total.*/g)?.join('\n'),
    );
  });

  it('once the grant ends, says which of the granted permissions were used, and describe shows it', async () => {
    // alice-activity, used above, ends: revoked by its requester.
    await timeboxClient(alice).grants.mergePatch('payments', 'alice-activity', {
      spec: { revoked: true },
    });
    let record: AccessActivity | undefined;
    await eventually(
      async () => {
        record = await timeboxClient(admin).activities.get('payments', 'alice-activity');
        return record.status?.rightSizing;
      },
      { timeoutMs: 30_000, what: () => `the right-sizing hint: ${JSON.stringify(record?.status)}` },
    );
    const r = record!.status!.rightSizing!;
    assert.deepEqual(r.roles, ['ClusterRole edit in payments']);
    // edit is aggregated (system:aggregate-to-edit and others); its rules were resolved.
    const used = (resource: string) => r.used.find((u) => u.resource === resource);
    assert.deepEqual(used('configmaps')?.used, ['create', 'get', 'list']);
    assert.ok(used('configmaps')?.verbs.includes('delete'), JSON.stringify(used('configmaps')));
    assert.deepEqual(used('pods')?.used, ['list']);
    assert.ok(r.unusedResources.includes('secrets'), r.unusedResources.join(', '));
    assert.ok(r.unusedResources.includes('deployments.apps'), r.unusedResources.join(', '));
    assert.deepEqual(r.suggestedRules, [
      { apiGroups: [''], resources: ['configmaps'], verbs: ['create', 'get', 'list'] },
      { apiGroups: [''], resources: ['pods'], verbs: ['list'] },
    ]);
    assert.match(
      r.summary,
      /^Used 4 verb-resource permissions of the \d+ granted, on 2 of \d+ resources; 2 rules would have covered every use/,
    );

    const { stdout } = await promisify(execFile)(
      process.execPath,
      [CLI, 'describe', 'alice-activity', '-n', 'payments'],
      { env: { ...process.env, KUBECONFIG: personKubeconfigPath(sandboxDir, ALICE) } },
    );
    assert.match(stdout, /Right-sizing: Used 4 verb-resource permissions/);
    assert.match(stdout, /- \{apiGroups: \[""\], resources: \[pods\], verbs: \[list\]\}/);
  });

  it('revokes a grant left unused for its idleTimeout, with reason Idle', async () => {
    const g = await request('alice-idle', 'activity-e2e-idle');
    let last: AccessGrant | undefined;
    await eventually(
      async () => {
        last = await timeboxClient(admin).grants.get('payments', 'alice-idle');
        return last.status?.phase === 'Revoked';
      },
      {
        timeoutMs: 60_000,
        what: () => `alice-idle to be revoked: ${JSON.stringify(last?.status)}`,
      },
    );
    const ended = last!.status!;
    assert.equal(ended.history?.at(-1)?.reason, 'Idle');
    assert.match(ended.history?.at(-1)?.message ?? '', /idle for 10s/);
    const idleForMs = Date.parse(ended.endedAt!) - Date.parse(g.status!.activatedAt!);
    assert.ok(idleForMs >= 10_000, `revoked after ${idleForMs} ms`);
    // Access is gone: the grant's binding went with it.
    const bindings = await admin.makeApiClient(RbacAuthorizationV1Api).listNamespacedRoleBinding({
      namespace: 'payments',
      labelSelector: `timebox.dev/grant-uid=${g.metadata.uid}`,
    });
    assert.deepEqual(bindings.items, []);
  });

  it('refused requests with huge names neither make the record unstorable nor lose later events', async () => {
    await request('alice-huge', 'activity-e2e');
    const core = alice.makeApiClient(CoreV1Api);
    // What anyone with a grant can send: refused, so it needs no permission, and
    // copied by the API server from the URL into its audit events.
    // Sent raw: the client's fetch refuses URLs this long, the API server does not.
    for (let i = 0; i < 10; i++)
      assert.equal(
        await rawGet(alice, `/api/v1/namespaces/kube-system/secrets/${i}${'x'.repeat(200_000)}`),
        403,
      );
    await core.listNamespacedPod({ namespace: 'payments' });
    let record: AccessActivity | undefined;
    await eventually(
      async () => {
        record = await timeboxClient(admin)
          .activities.get('payments', 'alice-huge')
          .catch(() => undefined);
        return (record?.status?.requests ?? 0) >= 1 && (record?.status?.denied?.length ?? 0) >= 10;
      },
      {
        timeoutMs: 30_000,
        what: () =>
          `the record: ${JSON.stringify(record).slice(0, 2000)}; operator: ${stderr
            .split('\n')
            .filter((l) => /activity|audit/.test(l))
            .slice(-20)
            .join('\n')}`,
      },
    );
    const names = record!.status!.denied!.map((d) => d.name ?? '');
    assert.ok(
      names.every((n) => n.length <= 253 && n.endsWith('…')),
      names.join('\n'),
    );
    assert.ok(JSON.stringify(record).length < 20_000);
    const metrics = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
    assert.match(metrics, /timebox_audit_events_total\{result="lost"\} 0/);
    assert.match(metrics, /timebox_activity_records_refused_total\{outcome="shrunk"\} 0/);
  });
});
