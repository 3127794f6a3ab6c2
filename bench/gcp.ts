import type { AccessGrant } from '../src/api/v1alpha1/types.ts';
import { GcpProvider, resourceManagerPort } from '../src/providers/gcp/driver.ts';
import { desiredGcpArtefacts } from '../src/providers/gcp/policy.ts';
import { systemClock } from '../src/runtime/clock.ts';
import { startGcpIamServer } from '../test/support/gcp.ts';
import { percentile, printTable } from './table.ts';

const PROJECT = 'projects/bench';
const EXPIRES = new Date(Date.now() + 3_600_000).toISOString();

function grant(i: number): AccessGrant {
  return {
    metadata: { name: `g-${i}`, namespace: 'bench', uid: `uid-${i}` },
    spec: {
      subject: { kind: 'User', name: `u${i}@example.com` },
      policy: 'p',
      duration: '1h',
      access: [
        {
          gcp: { resource: PROJECT, role: 'roles/viewer', member: `user:u${i}@example.com` },
        },
      ],
    },
    status: { phase: 'Active', expiresAt: EXPIRES },
  };
}

async function pool(n: number, workers: number, fn: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: workers }, async () => {
      while (next < n) await fn(next++);
    }),
  );
}

/**
 * Many grants on one GCP project at once: every write is a read-modify-write of
 * the same policy, so concurrent workers conflict on the etag. Measures what the
 * conflicts cost, against the local IAM policy server over the real client.
 */
export async function benchGcp(n = Number(process.env.BENCH_GCP_GRANTS ?? 200)): Promise<void> {
  const rows: Record<string, string | number>[] = [];
  for (const workers of [1, 4, 16]) {
    const server = await startGcpIamServer();
    server.addResource(PROJECT);
    const gcp = new GcpProvider(resourceManagerPort({ endpoint: server.endpoint }), {
      clock: systemClock,
    });
    const latency: number[] = [];
    let failed = 0;
    const t0 = performance.now();
    await pool(n, workers, async (i) => {
      const g = grant(i);
      const t = performance.now();
      try {
        for (const a of desiredGcpArtefacts(g, EXPIRES)) await gcp.grant(g, a);
        latency.push(performance.now() - t);
      } catch {
        failed++;
      }
    });
    const grantS = (performance.now() - t0) / 1000;
    const members = (server.policy(PROJECT).bindings ?? []).reduce(
      (k, b) => k + b.members.length,
      0,
    );
    const sets = server.stats.sets;
    const conflicts = server.stats.conflicts;
    const t1 = performance.now();
    await pool(n, workers, async (i) => {
      const g = grant(i);
      for (const a of desiredGcpArtefacts(g, EXPIRES)) await gcp.revoke(g, a).catch(() => failed++);
    });
    const revokeS = (performance.now() - t1) / 1000;
    const left = (server.policy(PROJECT).bindings ?? []).length;
    await server.stop();
    const l = latency.sort((a, b) => a - b);
    rows.push({
      workers,
      'grants/s': n / grantS,
      'grant p50 (ms)': percentile(l, 50),
      'grant p99 (ms)': percentile(l, 99),
      'conflicts per grant': conflicts / n,
      'writes per grant': sets / n,
      'revokes/s': n / revokeS,
      'failed (gave up)': failed,
      'bindings held / left': `${members} / ${left}`,
    });
  }
  printTable(`${n} GCP grants on one project, read-modify-write with etags`, rows);
}
