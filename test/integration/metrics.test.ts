import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ClusterEnvironment } from '../../src/sandbox/environment.ts';
import { freePort } from '../../src/sandbox/ports.ts';
import { CLUSTER_START_TIMEOUT_MS, testCluster } from '../support/cluster.ts';
import { dashboardQueries, metricNames } from '../support/dashboard-lint.ts';
import { eventually } from '../support/wait.ts';
import {
  createNamespace,
  grant,
  grantsApi,
  installTimebox,
  kubeconfigAs,
  OperatorProcess,
  TEST_POLICY,
  waitForPhase,
} from '../support/timebox.ts';

/** One sample's value from the Prometheus text format, or undefined if the series is absent. */
function sample(text: string, series: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line ? Number(line.slice(series.length + 1)) : undefined;
}

describe('metrics and health endpoints', function () {
  this.timeout(120_000);
  let cluster: ClusterEnvironment;
  let operator: OperatorProcess;
  let work: string;
  let metricsUrl: string;
  let healthUrl: string;

  before(async function () {
    this.timeout(CLUSTER_START_TIMEOUT_MS);
    cluster = await testCluster();
    await installTimebox(cluster, ['timebox-operator-metrics']);
    work = mkdtempSync(join(tmpdir(), 'timebox-metrics-'));
    const [m, h] = [await freePort(), await freePort()];
    metricsUrl = `http://127.0.0.1:${m}/metrics`;
    healthUrl = `http://127.0.0.1:${h}`;
    operator = OperatorProcess.start(
      'operator',
      kubeconfigAs(cluster, 'timebox-operator-metrics', work),
      [`--metrics-bind-address=127.0.0.1:${m}`, `--health-probe-bind-address=127.0.0.1:${h}`],
    );
    await operator.waitForLog(/operator started/);
  });
  after(async () => {
    await operator?.stop();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  const scrape = async () => (await fetch(metricsUrl)).text();

  it('serves /healthz and /readyz once the caches are synced', async () => {
    assert.equal((await fetch(`${healthUrl}/healthz`)).status, 200);
    assert.equal((await fetch(`${healthUrl}/readyz`)).status, 200);
    assert.equal((await fetch(`${healthUrl}/nope`)).status, 404);
  });

  // A metric renamed in src/metrics would leave a Grafana panel empty: every
  // metric the dashboard queries is one this operator serves (its # TYPE line
  // is there even before a labelled series has a sample).
  it('serves every metric the Grafana dashboard queries', async () => {
    const text = await scrape();
    const served = new Set([...text.matchAll(/^# TYPE (\S+) (\w+)$/gm)].map((m) => m[1]));
    const queries = dashboardQueries();
    assert.ok(queries.length > 10);
    for (const { panel, expr } of queries) {
      for (const name of metricNames(expr)) {
        const base = name.replace(/_(bucket|count|sum)$/, '');
        assert.ok(served.has(name) || served.has(base), `${name} of panel '${panel}' is served`);
      }
    }
  });

  it('follows a grant through its life', async () => {
    const ns = await createNamespace(cluster, 'metrics');
    const activeSeries = `timebox_grants{phase="Active",policy="${TEST_POLICY}"}`;
    const expiredSeries = `timebox_grants{phase="Expired",policy="${TEST_POLICY}"}`;
    const before = await scrape();
    const activeBefore = sample(before, activeSeries) ?? 0;
    const expiredBefore = sample(before, expiredSeries) ?? 0;
    const lagCountBefore = sample(before, 'timebox_revocation_lag_seconds_count') ?? 0;
    assert.equal(sample(before, 'timebox_leader_is_leader'), 1);

    await grantsApi(cluster.admin()).create(grant(ns, 'measured', { duration: '3s' }));
    const active = await waitForPhase(cluster, ns, 'measured', 'Active');
    const expirySeries = `timebox_grant_expiration_timestamp_seconds{namespace="${ns}",name="measured"}`;
    const during = await eventually(
      async () => {
        const text = await scrape();
        return sample(text, expirySeries) !== undefined ? text : undefined;
      },
      { what: 'the expiry gauge of the active grant' },
    );
    assert.equal(sample(during, expirySeries), Date.parse(active.status!.expiresAt!) / 1000);
    assert.equal(sample(during, activeSeries), activeBefore + 1);
    const reconciles = during.split('\n').filter((l) => l.startsWith('timebox_reconcile_total'));
    assert.ok(
      (sample(during, 'timebox_reconcile_total{controller="accessgrant",result="success"}') ?? 0) >
        0,
      reconciles.join('\n'),
    );
    assert.match(during, /^timebox_workqueue_depth\{name="accessgrant"\} \d+$/m);
    // Every loop's series exist from the start, so a rate sees the very first error.
    for (const controller of [
      'accessgrant',
      'accessgrant-revoke',
      'accesspolicy',
      'binding-sweeper',
    ])
      assert.notEqual(
        sample(during, `timebox_reconcile_total{controller="${controller}",result="terminal"}`),
        undefined,
        controller,
      );

    await waitForPhase(cluster, ns, 'measured', 'Expired');
    const after = await eventually(
      async () => {
        const text = await scrape();
        return sample(text, expirySeries) === undefined ? text : undefined;
      },
      { what: 'the expiry gauge to go' },
    );
    assert.equal(sample(after, activeSeries) ?? 0, activeBefore);
    assert.equal(sample(after, expiredSeries), expiredBefore + 1);
    assert.equal(sample(after, 'timebox_revocation_lag_seconds_count'), lagCountBefore + 1);
    // Revoked well inside a second of expiresAt.
    assert.equal(
      (sample(after, 'timebox_revocation_lag_seconds_bucket{le="1"}') ?? 0) -
        (sample(before, 'timebox_revocation_lag_seconds_bucket{le="1"}') ?? 0),
      1,
    );
    assert.equal(sample(after, 'timebox_revocation_overdue_grants'), 0);
  });
});
