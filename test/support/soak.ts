import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  CoreV1Api,
  CustomObjectsApi,
  RbacAuthorizationV1Api,
  type V1RoleBinding,
} from '@kubernetes/client-node';
import {
  ACCESS_GRANT,
  GROUP,
  VERSION,
  isTerminal,
  type AccessGrant,
} from '../../src/api/v1alpha1/types.ts';
import { parseDuration } from '../../src/api/v1alpha1/duration.ts';
import { PooledKubeConfig } from '../../src/kube/kubeconfig.ts';
import { createLogger } from '../../src/log/logger.ts';
import { Informer } from '../../src/runtime/informer.ts';
import { Sandbox } from '../../src/sandbox/sandbox.ts';
import { setUpSandbox } from '../../src/sandbox/setup.ts';
import { ADMIN, createAccessPolicy } from './timebox.ts';

const MAIN = fileURLToPath(new URL('../../src/main.ts', import.meta.url));
const NS = 'soak';

export interface SoakOptions {
  /** kill -9s of an operator replica, at random moments. */
  kills: number;
  /** Grants alive at once, roughly. */
  live: number;
  /** Kill and restart the API server after every this many operator kills (0: never). */
  apiserverEvery: number;
  /** Kill and restart etcd after every this many operator kills (0: never). */
  etcdEvery: number;
  /** Operator replicas; one is killed at a time. */
  replicas: number;
  log?: (msg: string) => void;
}

export interface SoakResult {
  kills: number;
  apiserverCrashes: number;
  etcdCrashes: number;
  grants: number;
  /** Per binding: deletion seen − expires-at, ms. */
  overdueMs: number[];
  /** Bindings left after every grant ended. */
  /** Timebox bindings left once every window has closed, read fresh from the API server. */
  orphans: number;
  orphanDetails: string[];
  /** The same, as the test's watch cache saw it: a difference means the cache was behind. */
  cachedOrphans: number;
  /** Grants not in a final phase well after their window ended. */
  stuck: number;
  /** Grants that were never granted (not Expired after Active), e.g. created during an outage. */
  neverActive: number;
  /** Replicas that exited by themselves (and were restarted), with their last words. */
  selfExits: string[];
}

/** The operator as users run it (node src/main.ts), as its own service account. */
function startOperator(kubeconfig: string, log: (s: string) => void): ChildProcess {
  const child = spawn(
    process.execPath,
    [
      MAIN,
      '--namespace=timebox-system',
      '--metrics-bind-address=0',
      '--health-probe-bind-address=0',
      '--webhook-bind-address=0',
    ],
    {
      env: { ...process.env, KUBECONFIG: kubeconfig, TIMEBOX_LOG_LEVEL: 'warn' },
      stdio: ['ignore', 'ignore', 'pipe'],
    },
  );
  child.stderr?.on('data', (d: Buffer) => log(`[operator ${child.pid}] ${d.toString().trim()}`));
  return child;
}

async function kill9(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill('SIGKILL');
  await once(child, 'exit');
}

/**
 * An operator replica as a Deployment keeps it: a process that exits by itself
 * (a lost lease ends it, as controller-runtime's does, for the kubelet to restart)
 * is started again a second later. Without this, a soak whose replicas both lost
 * their lease under load would go on with no operator, and no sweeper, at all.
 */
class Replica {
  child!: ChildProcess;
  private stopped = false;
  private readonly kubeconfig: string;
  private readonly log: (s: string) => void;
  private readonly exits: string[];

  constructor(kubeconfig: string, log: (s: string) => void, exits: string[]) {
    this.kubeconfig = kubeconfig;
    this.log = log;
    this.exits = exits;
    this.spawn();
  }

  private spawn(): void {
    const child = startOperator(this.kubeconfig, this.log);
    let tail = '';
    child.stderr?.on('data', (d: Buffer) => (tail = (tail + d.toString()).slice(-800)));
    child.once('exit', (code, signal) => {
      // Our own kill -9 restarts it at once (kill()); only an exit of its own counts.
      if (this.stopped || child !== this.child || signal === 'SIGKILL') return;
      this.exits.push(`pid ${child.pid} exited (${code ?? signal}): ${tail.trim()}`);
      setTimeout(() => {
        if (!this.stopped && child === this.child) this.spawn();
      }, 1_000);
    });
    this.child = child;
  }

  /** A crash: kill -9, and a new process at once. */
  async kill(): Promise<void> {
    await kill9(this.child);
    this.spawn();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await kill9(this.child);
  }
}

/**
 * The crash soak: operator replicas killed with SIGKILL at random moments, the
 * API server and etcd killed and restarted, while grants keep starting and
 * ending. Measures how long each binding outlives its grant's expiry, and counts
 * orphans and stuck grants. Bounded in count and time; all on loopback.
 */
export async function soak(opts: SoakOptions): Promise<SoakResult> {
  const log = opts.log ?? (() => {});
  const sandbox = await Sandbox.start({ log });
  const work = mkdtempSync(join(tmpdir(), 'timebox-soak-'));
  const admin = new PooledKubeConfig(sandbox.adminConfig());
  const operators: Replica[] = [];
  const selfExits: string[] = [];
  const informers: Informer<never>[] = [];
  try {
    const operatorConfig = await setUpSandbox(admin);
    const kubeconfig = join(work, 'operator.kubeconfig');
    writeFileSync(kubeconfig, operatorConfig.exportConfig(), { mode: 0o600 });
    await admin.makeApiClient(CoreV1Api).createNamespace({ body: { metadata: { name: NS } } });
    await createAccessPolicy(admin, 'soak', {
      requesters: { users: [ADMIN] },
      namespaces: [NS],
      subjects: { users: ['*'] },
      access: [{ kubernetes: { clusterRoles: ['view'], namespaces: [NS] } }],
      maxDuration: '1h',
      approval: { mode: 'Auto' },
    });

    // What really happens, seen by the admin through watches that survive restarts.
    const silent = createLogger({ write: () => {} });
    const rbac = admin.makeApiClient(RbacAuthorizationV1Api);
    const bindings = new Informer<V1RoleBinding>(
      'rolebindings',
      admin,
      `/apis/rbac.authorization.k8s.io/v1/namespaces/${NS}/rolebindings`,
      () => rbac.listNamespacedRoleBinding({ namespace: NS }),
      { log: silent, maxBackoffMs: 1_000 },
    );
    const custom = admin.makeApiClient(CustomObjectsApi);
    const grants = new Informer<AccessGrant>(
      'accessgrants',
      admin,
      `/apis/${GROUP}/${VERSION}/namespaces/${NS}/${ACCESS_GRANT.plural}`,
      async () =>
        (await custom.listNamespacedCustomObject({
          group: GROUP,
          version: VERSION,
          namespace: NS,
          plural: ACCESS_GRANT.plural,
        })) as never,
      { log: silent, maxBackoffMs: 1_000 },
    );
    informers.push(bindings as never, grants as never);
    const expiresOf = new Map<string, number>();
    const goneAt = new Map<string, number>();
    bindings.on('add', (b) => {
      const at = Date.parse(b.metadata?.annotations?.['timebox.dev/expires-at'] ?? '');
      if (!Number.isNaN(at)) expiresOf.set(b.metadata?.name ?? '', at);
    });
    bindings.on('delete', (b) => {
      if (!goneAt.has(b.metadata?.name ?? '')) goneAt.set(b.metadata?.name ?? '', Date.now());
    });
    // A binding still there past its expiry, seen by polling the cache: catches
    // one whose deletion the watch saw late or never.
    const overdueSeen = new Map<string, number>();
    const poll = setInterval(() => {
      const now = Date.now();
      for (const b of bindings.list()) {
        const at = Date.parse(b.metadata?.annotations?.['timebox.dev/expires-at'] ?? '');
        const name = b.metadata?.name ?? '';
        if (!Number.isNaN(at) && now > at)
          overdueSeen.set(name, Math.max(overdueSeen.get(name) ?? 0, now - at));
      }
    }, 100);
    await Promise.all([bindings.start(), grants.start()]);

    for (let i = 0; i < opts.replicas; i++) operators.push(new Replica(kubeconfig, log, selfExits));

    // Grants keep coming: ~`live` alive at once, each a window of 20 to 60 s, long
    // enough to outlast a failover (a Lease of 15 s) and be granted.
    let created = 0;
    let failing = 0;
    let creating = true;
    const creator = (async () => {
      while (creating) {
        const alive = grants.list().filter((g) => !isTerminal(g.status?.phase)).length;
        if (alive < opts.live) {
          const name = `s${String(created++).padStart(5, '0')}`;
          const seconds = 20 + Math.floor(Math.random() * 40);
          await custom
            .createNamespacedCustomObject({
              group: GROUP,
              version: VERSION,
              namespace: NS,
              plural: ACCESS_GRANT.plural,
              body: {
                apiVersion: `${GROUP}/${VERSION}`,
                kind: 'AccessGrant',
                metadata: { name, annotations: { 'timebox.dev/requested-by': ADMIN } },
                spec: {
                  subject: { kind: 'User', name: `user-${name}@example.com` },
                  policy: 'soak',
                  startAt: new Date().toISOString(),
                  duration: `${seconds}s`,
                  reason: 'soak',
                  access: [{ kubernetes: { clusterRole: 'view', namespaces: [NS] } }],
                },
              },
            })
            .then(
              () => (failing = 0),
              async (err: unknown) => {
                // The create landed, but its answer was lost when the API server
                // was killed: the retry finds it there.
                if ((err as { code?: number }).code === 409) {
                  failing = 0;
                  return;
                }
                // The API server is down: try again shortly. A minute of nothing
                // but failures is a broken soak, not an outage.
                created--;
                if (++failing > 300) throw err;
                await sleep(200);
              },
            );
        } else {
          await sleep(50);
        }
      }
    })();

    let apiserverCrashes = 0;
    let etcdCrashes = 0;
    for (let k = 1; k <= opts.kills; k++) {
      await sleep(300 + Math.random() * 2_700);
      const i = Math.floor(Math.random() * operators.length);
      await operators[i]!.kill();
      if (opts.apiserverEvery && k % opts.apiserverEvery === 0) {
        await sandbox.crash('kube-apiserver');
        apiserverCrashes++;
      }
      if (opts.etcdEvery && k % opts.etcdEvery === 0) {
        await sandbox.crash('etcd');
        etcdCrashes++;
      }
      log(`kill ${k}/${opts.kills}: ${created} grants so far`);
    }
    creating = false;
    await creator;

    // Let every window close, then see what is left.
    // Every grant's window, granted or not yet, ends by startAt + duration.
    const windowEnd = (g: AccessGrant) =>
      Date.parse(g.spec.startAt ?? '') + parseDuration(g.spec.duration);
    const lastEnd = Math.max(...grants.list().map(windowEnd));
    await sleep(Math.max(0, lastEnd - Date.now()) + 15_000);
    clearInterval(poll);
    const overdueMs = [...expiresOf.entries()].map(([name, at]) =>
      Math.max(overdueSeen.get(name) ?? 0, (goneAt.get(name) ?? Date.now()) - at),
    );
    const all = grants.list();
    // What is really left, read fresh from the API server: the test's own cache
    // may be behind after the kills, and what counts is the cluster's state.
    const left = (await rbac.listNamespacedRoleBinding({ namespace: NS })).items.filter(
      (b) => b.metadata?.labels?.['timebox.dev/grant-uid'],
    );
    return {
      kills: opts.kills,
      apiserverCrashes,
      etcdCrashes,
      grants: created,
      overdueMs: overdueMs.sort((a, b) => a - b),
      orphans: left.length,
      orphanDetails: left.map(
        (b) =>
          `${b.metadata?.name} (expires-at ${b.metadata?.annotations?.['timebox.dev/expires-at']}, created ${String(b.metadata?.creationTimestamp)})`,
      ),
      cachedOrphans: bindings.list().length,
      stuck: all.filter((g) => !isTerminal(g.status?.phase)).length,
      neverActive: all.filter((g) => !g.status?.activatedAt).length,
      selfExits,
    };
  } finally {
    for (const o of operators) await o.stop();
    for (const i of informers) await i.stop();
    await admin.close();
    await sandbox.stop();
    rmSync(work, { recursive: true, force: true });
  }
}
