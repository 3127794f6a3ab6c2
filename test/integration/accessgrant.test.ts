import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { setTimeout as sleep } from 'node:timers/promises';
import { CoreV1Api, RbacAuthorizationV1Api } from '@kubernetes/client-node';
import { stringify } from 'yaml';
import type { ClusterEnvironment } from '../../src/sandbox/environment.ts';
import { CLUSTER_START_TIMEOUT_MS, testCluster } from '../support/cluster.ts';
import { freePort } from '../../src/sandbox/ports.ts';
import { eventually } from '../support/wait.ts';
import {
  canListPods,
  createNamespace,
  grant,
  grantsApi,
  installTimebox,
  kubeconfigAs,
  OperatorProcess,
  roleBindingsOf,
  waitForPhase,
  operatorCaughtUp,
} from '../support/timebox.ts';

const run = promisify(execFile);
const ALICE = 'alice@example.com';
const OPERATORS = ['timebox-operator-a', 'timebox-operator-b'];

/** Polls until alice's access flips to `allowed`, returning when it happened. */
async function accessBecomes(
  cluster: ClusterEnvironment,
  ns: string,
  allowed: boolean,
  timeoutMs = 15_000,
): Promise<number> {
  await eventually(async () => (await canListPods(cluster, ALICE, ns)) === allowed, {
    timeoutMs,
    intervalMs: 20,
    what: `alice's access to ${ns} to become ${allowed ? 'allowed' : 'denied'}`,
  });
  return Date.now();
}

describe('AccessGrant controller (Kubernetes RBAC)', function () {
  this.timeout(120_000);
  let cluster: ClusterEnvironment;
  let work: string;
  let operator: OperatorProcess;
  let kubeconfigA: string;
  let kubeconfigB: string;
  let kubectl: string;

  before(async function () {
    this.timeout(CLUSTER_START_TIMEOUT_MS);
    cluster = await testCluster();
    await installTimebox(cluster, OPERATORS);
    work = mkdtempSync(join(tmpdir(), 'timebox-it-'));
    kubeconfigA = kubeconfigAs(cluster, OPERATORS[0]!, work);
    kubeconfigB = kubeconfigAs(cluster, OPERATORS[1]!, work);
    kubectl = cluster.sandbox?.binaries.kubectl ?? 'kubectl';
    operator = OperatorProcess.start('operator-a', kubeconfigA);
    await operator.waitForLog(/starting controllers/);
  });

  after(async () => {
    await operator?.stop();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  async function kubectlApply(
    manifest: object,
    as?: string,
  ): Promise<{ code: number; stderr: string }> {
    const file = join(work, `m-${Date.now()}.yaml`);
    writeFileSync(file, stringify(manifest));
    try {
      await run(kubectl, [
        '--kubeconfig',
        cluster.kubeconfigPath!,
        ...(as ? ['--as', as] : []),
        'apply',
        '-f',
        file,
      ]);
      return { code: 0, stderr: '' };
    } catch (err) {
      const e = err as { code: number; stderr: string };
      return { code: e.code, stderr: e.stderr };
    }
  }

  it('grants access, and removes it within 1 s of expiresAt', async () => {
    const ns = await createNamespace(cluster, 'payments');
    assert.equal(await canListPods(cluster, ALICE, ns), false, 'alice starts without access');

    await grantsApi(cluster.admin()).create(grant(ns, 'alice-debug', { duration: '5s' }));
    await accessBecomes(cluster, ns, true);
    const active = await waitForPhase(cluster, ns, 'alice-debug', 'Active');
    const expiresAt = Date.parse(active.status!.expiresAt!);
    assert.equal(expiresAt - Date.parse(active.status!.activatedAt!), 5_000);
    const [binding] = await roleBindingsOf(cluster, ns, active.metadata.uid!);
    assert.equal(
      binding?.metadata?.annotations?.['timebox.dev/expires-at'],
      active.status!.expiresAt,
    );
    assert.equal(binding?.roleRef.name, 'view');

    assert.equal(await canListPods(cluster, ALICE, ns), true, 'still allowed before expiry');
    const deniedAt = await accessBecomes(cluster, ns, false);
    const lag = deniedAt - expiresAt;
    assert.ok(lag < 1_000, `access ended ${lag} ms after expiresAt`);
    assert.ok(lag > -200, `access ended ${-lag} ms before expiresAt`);

    const expired = await waitForPhase(cluster, ns, 'alice-debug', 'Expired');
    assert.deepEqual(
      expired.status?.targets?.map((t) => t.state),
      ['Revoked'],
    );
    assert.deepEqual(await roleBindingsOf(cluster, ns, active.metadata.uid!), []);
    const events = await cluster.admin().makeApiClient(CoreV1Api).listNamespacedEvent({
      namespace: ns,
      fieldSelector: `involvedObject.name=alice-debug`,
    });
    assert.deepEqual(events.items.map((e) => e.reason).sort(), [
      'AutoApproved',
      'Expired',
      'Granted',
    ]);
  });

  it('never grants again when an expired grant is re-applied', async () => {
    const ns = await createNamespace(cluster, 'payments');
    const manifest = {
      apiVersion: 'timebox.dev/v1alpha1',
      kind: 'AccessGrant',
      ...grant(ns, 'reapply', { duration: '2s' }),
    };
    assert.equal((await kubectlApply(manifest)).code, 0);
    await waitForPhase(cluster, ns, 'reapply', 'Expired');
    const again = await kubectlApply(manifest);
    assert.equal(again.code, 0, again.stderr);
    await operatorCaughtUp(cluster, ns);
    const g = await grantsApi(cluster.admin()).get(ns, 'reapply');
    assert.equal(g.status?.phase, 'Expired');
    assert.deepEqual(await roleBindingsOf(cluster, ns, g.metadata.uid!), []);
    assert.equal(await canListPods(cluster, ALICE, ns), false);
  });

  it('ends access at once when a grant is revoked, and keeps the record', async () => {
    const ns = await createNamespace(cluster, 'payments');
    const api = grantsApi(cluster.admin());
    await api.create(grant(ns, 'revoke-me'));
    await accessBecomes(cluster, ns, true);
    const t0 = Date.now();
    await api.patch(ns, 'revoke-me', { spec: { revoked: true } });
    const deniedAt = await accessBecomes(cluster, ns, false);
    assert.ok(deniedAt - t0 < 1_000, `revocation took ${deniedAt - t0} ms`);
    const g = await waitForPhase(cluster, ns, 'revoke-me', 'Revoked');
    assert.equal(g.status?.conditions?.find((c) => c.type === 'Ready')?.reason, 'RevokedByUser');
  });

  it('revokes access before a deleted grant goes away', async () => {
    const ns = await createNamespace(cluster, 'payments');
    const api = grantsApi(cluster.admin());
    const created = await api.create(
      grant(ns, 'delete-me', {
        access: [{ kubernetes: { clusterRole: 'view', clusterWide: true } }],
      }),
    );
    await accessBecomes(cluster, ns, true);
    // A ClusterRoleBinding: alice can read every namespace.
    assert.equal(await canListPods(cluster, ALICE, 'default'), true);
    const t0 = Date.now();
    await api.delete(ns, 'delete-me');
    const deniedAt = await accessBecomes(cluster, ns, false);
    assert.ok(deniedAt - t0 < 1_000, `revocation took ${deniedAt - t0} ms`);
    await eventually(
      async () => {
        try {
          await api.get(ns, 'delete-me');
          return false;
        } catch {
          return true;
        }
      },
      { what: 'the grant to be deleted once its finalizer is removed' },
    );
    const crbs = await cluster
      .admin()
      .makeApiClient(RbacAuthorizationV1Api)
      .listClusterRoleBinding({
        labelSelector: `timebox.dev/grant-uid=${created.metadata.uid}`,
      });
    assert.deepEqual(crbs.items, []);
  });

  it('restores a binding deleted or edited by hand while the grant is active', async () => {
    const ns = await createNamespace(cluster, 'payments');
    const g = await grantsApi(cluster.admin()).create(grant(ns, 'drift'));
    await accessBecomes(cluster, ns, true);
    const rbac = cluster.admin().makeApiClient(RbacAuthorizationV1Api);
    const [binding] = await roleBindingsOf(cluster, ns, g.metadata.uid!);
    const name = binding!.metadata!.name!;

    await rbac.deleteNamespacedRoleBinding({ namespace: ns, name });
    await eventually(
      async () => (await roleBindingsOf(cluster, ns, g.metadata.uid!)).length === 1,
      {
        what: 'the deleted binding to be recreated',
      },
    );
    assert.equal(await canListPods(cluster, ALICE, ns), true);

    const live = await rbac.readNamespacedRoleBinding({ namespace: ns, name });
    await rbac.replaceNamespacedRoleBinding({
      namespace: ns,
      name,
      body: {
        ...live,
        subjects: [
          { kind: 'User', name: 'mallory@example.com', apiGroup: 'rbac.authorization.k8s.io' },
        ],
      },
    });
    await eventually(
      async () => {
        const b = await rbac.readNamespacedRoleBinding({ namespace: ns, name });
        return b.subjects?.length === 1 && b.subjects[0]?.name === ALICE;
      },
      { what: 'the edited binding to be repaired' },
    );
    assert.equal(await canListPods(cluster, ALICE, ns), true);
    const events = await cluster
      .admin()
      .makeApiClient(CoreV1Api)
      .listNamespacedEvent({ namespace: ns });
    assert.ok(events.items.some((e) => e.reason === 'DriftRepaired'));
  });

  it('sweeps bindings whose grant does not exist', async () => {
    const ns = await createNamespace(cluster, 'payments');
    const rbac = cluster.admin().makeApiClient(RbacAuthorizationV1Api);
    await rbac.createNamespacedRoleBinding({
      namespace: ns,
      body: {
        metadata: {
          name: 'timebox-orphan',
          labels: { 'timebox.dev/grant-uid': '00000000-dead-beef-0000-000000000000' },
          annotations: {
            'timebox.dev/grant': `${ns}/ghost`,
            'timebox.dev/expires-at': new Date(Date.now() + 3_600_000).toISOString(),
          },
        },
        roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'view' },
        subjects: [{ kind: 'User', name: ALICE, apiGroup: 'rbac.authorization.k8s.io' }],
      },
    });
    await accessBecomes(cluster, ns, false, 5_000);
    await eventually(
      async () => (await rbac.listNamespacedRoleBinding({ namespace: ns })).items.length === 0,
      {
        what: 'the orphaned binding to be swept',
      },
    );
  });

  it('fails as a unit: a target that cannot be granted rolls back the others', async () => {
    const ns = await createNamespace(cluster, 'payments');
    const g = await grantsApi(cluster.admin()).create(
      grant(ns, 'half', {
        access: [{ kubernetes: { clusterRole: 'view', namespaces: [ns, 'no-such-namespace'] } }],
      }),
    );
    const failed = await waitForPhase(cluster, ns, 'half', 'Failed');
    const ready = failed.status?.conditions?.find((c) => c.type === 'Ready');
    assert.equal(ready?.reason, 'NamespaceNotFound');
    assert.match(ready?.message ?? '', /no-such-namespace/);
    assert.deepEqual(
      failed.status?.targets?.map((t) => t.state),
      ['Failed', 'Failed'],
    );
    assert.deepEqual(await roleBindingsOf(cluster, ns, g.metadata.uid!), []);
    assert.equal(await canListPods(cluster, ALICE, ns), false);
  });

  it('grants to a ServiceAccount subject', async () => {
    const ns = await createNamespace(cluster, 'payments');
    await grantsApi(cluster.admin()).create(
      grant(ns, 'robot', { subject: { kind: 'ServiceAccount', name: 'deployer', namespace: ns } }),
    );
    await waitForPhase(cluster, ns, 'robot', 'Active');
    await eventually(() => canListPods(cluster, `system:serviceaccount:${ns}:deployer`, ns), {
      what: 'the service account to be allowed',
    });
    assert.equal(await canListPods(cluster, ALICE, ns), false);
  });

  it('rejects invalid manifests at admission, naming the field', async () => {
    const ns = await createNamespace(cluster, 'payments');
    const base = {
      apiVersion: 'timebox.dev/v1alpha1',
      kind: 'AccessGrant',
      ...grant(ns, 'invalid'),
    };
    const cases: [string, object, RegExp][] = [
      ['duration syntax', { duration: '2d' }, /spec\.duration.*e\.g\. 90m, 2h or 1h30m/],
      ['duration bounds', { duration: '200h' }, /spec\.duration.*between 1s and 168h/],
      ['empty access', { access: [] }, /spec\.access.*at least 1 item/],
      [
        'subject kind',
        { subject: { kind: 'Robot', name: 'r2' } },
        /spec\.subject\.kind.*supported values: "User", "Group", "ServiceAccount"/,
      ],
      [
        'role and clusterRole together',
        { access: [{ kubernetes: { clusterRole: 'view', role: 'x', namespaces: [ns] } }] },
        /spec\.access\[0\]\.kubernetes.*exactly one of clusterRole or role/,
      ],
      [
        'two providers in one entry',
        {
          access: [
            {
              kubernetes: { clusterRole: 'view', namespaces: [ns] },
              gcp: { resource: 'projects/p', role: 'roles/viewer', member: 'user:a@b.c' },
            },
          ],
        },
        /spec\.access\[0\].*exactly one of kubernetes, aws, gcp or azure/,
      ],
    ];
    for (const [what, spec, message] of cases) {
      const res = await kubectlApply({ ...base, spec: { ...base.spec, ...spec } });
      assert.notEqual(res.code, 0, `${what} was accepted`);
      assert.match(res.stderr, message, what);
    }
    assert.equal(await canListPods(cluster, ALICE, ns), false, 'nothing was granted');
  });

  it('keeps the spec of an active grant immutable, except revoked: true', async () => {
    const ns = await createNamespace(cluster, 'payments');
    const manifest = {
      apiVersion: 'timebox.dev/v1alpha1',
      kind: 'AccessGrant',
      ...grant(ns, 'immutable'),
    };
    await kubectlApply(manifest);
    await waitForPhase(cluster, ns, 'immutable', 'Active');
    const wider = await kubectlApply({
      ...manifest,
      spec: {
        ...manifest.spec,
        access: [{ kubernetes: { clusterRole: 'admin', namespaces: [ns] } }],
      },
    });
    assert.notEqual(wider.code, 0);
    assert.match(wider.stderr, /spec: Invalid value.*cannot change after creation/);
    const revoked = await kubectlApply({ ...manifest, spec: { ...manifest.spec, revoked: true } });
    assert.equal(revoked.code, 0, revoked.stderr);
    await waitForPhase(cluster, ns, 'immutable', 'Revoked');
  });

  it('revokes within 2 s of restart what expired while the operator was stopped', async () => {
    const ns = await createNamespace(cluster, 'payments');
    await grantsApi(cluster.admin()).create(grant(ns, 'outlives-operator', { duration: '3s' }));
    const active = await waitForPhase(cluster, ns, 'outlives-operator', 'Active');
    await operator.stop();
    // Nothing else revokes it: RBAC has no expiry of its own.
    await sleep(Math.max(0, Date.parse(active.status!.expiresAt!) - Date.now()) + 1_000);
    assert.equal(
      await canListPods(cluster, ALICE, ns),
      true,
      'the binding outlived its grant while the operator was down',
    );

    operator = OperatorProcess.start('operator-a', kubeconfigA);
    const deniedAt = await accessBecomes(cluster, ns, false, 10_000);
    // From the operator's first log line: the Node.js runtime loading modules on a
    // busy shared machine is not the operator's start-up.
    const firstLog = JSON.parse(operator.logs.split('\n')[0] ?? '{}') as { ts?: string };
    const took = deniedAt - Date.parse(firstLog.ts ?? '');
    console.log(
      `      revoked ${took} ms after the operator started (${deniedAt - operator.startedAt} ms after spawn)`,
    );
    assert.ok(took < 2_000, `revoked ${took} ms after restart`);
    await waitForPhase(cluster, ns, 'outlives-operator', 'Expired');
  });

  it('after a crash, the next leader revokes what expired as soon as it leads', async () => {
    const ns = await createNamespace(cluster, 'payments');
    await grantsApi(cluster.admin()).create(grant(ns, 'outlives-crash', { duration: '2s' }));
    await waitForPhase(cluster, ns, 'outlives-crash', 'Active');
    await operator.kill();
    await sleep(2_500);
    operator = OperatorProcess.start('operator-a', kubeconfigA);
    // The crashed leader's lease (3 s in these tests) must run out first.
    await operator.waitForLog(/acquired lease, leading/, 15_000);
    const leadingAt = Date.now();
    const deniedAt = await accessBecomes(cluster, ns, false, 10_000);
    assert.ok(
      deniedAt - leadingAt < 2_000,
      `revoked ${deniedAt - leadingAt} ms after taking the lease`,
    );
  });

  it('with two operators running, only the leader writes', async () => {
    const auditLog = cluster.sandbox?.auditLogPath;
    assert.ok(auditLog, 'the sandbox records an audit log');
    const metricsPort = await freePort();
    const second = OperatorProcess.start('operator-b', kubeconfigB, [
      `--metrics-bind-address=127.0.0.1:${metricsPort}`,
    ]);
    // How many Revoked grants the standby's cache holds: what it has observed.
    const revokedSeenByStandby = async () => {
      const text = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
      return [...text.matchAll(/^timebox_grants\{phase="Revoked"[^}]*\} (\d+)$/gm)].reduce(
        (sum, m) => sum + Number(m[1]),
        0,
      );
    };
    try {
      await second.waitForLog(/caches synced/);
      await operator.waitForLog(/starting controllers/);
      assert.equal(second.leading, false, 'the second operator waits for the lease');
      const revokedBefore = await revokedSeenByStandby();
      const since = new Date();
      const ns = await createNamespace(cluster, 'payments');
      const api = grantsApi(cluster.admin());
      await api.create(grant(ns, 'two-operators'));
      await accessBecomes(cluster, ns, true);
      await api.patch(ns, 'two-operators', { spec: { revoked: true } });
      await accessBecomes(cluster, ns, false);
      await waitForPhase(cluster, ns, 'two-operators', 'Revoked');
      // Barriers, not a pause: the standby has seen the grant end, and the audit
      // log holds every request up to a marker made after that.
      await eventually(async () => (await revokedSeenByStandby()) > revokedBefore, {
        what: 'the standby to observe the revoked grant',
      });
      const marker = `audit-barrier-${Date.now()}`;
      await cluster
        .admin()
        .makeApiClient(CoreV1Api)
        .createNamespacedConfigMap({ namespace: ns, body: { metadata: { name: marker } } });
      await eventually(async () => readFileSync(auditLog, 'utf8').includes(marker), {
        what: 'the audit log to record the marker',
      });

      const writes = readFileSync(auditLog, 'utf8')
        .split('\n')
        .filter(Boolean)
        .map(
          (l) =>
            JSON.parse(l) as {
              user: { username: string };
              impersonatedUser?: { username: string };
              verb: string;
              objectRef?: { resource?: string };
              stageTimestamp: string;
            },
        )
        .filter((e) => Date.parse(e.stageTimestamp) >= since.getTime())
        .filter((e) => e.objectRef?.resource !== 'leases')
        .map((e) => ({
          who: e.impersonatedUser?.username ?? e.user.username,
          verb: e.verb,
          resource: e.objectRef?.resource,
        }))
        .filter((w) => OPERATORS.includes(w.who));
      const by = (who: string) => writes.filter((w) => w.who === who);
      assert.ok(
        by(OPERATORS[0]!).length >= 4,
        `the leader wrote: ${JSON.stringify(by(OPERATORS[0]!))}`,
      );
      assert.deepEqual(by(OPERATORS[1]!), [], 'the standby operator wrote nothing');
    } finally {
      await second.stop();
    }
  });
});
