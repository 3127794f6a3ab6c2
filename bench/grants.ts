import { CoreV1Api, CustomObjectsApi, Watch, type KubeConfig } from '@kubernetes/client-node';
import { setTimeout as sleep } from 'node:timers/promises';
import { ACCESS_GRANT, GROUP, VERSION, type AccessGrant } from '../src/api/v1alpha1/types.ts';
import { installCRDs } from '../src/kube/manifests.ts';
import { PooledKubeConfig } from '../src/kube/kubeconfig.ts';
import { createLogger } from '../src/log/logger.ts';
import { startOperator } from '../src/operator.ts';
import { Sandbox } from '../src/sandbox/sandbox.ts';
import { percentile, printTable } from './table.ts';
import { createAccessPolicy } from '../test/support/timebox.ts';

/** Sums apiserver_request_total per (verb, resource) for write verbs. */
export function writeCounts(metrics: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of metrics.split('\n')) {
    if (!line.startsWith('apiserver_request_total{')) continue;
    const labels = Object.fromEntries(
      [...line.matchAll(/(\w+)="([^"]*)"/g)].map((m) => [m[1], m[2]]),
    );
    if (!['POST', 'PUT', 'PATCH', 'DELETE'].includes(labels.verb ?? '')) continue;
    const resource = labels.subresource
      ? `${labels.resource}/${labels.subresource}`
      : labels.resource;
    const key = `${labels.verb} ${resource}`;
    out.set(key, (out.get(key) ?? 0) + Number(line.split(' ').pop()));
  }
  return out;
}

/**
 * Calls `onEvent` for every event on `path`, with the watch reopened from the
 * last resourceVersion whenever it ends (a quiet watch is closed after 30 s), so
 * a long benchmark misses nothing.
 */
export async function watchTimes(
  kc: KubeConfig,
  path: string,
  onEvent: (
    type: string,
    obj: {
      metadata?: {
        name?: string;
        namespace?: string;
        labels?: Record<string, string>;
        resourceVersion?: string;
      };
      status?: AccessGrant['status'];
    },
  ) => void,
): Promise<() => void> {
  let stopped = false;
  let resourceVersion: string | undefined;
  let current: { abort(): void } | undefined;
  const open = async (): Promise<void> => {
    if (stopped) return;
    current = await new Watch(kc).watch(
      path,
      { allowWatchBookmarks: true, ...(resourceVersion ? { resourceVersion } : {}) },
      (type: string, obj: Parameters<typeof onEvent>[1]) => {
        resourceVersion = obj.metadata?.resourceVersion ?? resourceVersion;
        if (type !== 'BOOKMARK') onEvent(type, obj);
      },
      () => void open().catch(() => setTimeout(() => void open(), 500)),
    );
  };
  await open();
  return () => {
    stopped = true;
    current?.abort();
  };
}

/**
 * A fresh sandbox with the CRDs, the `bench` namespace and an Auto policy
 * `bench` for view there: what each grant benchmark starts from.
 */
export async function benchCluster(): Promise<{ sandbox: Sandbox; kc: PooledKubeConfig }> {
  const sandbox = await Sandbox.start({ log: (m) => console.error(m) });
  const kc = new PooledKubeConfig(sandbox.adminConfig());
  await installCRDs(kc);
  const core = kc.makeApiClient(CoreV1Api);
  await core.createNamespace({ body: { metadata: { name: 'timebox-system' } } });
  await core.createNamespace({ body: { metadata: { name: 'bench' } } });
  await createAccessPolicy(kc, 'bench', {
    requesters: { users: ['bench'] },
    namespaces: ['bench'],
    subjects: { users: ['user-*@example.com'] },
    access: [{ kubernetes: { clusterRoles: ['view'], namespaces: ['bench'] } }],
    maxDuration: '2h',
    approval: { mode: 'Auto' },
  });
  return { sandbox, kc };
}

/** Creates a grant for `user-<name>@example.com` to view namespace `bench`, as the bench policy allows. */
export async function createBenchGrant(
  kc: KubeConfig,
  name: string,
  spec: Partial<AccessGrant['spec']>,
): Promise<AccessGrant> {
  return (await kc.makeApiClient(CustomObjectsApi).createNamespacedCustomObject({
    group: GROUP,
    version: VERSION,
    namespace: 'bench',
    plural: ACCESS_GRANT.plural,
    body: {
      apiVersion: `${GROUP}/${VERSION}`,
      kind: 'AccessGrant',
      metadata: { name, annotations: { 'timebox.dev/requested-by': 'bench' } },
      spec: {
        subject: { kind: 'User', name: `user-${name}@example.com` },
        policy: 'bench',
        duration: '1h',
        reason: 'benchmark',
        access: [{ kubernetes: { clusterRole: 'view', namespaces: ['bench'] } }],
        ...spec,
      },
    },
  })) as AccessGrant;
}

/**
 * When each grant in namespace `bench` was seen Active (and its expiry), and when
 * its binding was seen deleted, from watches; `uidToName` is filled by the caller
 * as it creates grants, and `created` too.
 */
export async function trackGrants(kc: KubeConfig) {
  const created = new Map<string, number>();
  const activeSeen = new Map<string, number>();
  const expiresAt = new Map<string, number>();
  const uidToName = new Map<string, string>();
  const revokedSeen = new Map<string, number>();
  const stopGrants = await watchTimes(
    kc,
    `/apis/${GROUP}/${VERSION}/namespaces/bench/${ACCESS_GRANT.plural}`,
    (_t, g) => {
      const name = g.metadata?.name ?? '';
      if (g.status?.phase === 'Active' && !activeSeen.has(name)) {
        activeSeen.set(name, Date.now());
        expiresAt.set(name, Date.parse(g.status.expiresAt ?? ''));
      }
    },
  );
  const stopBindings = await watchTimes(
    kc,
    '/apis/rbac.authorization.k8s.io/v1/namespaces/bench/rolebindings',
    (type, b) => {
      if (type !== 'DELETED') return;
      const uid = b.metadata?.labels?.['timebox.dev/grant-uid'];
      const name = uid && uidToName.get(uid);
      if (name && !revokedSeen.has(name)) revokedSeen.set(name, Date.now());
    },
  );
  const stop = () => {
    stopGrants();
    stopBindings();
  };
  return { created, activeSeen, expiresAt, uidToName, revokedSeen, stop };
}

/**
 * 1,000 grants on the sandbox, with the operator in-process: activation latency
 * (create call → Active seen by a watch), revocation lag (expiresAt → binding
 * deletion seen by a watch), and API writes per grant from the API server's own
 * request counters.
 */
const WORKERS = Number(process.env.BENCH_WORKERS ?? 4);

export async function benchGrants(n = Number(process.env.BENCH_GRANTS ?? 1000)): Promise<void> {
  const { sandbox, kc } = await benchCluster();
  const log = createLogger({ level: 'warn' });
  try {
    const operator = await startOperator(kc, log, { workers: WORKERS });

    const { created, activeSeen, expiresAt, uidToName, revokedSeen, stop } = await trackGrants(kc);

    const before = writeCounts(await sandbox.getRaw('/metrics'));
    // Long enough for every grant to be active before the first expires.
    const duration = `${Math.max(30, Math.ceil(n / 20))}s`;
    const names = Array.from({ length: n }, (_, i) => `g${String(i).padStart(5, '0')}`);
    const startedAt = Date.now();
    for (let i = 0; i < names.length; i += 25) {
      await Promise.all(
        names.slice(i, i + 25).map(async (name) => {
          const g = await createBenchGrant(kc, name, { duration });
          // Latency counts from the API server's acknowledgement of the create.
          created.set(name, Date.now());
          uidToName.set(g.metadata.uid ?? '', name);
        }),
      );
    }
    const createSeconds = (Date.now() - startedAt) / 1000;
    const deadline = Date.now() + 30 * 60_000;
    while (revokedSeen.size < n && Date.now() < deadline) await sleep(200);
    await sleep(2_000); // let the final status writes land in the counters
    const after = writeCounts(await sandbox.getRaw('/metrics'));
    stop();
    await operator.stop();

    const act = names
      .filter((k) => activeSeen.has(k))
      .map((k) => activeSeen.get(k)! - created.get(k)!)
      .sort((a, b) => a - b);
    const lag = names
      .filter((k) => revokedSeen.has(k))
      .map((k) => revokedSeen.get(k)! - expiresAt.get(k)!)
      .sort((a, b) => a - b);
    printTable(
      `${n} grants on the sandbox (created in ${createSeconds.toFixed(1)} s, duration ${duration}, ${WORKERS} workers)`,
      [
        {
          metric: 'activation latency (create → Active)',
          'p50 (ms)': percentile(act, 50),
          'p99 (ms)': percentile(act, 99),
          'max (ms)': act.at(-1) ?? NaN,
          count: act.length,
        },
        {
          metric: 'revocation lag (expiresAt → binding gone)',
          'p50 (ms)': percentile(lag, 50),
          'p99 (ms)': percentile(lag, 99),
          'max (ms)': lag.at(-1) ?? NaN,
          count: lag.length,
        },
      ],
    );
    const rows: Record<string, string | number>[] = [];
    let operatorWrites = 0;
    for (const [key, v] of after) {
      let d = v - (before.get(key) ?? 0);
      // The benchmark's own creates are not the operator's.
      if (key === 'POST accessgrants') d -= n;
      if (d <= 0) continue;
      operatorWrites += d;
      rows.push({ 'API write': key, total: String(d), 'per grant': d / n });
    }
    rows.sort((a, b) => Number(b.total) - Number(a.total));
    rows.push({
      'API write': 'all operator writes (incl. lease renewals)',
      total: String(operatorWrites),
      'per grant': operatorWrites / n,
    });
    printTable("API writes, from the API server's apiserver_request_total", rows);
  } finally {
    await sandbox.stop();
  }
}
