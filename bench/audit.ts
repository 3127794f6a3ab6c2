import { request, Agent } from 'node:https';
import { setTimeout as sleep } from 'node:timers/promises';
import { newCA, newServingCert } from '../src/admission/certs.ts';
import { activeGrant, anEvent } from '../src/activity/fixtures.ts';
import type { AuditEvent } from '../src/activity/audit-event.ts';
import type { IntakeResult } from '../src/activity/intake.ts';
import { ActivityTracker, type ActivityStore } from '../src/activity/tracker.ts';
import { AUDIT_PATH, startAuditWebhook } from '../src/activity/webhook.ts';
import type { AccessActivity } from '../src/api/v1alpha1/activity.ts';
import { createLogger } from '../src/log/logger.ts';
import { systemClock } from '../src/runtime/clock.ts';
import { printTable } from './table.ts';

const GRANTS = Number(process.env.BENCH_AUDIT_GRANTS ?? 1_000);
const SECONDS = Number(process.env.BENCH_AUDIT_SECONDS ?? 3);
const CAPACITY = 10_000;
const MB = 1024 * 1024;

/** An in-memory store: the bench measures the intake, not the API server. */
function memoryStore(): ActivityStore & { writes: number } {
  const objects = new Map<string, AccessActivity>();
  return {
    writes: 0,
    get: (ns, name) => Promise.resolve(objects.get(`${ns}/${name}`)),
    create(a) {
      this.writes++;
      objects.set(`${a.metadata.namespace}/${a.metadata.name}`, a);
      return Promise.resolve();
    },
    replace(a) {
      this.writes++;
      objects.set(`${a.metadata.namespace}/${a.metadata.name}`, a);
      return Promise.resolve();
    },
  };
}

function setup() {
  const now = Date.now();
  const grants = Array.from({ length: GRANTS }, (_, i) => {
    const g = activeGrant({ subject: { kind: 'User', name: `user-${i}` } }, `g-${i}`);
    g.status = {
      phase: 'Active',
      activatedAt: new Date(now - 60_000).toISOString(),
      expiresAt: new Date(now + 3_600_000).toISOString(),
    };
    return g;
  });
  const n: Record<IntakeResult, number> = {
    received: 0,
    attributed: 0,
    unattributed: 0,
    dropped: 0,
    lost: 0,
  };
  const store = memoryStore();
  const tracker = new ActivityTracker({
    grants: () => grants,
    store,
    clock: systemClock,
    log: createLogger({ level: 'error' }),
    counters: { inc: (r, k) => (n[r] += k) },
    capacity: CAPACITY,
    flushIntervalMs: 1_000,
  });
  return { tracker, n, store };
}

/** Half the events are a granted user's, half someone else's; a tenth are writes. */
function events(count: number): AuditEvent[] {
  const at = new Date().toISOString();
  return Array.from({ length: count }, (_, i) =>
    anEvent({
      at,
      user: { username: i % 2 ? `user-${i % GRANTS}` : `other-${i}`, groups: [] },
      verb: i % 10 === 0 ? 'patch' : 'get',
      objectRef: {
        resource: i % 3 ? 'pods' : 'configmaps',
        namespace: 'payments',
        name: `o-${i % 500}`,
      },
    }),
  );
}

async function lagProbe(stop: () => boolean): Promise<number> {
  let worst = 0;
  while (!stop()) {
    const t = performance.now();
    await sleep(10);
    worst = Math.max(worst, performance.now() - t - 10);
  }
  return worst;
}

const mem = () => {
  global.gc?.();
  const m = process.memoryUsage();
  return { rss: m.rss / MB, heap: m.heapUsed / MB };
};

/** Offers `rate` events per second for SECONDS, in-process, and reports what became of them. */
async function inProcess(rate: number): Promise<Record<string, string | number>> {
  const { tracker, n, store } = setup();
  tracker.start();
  const batch = events(Math.max(1, Math.round(rate / 100)));
  const before = mem();
  const began = performance.now();
  let done = false;
  const lag = lagProbe(() => done);
  let peakHeap = before.heap;
  while (performance.now() - began < SECONDS * 1000) {
    tracker.offer(batch);
    peakHeap = Math.max(peakHeap, process.memoryUsage().heapUsed / MB);
    await sleep(10);
  }
  while (tracker.intake.depth > 0) await sleep(5);
  const secs = (performance.now() - began) / 1000;
  done = true;
  await tracker.stop();
  const after = mem();
  return {
    path: 'in-process',
    'offered/s': Math.round(n.received / secs),
    'processed/s': Math.round((n.attributed + n.unattributed) / secs),
    attributed: n.attributed,
    dropped: n.dropped,
    'record writes': store.writes,
    'loop lag max ms': Math.round(await lag),
    'heap MB before': before.heap,
    'heap MB peak': peakHeap,
    'rss MB after': after.rss,
  };
}

/** The same through the real HTTPS webhook handler: JSON EventLists of 400, as the API server batches. */
async function throughWebhook(): Promise<Record<string, string | number>> {
  const { tracker, n, store } = setup();
  tracker.start();
  const now = new Date();
  const ca = newCA(now);
  const token = 'bench-token-0123456789abcdef';
  const hook = await startAuditWebhook({
    host: '127.0.0.1',
    port: 0,
    certificate: newServingCert(ca, ['127.0.0.1'], now),
    token,
    onEvents: (e) => tracker.offer(e),
    log: createLogger({ level: 'error' }),
  });
  const body = JSON.stringify({
    kind: 'EventList',
    apiVersion: 'audit.k8s.io/v1',
    items: events(400),
  });
  const agent = new Agent({ keepAlive: true, maxSockets: 4, ca: ca.certPem });
  const post = () =>
    new Promise<void>((resolve, reject) => {
      const req = request(
        {
          host: '127.0.0.1',
          port: hook.port,
          path: AUDIT_PATH,
          method: 'POST',
          agent,
          headers: { Authorization: `Bearer ${token}` },
        },
        (res) => {
          res.resume();
          res.on('end', () => resolve());
        },
      );
      req.on('error', reject);
      req.end(body);
    });
  const before = mem();
  const began = performance.now();
  let peakHeap = before.heap;
  while (performance.now() - began < SECONDS * 1000) {
    await Promise.all([post(), post(), post(), post()]);
    peakHeap = Math.max(peakHeap, process.memoryUsage().heapUsed / MB);
  }
  while (tracker.intake.depth > 0) await sleep(5);
  const secs = (performance.now() - began) / 1000;
  agent.destroy();
  await hook.close();
  await tracker.stop();
  const after = mem();
  return {
    path: 'HTTPS webhook',
    'offered/s': Math.round(n.received / secs),
    'processed/s': Math.round((n.attributed + n.unattributed) / secs),
    attributed: n.attributed,
    dropped: n.dropped,
    'record writes': store.writes,
    'loop lag max ms': '-',
    'heap MB before': before.heap,
    'heap MB peak': peakHeap,
    'rss MB after': after.rss,
  };
}

/**
 * The audit intake: how many events per second it attributes, what it sheds,
 * and that memory stays bounded (capacity CAPACITY events) however many arrive.
 */
export async function benchAudit(): Promise<void> {
  const rows = [];
  for (const rate of (process.env.BENCH_AUDIT_RATES ?? '10000,100000,1000000')
    .split(',')
    .map(Number))
    rows.push(await inProcess(rate));
  rows.push(await throughWebhook());
  printTable(
    `Audit intake: ${GRANTS} active grants, ${SECONDS}s per row, capacity ${CAPACITY} events (half the events are a granted user's)`,
    rows,
  );
}
