// Draws docs/images/dashboard.png: the Grafana dashboard's queries (config/grafana)
// against real metrics. It starts the sandbox (`npm start`'s operator), makes the
// demo people request, approve, deny and revoke access for some minutes while a
// real Prometheus (Debian's, as promtool) scrapes the operator, then asks that
// Prometheus every panel's queries and draws the answers on the dashboard's grid
// (hack/dashboard-render.ts), screenshotted by Chromium. Grafana does not run here:
// the picture is those query results, not Grafana's rendering of them.
//
//   node hack/dashboard-picture.ts [--minutes 8] [--out docs/images/dashboard.png]
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs, promisify } from 'node:util';
import { stringify } from 'yaml';
import { launchBrowser } from '../test/support/browser.ts';
import { loadDashboard } from '../test/support/dashboard-lint.ts';
import { REPO_ROOT } from '../src/kube/manifests.ts';
import { freePort } from '../src/sandbox/ports.ts';
import { renderPage, type RenderedPanel, type Series } from './dashboard-render.ts';

const run = promisify(execFile);
const { values: args } = parseArgs({
  options: {
    minutes: { type: 'string', default: '8' },
    out: { type: 'string', default: join(REPO_ROOT, 'docs', 'images', 'dashboard.png') },
  },
});
const minutes = Number(args.minutes);
// The workload below runs for 400 s; the picture shows a little quiet after it.
if (!(minutes >= 7)) throw new Error(`--minutes must be 7 or more, got '${args.minutes}'`);
// Grafana's default scrape interval for a Prometheus data source, and the step it
// picks for a few minutes on a panel a few hundred pixels wide (never below it).
const SCRAPE_S = 15;
const STEP_S = 15;
const log = (m: string) => console.error(`[dashboard-picture] ${m}`);

async function waitFor(what: string, check: () => Promise<boolean> | boolean, timeoutMs: number) {
  const deadline = Date.now() + timeoutMs;
  while (
    !(await Promise.resolve()
      .then(check)
      .catch(() => false))
  ) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(250);
  }
}

function start(name: string, cmd: string, argv: string[], cwd: string) {
  const child = spawn(cmd, argv, { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (out += d.toString()));
  child.on('exit', (code) => log(`${name} exited (${code})`));
  return { child, output: () => out };
}

async function stop(child: ChildProcess | undefined) {
  if (!child || child.exitCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGINT');
  await Promise.race([exited, sleep(30_000)]);
  if (child.exitCode === null) child.kill('SIGKILL');
}

await run('prometheus', ['--version']).catch(() => {
  throw new Error(
    "no prometheus on the PATH: npm run setup installs Debian's prometheus package (promtool and the server)",
  );
});
const work = mkdtempSync(join(tmpdir(), 'timebox-dashboard-picture-'));
let operator: ChildProcess | undefined;
let prometheus: ChildProcess | undefined;
try {
  // 1. The sandbox and its operator, exactly as `npm start` runs them.
  const [metricsPort, healthPort, webhookPort, promPort] = [
    await freePort(),
    await freePort(),
    await freePort(),
    await freePort(),
  ];
  const op = start(
    'operator',
    process.execPath,
    [
      join(REPO_ROOT, 'src', 'main.ts'),
      '--sandbox',
      `--metrics-bind-address=127.0.0.1:${metricsPort}`,
      `--health-probe-bind-address=127.0.0.1:${healthPort}`,
      `--webhook-bind-address=127.0.0.1:${webhookPort}`,
    ],
    work,
  );
  operator = op.child;
  log('starting the sandbox');
  await waitFor('the operator', () => /operator started/.test(op.output()), 180_000);
  const people = join(work, '.timebox', 'sandbox', 'people');
  const admin = join(work, '.timebox', 'sandbox', 'kubeconfig');

  // 2. Prometheus scraping it.
  const promConfig = join(work, 'prometheus.yml');
  writeFileSync(
    promConfig,
    stringify({
      global: { scrape_interval: `${SCRAPE_S}s`, evaluation_interval: `${SCRAPE_S}s` },
      scrape_configs: [
        {
          job_name: 'timebox',
          honor_labels: true,
          static_configs: [{ targets: [`127.0.0.1:${metricsPort}`] }],
        },
      ],
    }),
  );
  const prom = start(
    'prometheus',
    'prometheus',
    [
      `--config.file=${promConfig}`,
      `--storage.tsdb.path=${join(work, 'tsdb')}`,
      `--web.listen-address=127.0.0.1:${promPort}`,
    ],
    work,
  );
  prometheus = prom.child;
  const promUrl = `http://127.0.0.1:${promPort}`;
  await waitFor('Prometheus', async () => (await fetch(`${promUrl}/-/ready`)).ok, 60_000);
  const from = Math.floor(Date.now() / 1000);
  log(`Prometheus scrapes the operator; workload for ${minutes} minutes`);

  // 3. People at work: the demo's on-call requests under two policies, a lead
  // approves or denies, some grants expire, one is revoked early.
  const cli = async (who: string, ...argv: string[]) => {
    const { stdout } = await run(
      process.execPath,
      [join(REPO_ROOT, 'src', 'cli', 'main.ts'), ...argv],
      {
        env: { ...process.env, KUBECONFIG: join(people, `${who}.kubeconfig`) },
      },
    );
    return stdout;
  };
  const readonly = {
    apiVersion: 'timebox.dev/v1alpha1',
    kind: 'AccessPolicy',
    metadata: { name: 'payments-readonly' },
    spec: {
      requesters: { groups: ['payments-oncall'] },
      selfOnly: true,
      namespaces: ['payments'],
      access: [{ kubernetes: { clusterRoles: ['view'], namespaces: ['payments'] } }],
      maxDuration: '2h',
      requireReason: true,
      approval: { mode: 'Auto' },
    },
  };
  const { CustomObjectsApi, KubeConfig } = await import('@kubernetes/client-node');
  const kc = new KubeConfig();
  kc.loadFromFile(admin);
  await kc.makeApiClient(CustomObjectsApi).createClusterCustomObject({
    group: 'timebox.dev',
    version: 'v1alpha1',
    plural: 'accesspolicies',
    body: readonly,
  });

  const request = (policy: string, name: string, duration: string, role = 'view') =>
    cli(
      'alice',
      'request',
      '--policy',
      policy,
      '--cluster-role',
      role,
      '--duration',
      duration,
      '--reason',
      `INC-${name}`,
      '--name',
      name,
      '-n',
      'payments',
    );
  const approve = (name: string) => cli('bob', 'approve', name, '-n', 'payments');
  const at = async (sFromStart: number) => {
    const wait = from + sFromStart - Date.now() / 1000;
    if (wait > 0) await sleep(wait * 1000);
  };
  const end = from + minutes * 60;
  await at(20);
  await request('payments-readonly', 'ro-dashboards', '90m');
  await request('payments-readonly', 'ro-logs', '3m');
  await request('payments-oncall', 'oncall-db-fix', '2m', 'edit');
  await request('payments-oncall', 'oncall-deploy', '1h', 'edit');
  await request('payments-oncall', 'oncall-restart', '45m', 'view');
  await approve('oncall-db-fix');
  await approve('oncall-deploy');
  await at(60);
  await request('payments-oncall', 'oncall-migration', '4h', 'edit');
  await request('payments-readonly', 'ro-metrics', '4m');
  await request('payments-readonly', 'ro-audit', '10m');
  await at(100);
  await cli('bob', 'deny', 'oncall-restart', '-n', 'payments', '--comment', 'use the runbook');
  await request('payments-oncall', 'oncall-cache', '5m', 'view');
  await request('payments-readonly', 'ro-traces', '1h');
  await at(150);
  await approve('oncall-cache');
  await cli('alice', 'revoke', 'ro-dashboards', '-n', 'payments', '--comment', 'done early');
  await at(200);
  await request('payments-oncall', 'oncall-hotfix', '30m', 'edit');
  await request('payments-readonly', 'ro-billing', '3m');
  await at(260);
  await approve('oncall-hotfix');
  await request('payments-oncall', 'oncall-rollback', '1h', 'edit');
  await at(330);
  await request('payments-readonly', 'ro-queues', '2m');
  await approve('oncall-rollback');
  await at(400);
  await cli('alice', 'revoke', 'oncall-hotfix', '-n', 'payments', '--comment', 'fixed');
  await request('payments-oncall', 'oncall-network', '20m', 'view');
  await at(minutes * 60);
  log('workload done; querying Prometheus');

  // 4. Every panel's queries, as Grafana would send them with All selected.
  const to = Math.floor(Date.now() / 1000);
  // Grafana's $__rate_interval: max($__interval + scrape interval, 4 × scrape interval).
  const rateInterval = `${Math.max(STEP_S + SCRAPE_S, 4 * SCRAPE_S)}s`;
  const expand = (expr: string) =>
    expr
      .replaceAll('$__rate_interval', rateInterval)
      .replaceAll('$job', '.+')
      .replaceAll('$instance', '.+');
  const query = async (expr: string): Promise<Series[]> => {
    const params = new URLSearchParams({
      query: expand(expr),
      start: String(from),
      end: String(to),
      step: String(STEP_S),
    });
    const res = (await (await fetch(`${promUrl}/api/v1/query_range?${params}`)).json()) as {
      status: string;
      error?: string;
      data: { result: { metric: Record<string, string>; values: [number, string][] }[] };
    };
    if (res.status !== 'success') throw new Error(`${expr}: ${res.error}`);
    return res.data.result.map((r) => ({
      labels: r.metric,
      values: r.values.map(([t, v]) => [t, Number(v)] as [number, number]),
    }));
  };
  const dashboard = loadDashboard();
  const panels: RenderedPanel[] = [];
  for (const p of dashboard.panels ?? []) {
    const full = p as typeof p & {
      fieldConfig?: {
        defaults?: {
          unit?: string;
          min?: number;
          thresholds?: { steps: { color: string; value: number | null }[] };
        };
      };
    };
    const targets = (p.targets ?? []) as { expr?: string; legendFormat?: string }[];
    const d = full.fieldConfig?.defaults;
    panels.push({
      type: p.type,
      title: p.title ?? '',
      unit: d?.unit ?? 'short',
      gridPos: p.gridPos!,
      thresholds: d?.thresholds?.steps ?? [],
      ...(d?.min !== undefined ? { min: d.min } : {}),
      targets: await Promise.all(
        targets.map(async (t) => ({
          legendFormat: t.legendFormat ?? '',
          series: await query(t.expr ?? ''),
        })),
      ),
    });
  }
  const html = renderPage({
    title: dashboard.title ?? 'Timebox',
    variables: [
      { label: 'Data source', value: 'Prometheus' },
      { label: 'Job', value: 'All' },
      { label: 'Instance', value: 'All' },
    ],
    from,
    to: Math.max(to, end),
    stepS: STEP_S,
    note: "The dashboard's queries against a real Prometheus scraping the sandbox's operator, drawn by hack/dashboard-picture.ts, not by Grafana.",
    panels,
  });
  writeFileSync(join(work, 'dashboard.html'), html);

  // 5. The screenshot.
  const browser = await launchBrowser();
  try {
    const page = await browser.newPage({ viewport: { width: 1600, height: 900 } });
    await page.setContent(html);
    await page.screenshot({ path: args.out, fullPage: true });
  } finally {
    await browser.close();
  }
  log(`wrote ${args.out}`);
} finally {
  await stop(prometheus);
  await stop(operator);
  rmSync(work, { recursive: true, force: true });
}
