import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { CustomObjectsApi, RbacAuthorizationV1Api, type KubeConfig } from '@kubernetes/client-node';
import { stringify } from 'yaml';
import { ACCESS_GRANT, GROUP, VERSION } from '../src/api/v1alpha1/types.ts';
import { REPO_ROOT } from '../src/kube/manifests.ts';
import { freePort } from '../src/sandbox/ports.ts';
import { connectWebhook } from '../src/sandbox/setup.ts';
import { ImpersonatingKubeConfig } from '../src/sandbox/impersonation.ts';
import { activateBare, holdLease } from './floor.ts';
import { benchCluster, createBenchGrant, trackGrants, writeCounts } from './grants.ts';
import { printTable } from './table.ts';
import { imageNodeFlags } from '../test/support/image.ts';

const run = promisify(execFile);
const MiB = 1024 * 1024;

/** One production build of the operator: what the image runs (`npm run build`, dist/main.js). */
interface Build {
  label: string;
  main: string;
  /** V8 and Node.js flags the operator runs with, before its script. */
  nodeFlags?: string;
}

/**
 * Builds the operator as the image ships it, in `root`: this checkout, or the
 * baseline's worktree (node_modules is this checkout's, so both load the same
 * dependencies).
 */
async function build(label: string, root: string): Promise<Build> {
  await run('npm', ['run', '--silent', 'build'], { cwd: root, maxBuffer: 64 * MiB });
  return { label, main: join(root, 'dist', 'main.js'), nodeFlags: imageFlags(root) };
}

/**
 * The flags the image runs Node.js with (its Dockerfile's ENTRYPOINT), and the
 * old generation's limit the chart sets by default (half of its 512Mi limit).
 */
function imageFlags(root: string): string {
  const flags = imageNodeFlags(root);
  const chart = readFileSync(join(root, 'charts', 'timebox', 'values.yaml'), 'utf8');
  const percent = /^ {2}maxOldSpacePercent: (\d+)/m.exec(chart)?.[1];
  if (percent) flags.push(`--max-old-space-size=${Math.floor((512 * Number(percent)) / 100)}`);
  return flags.join(' ');
}

/** A worktree of `ref` under .timebox/, for a before-and-after in one run. */
async function baselineRoot(ref: string): Promise<string> {
  const dir = join(REPO_ROOT, '.timebox', `bench-baseline-${ref.replace(/[^\w.-]/g, '_')}`);
  if (!existsSync(dir)) {
    await run('git', ['worktree', 'add', '--detach', dir, ref], { cwd: REPO_ROOT });
    symlinkSync(join(REPO_ROOT, 'node_modules'), join(dir, 'node_modules'));
  }
  return dir;
}

/** /proc figures of a running process: resident set now and at its peak, CPU used. */
function procStats(pid: number): { rss: number; hwm: number; cpuS: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (k: string) => Number(new RegExp(`^${k}:\\s+(\\d+) kB`, 'm').exec(status)?.[1]) * 1024;
  // utime and stime, fields 14 and 15, in clock ticks (100 a second on Linux).
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return {
    rss: kb('VmRSS'),
    hwm: kb('VmHWM'),
    cpuS: (Number(fields[11]) + Number(fields[12])) / 100,
  };
}

/**
 * Where a process's resident memory is, from /proc/<pid>/smaps: pages of the
 * Node.js binary itself (clean file pages: shared by every Node.js process on the
 * machine, and dropped under pressure rather than swapped), and anonymous memory
 * (the V8 heap, malloc, thread stacks), which is the process's own.
 */
function residentBreakdown(pid: number): { binary: number; anonymous: number } {
  const smaps = readFileSync(`/proc/${pid}/smaps`, 'utf8');
  let binary = 0;
  let anonymous = 0;
  let mapping = '';
  for (const line of smaps.split('\n')) {
    const head = /^[0-9a-f]+-[0-9a-f]+ \S+ \S+ \S+ \S+\s*(.*)$/.exec(line);
    if (head) {
      mapping = head[1] ?? '';
      continue;
    }
    const rss = /^Rss:\s+(\d+) kB/.exec(line);
    if (rss && mapping === process.execPath) binary += Number(rss[1]) * 1024;
    const anon = /^Anonymous:\s+(\d+) kB/.exec(line);
    if (anon) anonymous += Number(anon[1]) * 1024;
  }
  return { binary, anonymous };
}

class OperatorUnderTest {
  readonly child: ChildProcess;
  readonly startedAt = Date.now();
  readonly metricsPort: number;
  readonly healthPort: number;
  readonly webhookPort: number;
  logs = '';
  constructor(b: Build, kubeconfig: string, ports: number[], leaderElect: boolean) {
    [this.metricsPort, this.healthPort, this.webhookPort] = ports as [number, number, number];
    this.child = spawn(
      process.execPath,
      [
        ...(b.nodeFlags ?? '').split(/\s+/).filter(Boolean),
        b.main,
        `--leader-elect=${leaderElect}`,
        `--metrics-bind-address=127.0.0.1:${this.metricsPort}`,
        `--health-probe-bind-address=127.0.0.1:${this.healthPort}`,
        // The identity webhook, as in a cluster: the API server calls it on every create.
        `--webhook-bind-address=127.0.0.1:${this.webhookPort}`,
        '--webhook-hosts=127.0.0.1',
        '--log-level=warn',
      ],
      {
        env: {
          ...process.env,
          KUBECONFIG: kubeconfig,
        },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    this.child.stdout?.on('data', (d: Buffer) => (this.logs = (this.logs + d).slice(-20_000)));
    this.child.stderr?.on('data', (d: Buffer) => (this.logs = (this.logs + d).slice(-20_000)));
  }
  static async start(
    b: Build,
    kubeconfig: string,
    leaderElect = false,
  ): Promise<OperatorUnderTest> {
    return new OperatorUnderTest(
      b,
      kubeconfig,
      [await freePort(), await freePort(), await freePort()],
      leaderElect,
    );
  }
  stats() {
    return procStats(this.child.pid!);
  }
  resident() {
    return residentBreakdown(this.child.pid!);
  }
  /** Resolves once /readyz answers 200 (caches synced), with how long that took. */
  async ready(timeoutMs = 120_000): Promise<number> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if (this.child.exitCode !== null) throw new Error(`operator exited:\n${this.logs}`);
      const ok = await fetch(`http://127.0.0.1:${this.healthPort}/readyz`)
        .then((r) => r.ok)
        .catch(() => false);
      if (ok) return Date.now() - this.startedAt;
      await sleep(20);
    }
    throw new Error(`operator not ready after ${timeoutMs} ms:\n${this.logs}`);
  }
  async metrics(): Promise<string> {
    return (await fetch(`http://127.0.0.1:${this.metricsPort}/metrics`)).text();
  }
  /** Resolves once every work queue is empty: what was queued at start has been looked at. */
  async drained(timeoutMs = 600_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      const depths = [
        ...(await this.metrics()).matchAll(/^timebox_workqueue_depth\{[^}]*\} (\S+)/gm),
      ];
      if (depths.length > 0 && depths.every((m) => Number(m[1]) === 0)) return;
      // Not more often: each scrape costs the operator CPU too, which is what this measures.
      await sleep(1_000);
    }
    throw new Error(`the operator's queues did not drain in ${timeoutMs} ms`);
  }
  async stop(): Promise<void> {
    if (this.child.exitCode !== null) return;
    const exited = new Promise((r) => this.child.once('exit', r));
    this.child.kill('SIGTERM');
    await exited;
  }
}

/** CPU seconds to load the operator's modules: `main.js --help` returns right after its imports. */
async function loadCpuSeconds(b: Build): Promise<number> {
  mkdirSync(join(REPO_ROOT, '.timebox'), { recursive: true });
  const probe = join(REPO_ROOT, '.timebox', 'cpu-at-exit.mjs');
  writeFileSync(
    probe,
    "process.on('exit', () => { const u = process.cpuUsage(); process.stderr.write(`cpu ${(u.user + u.system) / 1e6}\\n`); });\n",
  );
  const samples: number[] = [];
  for (let i = 0; i < 5; i++) {
    const { stderr } = await run(process.execPath, ['--import', probe, b.main, '--help']);
    samples.push(Number(/cpu ([\d.]+)/.exec(stderr)?.[1]));
  }
  return samples.sort((a, b) => a - b)[2]!;
}

async function deleteAllGrants(kc: KubeConfig): Promise<void> {
  const api = kc.makeApiClient(CustomObjectsApi);
  const base = { group: GROUP, version: VERSION, namespace: 'bench', plural: ACCESS_GRANT.plural };
  // With thousands of grants the call itself may time out (504), or its stream be
  // closed, while the deletion goes on in the API server: what counts is that they
  // are gone, so it is asked again until they are.
  const ask = () => api.deleteCollectionNamespacedCustomObject(base).catch(() => undefined);
  await ask();
  let asked = Date.now();
  for (;;) {
    const left = (await api.listNamespacedCustomObject({ ...base, limit: 1 })) as {
      items: unknown[];
    };
    if (left.items.length === 0) return;
    if (Date.now() - asked > 60_000) {
      await ask();
      asked = Date.now();
    }
    await sleep(500);
  }
}

/**
 * N grants created as a burst, 50 at a time, by the requester, each with a window
 * that ends at `endsAt`.
 */
async function createBurst(
  requester: KubeConfig,
  n: number,
  endsAt: number,
  uidToName: Map<string, string>,
): Promise<void> {
  const names = Array.from({ length: n }, (_, i) => `s${String(i).padStart(5, '0')}`);
  for (let i = 0; i < n; i += 50) {
    await Promise.all(
      names.slice(i, i + 50).map(async (name) => {
        const g = await createBenchGrant(requester, name, {
          startAt: new Date(endsAt - 3600_000).toISOString(),
        });
        uidToName.set(g.metadata.uid ?? '', name);
      }),
    );
  }
}

/**
 * The same burst, activated by a client with no logic (bench/floor.ts) instead of
 * the operator, whose replica only serves the identity webhook: the floor that the
 * API server and the machine set for "all Active after the last create".
 */
async function floorRow(
  b: Build,
  kc: KubeConfig,
  requester: KubeConfig,
  kubeconfig: string,
  n: number,
  concurrency: number,
): Promise<Row> {
  const lease = await holdLease(kc);
  const op = await OperatorUnderTest.start(b, kubeconfig, true);
  await op.ready();
  await connectWebhook(kc, op.webhookPort);
  const t = await trackGrants(kc);
  const bare = await activateBare(kc, concurrency);
  const t0 = Date.now();
  const endsAt = t0 + Number(process.env.BENCH_BUDGET_MS ?? Math.max(60_000, n * 40));
  await createBurst(requester, n, endsAt, t.uidToName);
  const lastCreate = Date.now();
  while (t.activeSeen.size < n && Date.now() < endsAt - 1_000) await sleep(200);
  const activeAll = t.activeSeen.size === n ? Date.now() : NaN;
  // The measurement holds only if the operator stayed a follower throughout.
  if (/^timebox_leader_is_leader 1/m.test(await op.metrics()))
    throw new Error('the operator took the Lease the bench holds: the floor is not measured');
  bare.stop();
  t.stop();
  // The operator leads from here: it revokes the bare client's bindings as the
  // grants are deleted, and removes their finalizers.
  await lease.release();
  await deleteAllGrants(kc);
  await op.stop();
  return {
    build: `API server alone: a bare client, ${concurrency} at a time`,
    N: String(n),
    'creates (s)': (lastCreate - t0) / 1000,
    'all Active, after the last create (s)': (activeAll - lastCreate) / 1000,
    'Active seen': t.activeSeen.size,
    'operator CPU per grant (ms)': '',
    'ready with N present (ms)': '',
    'CPU to ready (s)': '',
    'ready with N Active (ms)': '',
    'CPU to ready, N Active (s)': '',
    'CPU until all N Active are looked at (s)': '',
  };
}

interface Row extends Record<string, string | number> {
  build: string;
  N: string;
}

/**
 * Timebox at scale, as the image runs it, on one sandbox API server: for each N,
 * each build in turn (this checkout, and BENCH_BASELINE if set, e.g. a commit):
 * idle and loaded memory, a burst of N creates and how long after the last one
 * all are Active, the expiry wave, API writes per grant lifecycle, /metrics size,
 * and a restart with the N grants present.
 */
export async function benchScale(
  sizes = (process.env.BENCH_SCALE ?? '1000,2000,10000').split(',').map(Number),
): Promise<void> {
  const here = await build('this checkout', REPO_ROOT);
  // BENCH_NODE_FLAGS: variants to compare, separated by `;` (e.g. V8's heap flags).
  const variants = (process.env.BENCH_NODE_FLAGS ?? '').split(';').map((v) => v.trim());
  const builds: Build[] = variants.map((v) =>
    v ? { ...here, label: `${here.label}, ${v}`, nodeFlags: v } : here,
  );
  console.log(builds.map((b) => `${b.label}: node ${b.nodeFlags ?? ''} main.js`).join('\n'));
  const baseline = process.env.BENCH_BASELINE;
  if (baseline) builds.push(await build(baseline, await baselineRoot(baseline)));
  const load = await Promise.all(builds.map(loadCpuSeconds));
  printTable(
    'CPU to load the operator (median of 5 runs of main.js --help)',
    builds.map((b, i) => ({ build: b.label, 'CPU (s)': load[i]! })),
  );

  const { sandbox, kc } = await benchCluster();
  // Grants are created by the requester the bench policy names, as people do: the
  // identity webhook stamps who asked, and the controller checks it.
  await kc.makeApiClient(RbacAuthorizationV1Api).createClusterRoleBinding({
    body: {
      metadata: { name: 'bench-requester' },
      roleRef: {
        apiGroup: 'rbac.authorization.k8s.io',
        kind: 'ClusterRole',
        name: 'cluster-admin',
      },
      subjects: [{ apiGroup: 'rbac.authorization.k8s.io', kind: 'User', name: 'bench' }],
    },
  });
  const requester = new ImpersonatingKubeConfig(kc, { user: 'bench', groups: [] });
  const dir = join(REPO_ROOT, '.timebox', 'bench-scale');
  mkdirSync(dir, { recursive: true });
  const kubeconfig = join(dir, 'kubeconfig');
  writeFileSync(kubeconfig, stringify(JSON.parse(kc.exportConfig())));
  const memory: Row[] = [];
  const timing: Row[] = [];
  const writes: Row[] = [];
  const heap: Row[] = [];
  const print = () => {
    printTable('Memory (RSS of the operator process, from /proc)', memory);
    printTable('Where the memory goes at N Active (from the process and its /metrics)', heap);
    printTable('Activation and start-up', timing);
    printTable(
      'API writes per grant lifecycle (create → Active → expired), from the API server',
      writes,
    );
  };
  try {
    for (const n of sizes) {
      for (const b of builds) {
        let op = await OperatorUnderTest.start(b, kubeconfig);
        await op.ready();
        await connectWebhook(kc, op.webhookPort);
        await sleep(2_000);
        const idle = op.stats();
        const idleResident = op.resident();

        const t = await trackGrants(kc);
        const before = writeCounts(await sandbox.getRaw('/metrics'));
        // Every grant's window ends at the same instant, after the burst has had
        // its budget to become Active: then the expiry wave.
        const t0 = Date.now();
        const budgetMs = Number(process.env.BENCH_BUDGET_MS ?? Math.max(60_000, n * 40));
        const endsAt = t0 + budgetMs;
        await createBurst(requester, n, endsAt, t.uidToName);
        const lastCreate = Date.now();
        let peakRss = 0;
        while (t.activeSeen.size < n && Date.now() < endsAt - 1_000) {
          peakRss = Math.max(peakRss, op.stats().rss);
          await sleep(200);
        }
        const activeAll = t.activeSeen.size === n ? Date.now() : NaN;
        const active = op.stats();
        const activeResident = op.resident();
        const exposition = await op.metrics();
        const gauge = (name: string) =>
          Number(new RegExp(`^${name} ([\\d.e+]+)`, 'm').exec(exposition)?.[1] ?? NaN);
        heap.push({
          build: b.label,
          N: String(n),
          'RSS (MiB)': active.rss / MiB,
          'V8 heap used (MiB)': gauge('nodejs_heap_size_used_bytes') / MiB,
          'V8 heap reserved (MiB)': gauge('nodejs_heap_size_total_bytes') / MiB,
          'external (MiB)': gauge('nodejs_external_memory_bytes') / MiB,
          'outside the V8 heap (MiB)': (active.rss - gauge('nodejs_heap_size_total_bytes')) / MiB,
          'of it, Node.js binary pages (MiB)': activeResident.binary / MiB,
          'anonymous (MiB)': activeResident.anonymous / MiB,
          'idle: binary pages / anonymous (MiB)': `${(idleResident.binary / MiB).toFixed(1)} / ${(idleResident.anonymous / MiB).toFixed(1)}`,
        });
        // A restart with the N grants Active, as when a new version rolls out: how
        // long until ready, and the CPU it takes to look at every grant again.
        const beforeRestart = op.stats();
        peakRss = Math.max(peakRss, beforeRestart.hwm);
        await op.stop();
        op = await OperatorUnderTest.start(b, kubeconfig);
        const readyActiveMs = await op.ready();
        const readyActiveCpu = op.stats().cpuS;
        await connectWebhook(kc, op.webhookPort);
        await op.drained();
        const settledActive = op.stats();
        while (t.revokedSeen.size < t.activeSeen.size && Date.now() < endsAt + 600_000) {
          peakRss = Math.max(peakRss, op.stats().rss);
          await sleep(200);
        }
        // The record (status Expired) follows the deletes: wait for the writes to settle.
        let settled = writeCounts(await sandbox.getRaw('/metrics'));
        for (;;) {
          await sleep(2_000);
          const now = writeCounts(await sandbox.getRaw('/metrics'));
          if ([...now].every(([k, v]) => settled.get(k) === v)) break;
          settled = now;
        }
        const after = op.stats();
        t.stop();
        await op.stop();

        // A restart with the N (now Expired) grants present.
        op = await OperatorUnderTest.start(b, kubeconfig);
        const readyMs = await op.ready();
        await connectWebhook(kc, op.webhookPort);
        const startCpu = op.stats().cpuS;

        memory.push({
          build: b.label,
          N: String(n),
          'idle RSS (MiB)': idle.rss / MiB,
          [`RSS at N Active (MiB)`]: active.rss / MiB,
          'peak RSS, restart and expiry wave included (MiB)': Math.max(peakRss, after.hwm) / MiB,
          '/metrics at N Active (KiB)': exposition.length / 1024,
        });
        timing.push({
          build: b.label,
          N: String(n),
          'creates (s)': (lastCreate - t0) / 1000,
          'all Active, after the last create (s)': (activeAll - lastCreate) / 1000,
          'Active seen': t.activeSeen.size,
          'operator CPU per grant (ms)':
            ((beforeRestart.cpuS - idle.cpuS + after.cpuS - settledActive.cpuS) * 1000) / n,
          'ready with N present (ms)': readyMs,
          'CPU to ready (s)': startCpu,
          'ready with N Active (ms)': readyActiveMs,
          'CPU to ready, N Active (s)': readyActiveCpu,
          'CPU until all N Active are looked at (s)': settledActive.cpuS,
        });
        const counted = [...settled].map(([k, v]) => [k, v - (before.get(k) ?? 0)] as const);
        const ops = counted.filter(
          // Not the operator's: the bench's own creates and its pointing of the
          // webhook at the restarted operator, leader leases (off here), and the
          // API server's reconciling of the `kubernetes` Service's endpoints.
          ([k, d]) =>
            d > 0 &&
            k !== 'POST accessgrants' &&
            !k.endsWith(' mutatingwebhookconfigurations') &&
            !k.endsWith(' leases') &&
            !k.endsWith(' endpoints'),
        );
        const events = ops.filter(([k]) => k.endsWith(' events')).reduce((s, [, d]) => s + d, 0);
        const other = ops.filter(([k]) => !k.endsWith(' events'));
        writes.push({
          build: b.label,
          N: String(n),
          'writes per grant, Events aside': other.reduce((s, [, d]) => s + d, 0) / n,
          'Events per grant': events / n,
          breakdown: other.map(([k, d]) => `${k} ${(d / n).toFixed(2)}`).join(', '),
        });
        // Deleted while an operator runs: it removes their finalizers.
        // The tables so far: a long run that fails later loses nothing.
        print();
        await deleteAllGrants(kc);
        await op.stop();
      }
      // BENCH_FLOOR=0 skips it; BENCH_FLOOR=32 sets how many grants it activates at a time.
      const floor = Number(process.env.BENCH_FLOOR ?? 16);
      if (floor > 0) {
        timing.push(await floorRow(builds[0]!, kc, requester, kubeconfig, n, floor));
        print();
      }
    }
  } finally {
    await sandbox.stop();
  }
}
