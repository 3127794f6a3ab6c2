import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CustomObjectsApi, RbacAuthorizationV1Api } from '@kubernetes/client-node';
import type { Identity } from '../../src/sandbox/impersonation.ts';
import type { ClusterEnvironment } from '../../src/sandbox/environment.ts';
import { freePort } from '../../src/sandbox/ports.ts';
import { isNotFound } from '../../src/kube/errors.ts';
import { REPO_ROOT } from '../../src/kube/manifests.ts';
import { ANNOTATION_RETAIN } from '../../src/controller/retention.ts';
import { CLUSTER_START_TIMEOUT_MS, testCluster } from '../support/cluster.ts';
import { eventually } from '../support/wait.ts';
import { decideAs, refusal, requestAs } from '../support/requests.ts';
import {
  createAccessPolicy,
  createNamespace,
  grant,
  grantsApi,
  installTimebox,
  kubeconfigAs,
  OperatorProcess,
  waitForPhase,
} from '../support/timebox.ts';

const OPERATOR = 'timebox-operator-retention';
const RETENTION_MS = 3_000;
const ALICE: Identity = { user: 'alice@example.com', groups: ['payments-oncall'] };
const BOB: Identity = { user: 'bob@example.com', groups: ['payments-leads'] };
const MALLORY: Identity = { user: 'mallory@example.com', groups: ['payments-oncall'] };
/** Administers the grants of one namespace: may deletecollection them, nothing cluster-wide. */
const DANA: Identity = { user: 'dana@example.com', groups: [] };

/**
 * The ended-grant retention against the real API server, with the operator's
 * shipped RBAC: an ended grant goes, with its approvals, once its retention has
 * passed; an active one, or one annotated to be kept, never does.
 */
describe('ended-grant retention (--ended-grant-retention)', function () {
  this.timeout(120_000);
  let cluster: ClusterEnvironment;
  let work: string;
  let operator: OperatorProcess;
  let metricsPort: number;

  before(async function () {
    this.timeout(CLUSTER_START_TIMEOUT_MS);
    cluster = await testCluster();
    await installTimebox(cluster, [OPERATOR]);
    work = mkdtempSync(join(tmpdir(), 'timebox-retention-'));
    metricsPort = await freePort();
    operator = OperatorProcess.start('operator', kubeconfigAs(cluster, OPERATOR, work), [
      `--ended-grant-retention=${RETENTION_MS / 1000}s`,
      `--metrics-bind-address=127.0.0.1:${metricsPort}`,
    ]);
    await operator.waitForLog(/starting controllers/);
  });
  after(async () => {
    await operator?.stop();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  const gone = (ns: string, name: string) =>
    grantsApi(cluster.admin())
      .get(ns, name)
      .then(
        () => false,
        (err: unknown) => isNotFound(err),
      );

  /** A fresh namespace, and a Manual policy there: payments-oncall request view, payments-leads approve. */
  const manualPolicy = async (prefix: string) => {
    const ns = await createNamespace(cluster, 'payments');
    const policy = `${prefix}-${ns}`;
    await createAccessPolicy(cluster.admin(), policy, {
      requesters: { groups: ['payments-oncall'] },
      selfOnly: true,
      namespaces: [ns],
      access: [{ kubernetes: { clusterRoles: ['view'], namespaces: [ns] } }],
      maxDuration: '4h',
      approval: { mode: 'Manual', approvers: { groups: ['payments-leads'] }, required: 1 },
    });
    return { ns, policy, view: [{ kubernetes: { clusterRole: 'view', namespaces: [ns] } }] };
  };

  it('deletes an ended grant and its approvals after the retention; never an active or retained one', async () => {
    const { ns, policy, view } = await manualPolicy('retention');
    const api = grantsApi(cluster.admin());

    // Active all along, far past the retention: never deleted.
    await api.create(grant(ns, 'active', { duration: '1h' }));
    await waitForPhase(cluster, ns, 'active', 'Active');
    // Ended first, but kept by its annotation.
    const retained = grant(ns, 'retained', { duration: '1s' });
    retained.metadata.annotations = {
      ...retained.metadata.annotations,
      [ANNOTATION_RETAIN]: 'true',
    };
    await api.create(retained);
    await waitForPhase(cluster, ns, 'retained', 'Expired');

    // A requester who forges an ended status on create: the API server drops it
    // (status is a subresource), so the operator sees a new request, and keeps it.
    const forged = requestAs(ALICE, ns, policy, 'forged', { duration: '1h', access: view });
    forged.status = { phase: 'Expired', endedAt: '2020-01-01T00:00:00Z' };
    await grantsApi(cluster.as(ALICE)).create(forged);
    await waitForPhase(cluster, ns, 'forged', 'Pending');

    // Approved by bob, then ended: the grant goes, and so does bob's approval.
    await grantsApi(cluster.as(ALICE)).create(
      requestAs(ALICE, ns, policy, 'ends', { duration: '2s', access: view }),
    );
    const approval = await decideAs(cluster, BOB, ns, 'ends');
    const active = await waitForPhase(cluster, ns, 'ends', 'Active');
    const ended = await waitForPhase(cluster, ns, 'ends', 'Expired');
    const endedAtMs = Date.parse(ended.status!.endedAt!);

    await eventually(() => gone(ns, 'ends'), {
      timeoutMs: 30_000,
      what: () => `the ended grant to be deleted; logs:\n${operator.logs.slice(-3000)}`,
    });
    assert.ok(
      Date.now() >= endedAtMs + RETENTION_MS,
      `deleted no earlier than endedAt + retention (${Date.now() - endedAtMs} ms after it ended)`,
    );
    await assert.rejects(
      cluster.admin().makeApiClient(CustomObjectsApi).getNamespacedCustomObject({
        group: 'timebox.dev',
        version: 'v1alpha1',
        plural: 'accessapprovals',
        namespace: ns,
        name: approval.metadata!.name!,
      }),
      (err: unknown) => isNotFound(err),
      'its approval went with it',
    );

    // The audit trail: what the grant was, now that its record is gone; deleted once.
    const lines = operator.logs
      .split('\n')
      .filter((l) => l.includes('deleted ended grant') && l.includes(`${ns}/ends`));
    assert.equal(lines.length, 1, `the deletion is logged once:\n${lines.join('\n')}`);
    const audit = JSON.parse(lines[0]!) as Record<string, unknown>;
    assert.equal(audit.uid, active.metadata.uid);
    assert.equal(audit.subject, 'User alice@example.com');
    assert.equal(audit.phase, 'Expired');
    assert.equal(audit.endedAt, ended.status!.endedAt);
    assert.equal(audit.approvals, 1);
    // Counted too. The cluster is shared with the other tests, whose ended grants
    // this operator deletes as well: the count is at least this one.
    const metrics = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
    const expired = /^timebox_ended_grants_deleted_total\{phase="Expired"\} (\d+)$/m.exec(metrics);
    assert.ok(Number(expired?.[1]) >= 1, `Expired deletions counted: ${expired?.[0]}`);

    // The others were queued, and their timers set, before 'ends' ended, and the
    // one retention worker takes keys in order: each was judged, and kept.
    assert.equal((await api.get(ns, 'retained')).status?.phase, 'Expired');
    assert.equal((await api.get(ns, 'active')).status?.phase, 'Active');
    assert.equal((await api.get(ns, 'forged')).status?.phase, 'Pending');
  });

  it('lets only an admin add, change or lift a retain hold after creation, never the requester', async () => {
    const { ns, policy, view } = await manualPolicy('retain');
    const rbac = cluster.admin().makeApiClient(RbacAuthorizationV1Api);
    await rbac.createNamespacedRole({
      namespace: ns,
      body: {
        metadata: { name: 'grant-admin' },
        rules: [
          {
            apiGroups: ['timebox.dev'],
            resources: ['accessgrants'],
            verbs: ['get', 'patch', 'deletecollection'],
          },
        ],
      },
    });
    await rbac.createNamespacedRoleBinding({
      namespace: ns,
      body: {
        metadata: { name: 'grant-admin' },
        roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'grant-admin' },
        subjects: [{ kind: 'User', name: DANA.user, apiGroup: 'rbac.authorization.k8s.io' }],
      },
    });
    const as = (who: Identity) => grantsApi(cluster.as(who));
    const setRetain = (who: Identity, name: string, value: string | null) =>
      as(who).patch(ns, name, { metadata: { annotations: { [ANNOTATION_RETAIN]: value } } });
    const retainOf = async (name: string) =>
      (await as(ALICE).get(ns, name)).metadata.annotations?.[ANNOTATION_RETAIN];

    // Whoever may create a grant may ask for it to be kept at creation.
    const held = requestAs(ALICE, ns, policy, 'held', { duration: '1h', access: view });
    held.metadata.annotations = { ...held.metadata.annotations, [ANNOTATION_RETAIN]: 'true' };
    await as(ALICE).create(held);
    await as(ALICE).create(
      requestAs(ALICE, ns, policy, 'unheld', { duration: '1h', access: view }),
    );

    // Afterwards neither the requester nor another requester lifts, changes or adds it.
    for (const [who, name, value] of [
      [ALICE, 'held', null],
      [ALICE, 'held', 'false'],
      [MALLORY, 'held', null],
      [ALICE, 'unheld', 'true'],
    ] as const) {
      const r = await refusal(setRetain(who, name, value));
      assert.equal(r.code, 403, `${who.user} ${name} ${value}: ${r.message}`);
      if (who === ALICE)
        assert.match(
          r.message,
          new RegExp(
            `timebox.dev/retain holds an ended grant against deletion; after creation only someone who may deletecollection accessgrants in namespace ${ns} \\(an admin\\) may add, change or remove it`,
          ),
        );
    }
    assert.equal(await retainOf('held'), 'true');
    assert.equal(await retainOf('unheld'), undefined);
    // The requester still edits the rest of the metadata of her own grant.
    await as(ALICE).patch(ns, 'held', { metadata: { labels: { team: 'payments' } } });

    // An admin of the namespace's grants lifts the hold and sets it again; so does a cluster admin.
    await setRetain(DANA, 'held', null);
    assert.equal(await retainOf('held'), undefined);
    await setRetain(DANA, 'unheld', 'true');
    assert.equal(await retainOf('unheld'), 'true');
    await grantsApi(cluster.admin()).patch(ns, 'held', {
      metadata: { annotations: { [ANNOTATION_RETAIN]: 'true' } },
    });
    assert.equal(await retainOf('held'), 'true');
  });
});

describe('--ended-grant-retention', () => {
  it('refuses what is not a duration, saying what to write, before starting anything', async () => {
    const main = join(REPO_ROOT, 'src', 'main.ts');
    for (const bad of ['30d', '-1h', 'soon']) {
      const err = await new Promise<{ code: number | null; stderr: string }>((resolve) => {
        const child = execFile(
          process.execPath,
          [main, `--ended-grant-retention=${bad}`],
          (e, _o, stderr) => resolve({ code: e ? (child.exitCode ?? 1) : 0, stderr }),
        );
      });
      assert.equal(err.code, 1, bad);
      assert.match(
        err.stderr,
        new RegExp(`--ended-grant-retention must be a duration such as 720h .*got '${bad}'`),
      );
    }
  });
});
