import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { stringify } from 'yaml';
import { Metrics } from '../../src/metrics/metrics.ts';
import { systemClock } from '../../src/runtime/clock.ts';
import {
  allPanels,
  dashboardQueries,
  expandVariables,
  lintDashboard,
  loadDashboard as load,
  metricNames,
  type Dashboard,
  type Panel,
} from '../support/dashboard-lint.ts';

const run = promisify(execFile);

describe('Grafana dashboard (config/grafana)', () => {
  it("passes the rules of Grafana's dashboard-linter (test/support/dashboard-lint.ts)", () => {
    assert.deepEqual(lintDashboard(load()), []);
  });

  it('has the panels operations need', () => {
    const titles = allPanels(load()).map((p) => p.title);
    for (const t of [
      'Active grants by policy',
      'Active targets by provider',
      'Grants expiring soon',
      'Pending approvals by policy',
      'Oldest pending approval by policy',
      'Revocation lag',
      'Access outliving its grant',
      'Reconciles by controller and result',
      'Reconcile errors',
      'Work queue depth',
      'Provider errors',
      'Notifications by channel and result',
      'Leader',
    ])
      assert.ok(titles.includes(t), `a panel '${t}'`);
  });

  // The linter's rules must bite, or a passing lint proves nothing: each broken
  // copy of the dashboard is caught by the rule that names its fault.
  describe('the lint rules', () => {
    const broken = (what: string, rule: string, edit: (d: Dashboard, first: Panel) => void) =>
      it(`${rule}: ${what}`, () => {
        const d = load();
        edit(
          d,
          d.panels!.find((p) => p.type === 'timeseries')!,
        );
        const rules = lintDashboard(d).map((f) => f.rule);
        assert.ok(rules.includes(rule), `${rule} in ${JSON.stringify(rules)}`);
      });
    broken('an editable dashboard', 'uneditable-dashboard', (d) => {
      d.editable = true;
    });
    broken('no data source variable', 'template-datasource-rule', (d) => {
      d.templating!.list = d.templating!.list!.filter((v) => v.type !== 'datasource');
    });
    broken('a fixed data source', 'panel-datasource-rule', (_d, p) => {
      p.datasource = { type: 'prometheus', uid: 'prometheus-1' };
    });
    broken('no job variable', 'template-job-rule', (d) => {
      d.templating!.list = d.templating!.list!.filter((v) => v.name !== 'job');
    });
    broken('an instance variable without All', 'template-instance-rule', (d) => {
      d.templating!.list!.find((v) => v.name === 'instance')!.allValue = null;
    });
    broken('a variable that never refreshes', 'template-on-time-change-reload-rule', (d) => {
      d.templating!.list!.find((v) => v.name === 'job')!.refresh = 1;
    });
    broken('a variable with a bad query', 'template-label-promql-rule', (d) => {
      d.templating!.list!.find((v) => v.name === 'job')!.query = 'up{';
    });
    broken('a query without the job filter', 'target-job-rule', (_d, p) => {
      p.targets![0]!.expr = 'max by (policy) (timebox_grants{instance=~"$instance"})';
    });
    broken('a query without the instance filter', 'target-instance-rule', (_d, p) => {
      p.targets![0]!.expr = 'max(timebox_grants{job=~"$job"})';
    });
    broken('a fixed rate window', 'target-rate-interval-rule', (_d, p) => {
      p.targets![0]!.expr =
        'sum(rate(timebox_reconcile_total{job=~"$job", instance=~"$instance"}[5m]))';
    });
    broken('a raw counter', 'target-counter-agg-rule', (_d, p) => {
      p.targets![0]!.expr = 'sum(timebox_reconcile_total{job=~"$job", instance=~"$instance"})';
    });
    broken('a query that does not parse', 'target-promql-rule', (_d, p) => {
      p.targets![0]!.expr = 'sum(timebox_grants{job=~"$job"';
    });
    broken('no unit', 'panel-units-rule', (_d, p) => {
      delete p.fieldConfig!.defaults!.unit;
    });
    broken('no description', 'panel-title-description-rule', (_d, p) => {
      p.description = '';
    });
    broken('no query', 'panel-no-targets-rule', (_d, p) => {
      p.targets = [];
    });
  });

  it("has queries Prometheus' own parser accepts (promtool)", async () => {
    // Each query as a recording rule, with Grafana's variables put in as it would.
    const queries = dashboardQueries();
    const work = mkdtempSync(join(tmpdir(), 'timebox-dashboard-'));
    try {
      const file = join(work, 'queries.yaml');
      const rules = queries.map(({ expr }, i) => ({
        record: `timebox:dashboard_query_${i}`,
        expr: expandVariables(expr)
          .replaceAll('8869h', '1m')
          .replaceAll('$job', '.+')
          .replaceAll('$instance', '.+'),
      }));
      writeFileSync(file, stringify({ groups: [{ name: 'dashboard', rules }] }));
      const { stdout } = await run('promtool', ['check', 'rules', file]);
      assert.match(stdout, new RegExp(`SUCCESS: ${queries.length} rules found`));
    } finally {
      rmSync(work, { recursive: true, force: true });
    }
  });

  it('queries only metrics the operator registers (src/metrics)', async () => {
    const registry = new Metrics(
      { grants: () => [], bindings: () => [], queueDepths: () => ({}), isLeader: () => true },
      systemClock,
    ).registry;
    const registered = new Set((await registry.getMetricsAsJSON()).map((m) => m.name));
    for (const { panel, expr } of dashboardQueries()) {
      for (const name of metricNames(expr)) {
        const base = name.replace(/_(bucket|count|sum)$/, '');
        assert.ok(
          registered.has(name) || registered.has(base),
          `${name} (panel '${panel}') is a metric of src/metrics/metrics.ts`,
        );
      }
    }
  });

  it('lays its panels out on the 24-column grid without overlaps', () => {
    const cells = new Map<string, string>();
    for (const p of load().panels!) {
      const { x, y, w, h } = p.gridPos!;
      assert.ok(x >= 0 && w > 0 && x + w <= 24, `'${p.title}' fits in 24 columns`);
      for (let i = x; i < x + w; i++)
        for (let j = y; j < y + h; j++) {
          const other = cells.get(`${i},${j}`);
          assert.equal(other, undefined, `'${p.title}' overlaps '${other}'`);
          cells.set(`${i},${j}`, p.title ?? '');
        }
    }
  });
});
