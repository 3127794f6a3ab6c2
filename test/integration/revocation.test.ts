import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ClusterEnvironment } from '../../src/sandbox/environment.ts';
import { CLUSTER_START_TIMEOUT_MS, testCluster } from '../support/cluster.ts';
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
} from '../support/timebox.ts';

const ALICE = 'alice@example.com';
const OPERATORS = ['timebox-operator-revoke-a', 'timebox-operator-revoke-b'];

describe('revocation without leadership', function () {
  this.timeout(120_000);
  let cluster: ClusterEnvironment;
  let work: string;
  const running: OperatorProcess[] = [];

  before(async function () {
    this.timeout(CLUSTER_START_TIMEOUT_MS);
    cluster = await testCluster();
    await installTimebox(cluster, OPERATORS);
    work = mkdtempSync(join(tmpdir(), 'timebox-revocation-'));
  });
  after(async () => {
    for (const o of running) await o.stop();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it('a standby removes expired access at once when the leader dies, long before it leads', async () => {
    // A long lease, as in production: the standby cannot lead for 30 s.
    const lease = ['--lease-duration=30', '--renew-deadline=20', '--retry-period=2'];
    const start = (i: number) => {
      const o = OperatorProcess.start(
        `operator-${i}`,
        kubeconfigAs(cluster, OPERATORS[i]!, work),
        lease,
      );
      running.push(o);
      return o;
    };
    const leader = start(0);
    await leader.waitForLog(/starting controllers/);
    const standby = start(1);
    await standby.waitForLog(/caches synced/);

    const ns = await createNamespace(cluster, 'payments');
    const created = await grantsApi(cluster.admin()).create(grant(ns, 'short', { duration: '4s' }));
    const active = await waitForPhase(cluster, ns, 'short', 'Active');
    await eventually(() => canListPods(cluster, ALICE, ns), { what: 'access' });
    await leader.kill();

    const expiresAt = Date.parse(active.status!.expiresAt!);
    await eventually(
      async () => (await roleBindingsOf(cluster, ns, created.metadata.uid!)).length === 0,
      { what: 'the expired binding to be removed', intervalMs: 20, timeoutMs: 20_000 },
    );
    const lagMs = Date.now() - expiresAt;
    assert.equal(standby.leading, false, 'removed by a replica that does not lead');
    assert.equal(await canListPods(cluster, ALICE, ns), false);
    assert.match(standby.logs, /swept binding/);
    // Timing is the benchmark's business; this is far inside the 30 s lease.
    assert.ok(lagMs < 15_000, `removed ${lagMs} ms after expiry`);
  });
});
