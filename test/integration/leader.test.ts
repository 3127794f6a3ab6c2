import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  CoordinationV1Api,
  CoreV1Api,
  KubeConfig,
  RbacAuthorizationV1Api,
  V1MicroTime,
  type V1Lease,
} from '@kubernetes/client-node';
import { createLogger } from '../../src/log/logger.ts';
import { LeaderElector } from '../../src/runtime/leader.ts';
import type { ClusterEnvironment } from '../../src/sandbox/environment.ts';
import { CLUSTER_START_TIMEOUT_MS, testCluster } from '../support/cluster.ts';
import { eventually } from '../support/wait.ts';

const LEASE_MS = 2000;
const RENEW_MS = 1500;
const RETRY_MS = 200;

/** One elector plus what its callbacks saw, with timestamps from the shared wall clock. */
interface Candidate {
  identity: string;
  elector: LeaderElector;
  done: Promise<void>;
  startedAt?: number;
  stoppedAt?: number;
  signal?: AbortSignal;
  runEndedAt?: number;
  workEndedAt?: number;
  /** The holder this candidate last saw on the lease (onNewLeader). */
  sawLeader?: string;
}

function ms(t: unknown): number {
  return new Date(t as string).getTime();
}

describe('leader election', function () {
  let cluster: ClusterEnvironment;
  let ns: string;
  let leases: CoordinationV1Api;
  let candidates: Candidate[] = [];
  const quiet = createLogger({ level: 'error', write: () => {} });

  before(async function () {
    this.timeout(CLUSTER_START_TIMEOUT_MS);
    cluster = await testCluster();
    ns = `leader-${randomUUID().slice(0, 8)}`;
    await cluster
      .admin()
      .makeApiClient(CoreV1Api)
      .createNamespace({ body: { metadata: { name: ns } } });
    leases = cluster.admin().makeApiClient(CoordinationV1Api);
  });

  afterEach(async function () {
    this.timeout(10_000);
    await Promise.all(candidates.map((c) => c.elector.stop()));
    candidates = [];
  });

  function start(
    lease: string,
    identity: string,
    opts: { releaseOnCancel?: boolean; kubeConfig?: KubeConfig; windDownMs?: number } = {},
  ): Candidate {
    const elector = new LeaderElector({
      kubeConfig: opts.kubeConfig ?? cluster.admin(),
      namespace: ns,
      name: lease,
      identity,
      leaseDurationMs: LEASE_MS,
      renewDeadlineMs: RENEW_MS,
      retryPeriodMs: RETRY_MS,
      releaseOnCancel: opts.releaseOnCancel ?? true,
      log: quiet,
    });
    const c: Candidate = { identity, elector, done: Promise.resolve() };
    c.done = elector
      .run({
        onStartedLeading: async (signal) => {
          c.startedAt = Date.now();
          c.signal = signal;
          if (opts.windDownMs === undefined) return;
          await new Promise((resolve) => signal.addEventListener('abort', resolve));
          await sleep(opts.windDownMs);
          c.workEndedAt = Date.now();
        },
        onStoppedLeading: () => {
          c.stoppedAt = Date.now();
        },
        onNewLeader: (who) => {
          c.sawLeader = who;
        },
      })
      .then(() => {
        c.runEndedAt = Date.now();
      });
    candidates.push(c);
    return c;
  }

  const readLease = (name: string): Promise<V1Lease> =>
    leases.readNamespacedLease({ name, namespace: ns });

  const leaderOf = (cs: Candidate[], what: string, timeoutMs = 5000): Promise<Candidate> =>
    eventually(async () => cs.find((c) => c.elector.isLeader()), { timeoutMs, what });

  it('elects exactly one of two candidates and keeps it while it renews', async function () {
    this.timeout(15_000);
    const both = [start('one', 'a'), start('one', 'b')];
    const leader = await leaderOf(both, 'a leader to be elected');

    // Watch for well past a lease duration: renewals must keep the same single leader.
    const until = Date.now() + 2.5 * LEASE_MS;
    while (Date.now() < until) {
      assert.deepEqual(
        both.filter((c) => c.elector.isLeader()).map((c) => c.identity),
        [leader.identity],
      );
      await sleep(50);
    }
    assert.deepEqual(
      both.filter((c) => c.startedAt !== undefined).map((c) => c.identity),
      [leader.identity],
      'leadership never changed hands',
    );
    const lease = await readLease('one');
    assert.equal(lease.spec?.holderIdentity, leader.identity);
    assert.equal(lease.spec?.leaseDurationSeconds, LEASE_MS / 1000);
    assert.equal(lease.spec?.leaseTransitions, 0);
    assert.ok(Date.now() - ms(lease.spec?.renewTime) < LEASE_MS, 'the lease is being renewed');
    assert.ok(ms(lease.spec?.acquireTime) <= leader.startedAt!);
  });

  it('hands over within a second once the leader stops, winds down and releases', async function () {
    this.timeout(15_000);
    // Winding down for longer than a lease duration: a must keep renewing meanwhile.
    const first = start('release', 'a', { windDownMs: LEASE_MS + 500 });
    await leaderOf([first], 'a to lead');
    const second = start('release', 'b');
    // A barrier, not a sleep: b has read the lease and seen a hold it.
    await eventually(async () => second.sawLeader === 'a', { what: 'b to see a lead' });
    assert.equal(second.elector.isLeader(), false, 'b waits while a holds the lease');

    const stopping = first.elector.stop();
    await eventually(async () => first.signal?.aborted, { what: "a's signal to abort" });
    assert.equal(first.elector.isLeader(), false, 'a stops claiming leadership at once');
    await stopping;
    assert.ok(first.workEndedAt !== undefined, "stop() waited for a's work");
    assert.ok(first.stoppedAt !== undefined, 'onStoppedLeading was called');
    assert.ok(first.stoppedAt >= first.workEndedAt);
    assert.ok(first.runEndedAt !== undefined, 'run() resolved');

    await leaderOf([second], 'b to take over', 2000);
    assert.ok(second.startedAt! >= first.workEndedAt, "b led only after a's work had ended");
    const handover = second.startedAt! - first.workEndedAt;
    assert.ok(handover < 1000, `b led ${handover} ms after a's work ended`);
    const lease = await readLease('release');
    assert.equal(lease.spec?.holderIdentity, 'b');
    // Created by a (0), released (still 0), taken by b.
    assert.equal(lease.spec?.leaseTransitions, 1);
  });

  it('takes over only after the lease expires when the leader vanishes without releasing', async function () {
    this.timeout(15_000);
    const first = start('expire', 'a', { releaseOnCancel: false });
    await leaderOf([first], 'a to lead');
    const second = start('expire', 'b');
    await eventually(async () => second.sawLeader === 'a', { what: 'b to see a lead' });

    await first.elector.stop();
    const abandoned = await readLease('expire');
    assert.equal(abandoned.spec?.holderIdentity, 'a', 'a did not release');
    const lastRenew = ms(abandoned.spec?.renewTime);

    await leaderOf([second], 'b to take over', LEASE_MS + 3000);
    const lease = await readLease('expire');
    assert.equal(lease.spec?.holderIdentity, 'b');
    assert.equal(lease.spec?.leaseTransitions, 1);
    const takeover = ms(lease.spec?.acquireTime) - lastRenew;
    assert.ok(takeover >= LEASE_MS, `b took over ${takeover} ms after a's last renewal`);
    assert.ok(second.startedAt! - lastRenew >= LEASE_MS);
    assert.ok(takeover < LEASE_MS + 2000, `b took over ${takeover} ms after a's last renewal`);
  });

  it('steps down when renewals fail for longer than the renew deadline', async function () {
    this.timeout(20_000);
    const user = 'leader-candidate@example.com';
    const rbac = cluster.admin().makeApiClient(RbacAuthorizationV1Api);
    await rbac.createNamespacedRole({
      namespace: ns,
      body: {
        metadata: { name: 'lease-holder' },
        rules: [
          {
            apiGroups: ['coordination.k8s.io'],
            resources: ['leases'],
            verbs: ['get', 'create', 'update'],
          },
        ],
      },
    });
    await rbac.createNamespacedRoleBinding({
      namespace: ns,
      body: {
        metadata: { name: 'lease-holder' },
        roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'lease-holder' },
        subjects: [{ kind: 'User', name: user, apiGroup: 'rbac.authorization.k8s.io' }],
      },
    });
    const c = start('deadline', 'a', { kubeConfig: cluster.as({ user }) });
    await leaderOf([c], 'a to lead', 10_000);

    // Revoking access makes every renewal fail with 403 while the lease stays a's.
    const revokedAt = Date.now();
    await rbac.deleteNamespacedRoleBinding({ name: 'lease-holder', namespace: ns });
    await eventually(async () => c.runEndedAt !== undefined, {
      timeoutMs: RENEW_MS + 3000,
      what: 'run() to resolve after losing the lease',
    });
    assert.equal(c.signal?.aborted, true);
    assert.ok(c.stoppedAt !== undefined, 'onStoppedLeading was called');
    assert.equal(c.elector.isLeader(), false);
    const lostAfter = c.stoppedAt - revokedAt;
    assert.ok(
      lostAfter >= RENEW_MS - RETRY_MS - 100,
      `stepped down only ${lostAfter} ms after revocation`,
    );
    const lease = await readLease('deadline');
    assert.equal(lease.spec?.holderIdentity, 'a');
    assert.ok(
      c.stoppedAt < ms(lease.spec?.renewTime) + LEASE_MS,
      'stepped down before anyone else could take the lease',
    );
  });

  it("steps down at once when another holder is found, and leaves that holder's lease alone", async function () {
    this.timeout(15_000);
    const c = start('intruded', 'a');
    await leaderOf([c], 'a to lead');
    const current = await readLease('intruded');
    const now = new V1MicroTime(Date.now());
    await leases.replaceNamespacedLease({
      name: 'intruded',
      namespace: ns,
      body: {
        ...current,
        spec: { ...current.spec, holderIdentity: 'intruder', renewTime: now, acquireTime: now },
      },
    });
    const intrudedAt = Date.now();
    await eventually(async () => c.runEndedAt !== undefined, {
      timeoutMs: 3 * RETRY_MS + 1000,
      what: 'a to step down',
    });
    assert.ok(c.stoppedAt! - intrudedAt < RENEW_MS, 'did not wait for the renew deadline');
    await c.elector.stop();
    const lease = await readLease('intruded');
    assert.equal(lease.spec?.holderIdentity, 'intruder', 'neither renewed over nor released');
  });
});
