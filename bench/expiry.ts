import { setTimeout as sleep } from 'node:timers/promises';
import type { AccessGrant } from '../src/api/v1alpha1/types.ts';
import { createLogger } from '../src/log/logger.ts';
import { startOperator } from '../src/operator.ts';
import { benchCluster, createBenchGrant, trackGrants, writeCounts } from './grants.ts';
import { percentile, printTable } from './table.ts';

const WORKERS = Number(process.env.BENCH_WORKERS ?? 4);
const REVOKE_WORKERS = Number(process.env.BENCH_REVOKE_WORKERS ?? 16);

/**
 * An expiry burst: N grants whose expiries all fall inside one window while M
 * more are being created, with the operator in-process on the sandbox. A grant's
 * window (startAt + duration) fixes its expiry in advance, so the expiries can be
 * spread exactly. Measured: revocation lag (expiresAt → binding deletion seen by a
 * watch) for the burst, and activation latency of the grants created during it.
 */
export async function benchExpiry(
  n = Number(process.env.BENCH_EXPIRING ?? 10_000),
  m = Number(process.env.BENCH_CREATING ?? 2_000),
  windowMs = Number(process.env.BENCH_WINDOW_MS ?? 60_000),
): Promise<void> {
  const { sandbox, kc } = await benchCluster();
  const log = createLogger({ level: 'warn' });
  try {
    const operator = await startOperator(kc, log, {
      workers: WORKERS,
      revokeWorkers: REVOKE_WORKERS,
    });

    const { created, activeSeen, expiresAt, uidToName, revokedSeen, stop } = await trackGrants(kc);
    const create = async (name: string, spec: Partial<AccessGrant['spec']>) => {
      const g = await createBenchGrant(kc, name, spec);
      created.set(name, Date.now());
      uidToName.set(g.metadata.uid ?? '', name);
    };
    const inBatches = async (names: string[], fn: (name: string, i: number) => Promise<void>) => {
      for (let i = 0; i < names.length; i += 25) {
        await Promise.all(names.slice(i, i + 25).map((name, j) => fn(name, i + j)));
      }
    };

    // Phase 1: the burst's grants, all active long before their expiries.
    const burst = Array.from({ length: n }, (_, i) => `e${String(i).padStart(5, '0')}`);
    const t0 = Date.now();
    const activationBudgetMs = Number(process.env.BENCH_ACTIVATION_MS ?? Math.max(60_000, n * 30));
    const windowStart = t0 + activationBudgetMs;
    const expiry = (i: number) => windowStart + Math.floor((i * windowMs) / n);
    // A window of [expiry - 1h, expiry): activated now, it ends exactly at `expiry`.
    await inBatches(burst, (name, i) =>
      create(name, { startAt: new Date(expiry(i) - 3600_000).toISOString() }),
    );
    const createdBurstS = (Date.now() - t0) / 1000;
    while (burst.some((k) => !activeSeen.has(k)) && Date.now() < windowStart - 5_000) {
      await sleep(500);
    }
    const activeBeforeWindow = burst.filter((k) => activeSeen.has(k)).length;

    // Phase 2: new requests arrive while the burst expires.
    await sleep(Math.max(0, windowStart - 2_000 - Date.now()));
    const writesBefore = writeCounts(await sandbox.getRaw('/metrics'));
    const fresh = Array.from({ length: m }, (_, i) => `c${String(i).padStart(5, '0')}`);
    const freshStarted = Date.now();
    await inBatches(fresh, (name) => create(name, {}));
    const freshSeconds = (Date.now() - freshStarted) / 1000;

    const deadline = windowStart + windowMs + 10 * 60_000;
    while (
      (burst.some((k) => activeSeen.has(k) && !revokedSeen.has(k)) ||
        fresh.some((k) => !activeSeen.has(k))) &&
      Date.now() < deadline
    ) {
      await sleep(200);
    }
    const writesAfter = writeCounts(await sandbox.getRaw('/metrics'));
    stop();
    await operator.stop();

    const lag = burst
      .filter((k) => revokedSeen.has(k) && expiresAt.has(k))
      .map((k) => revokedSeen.get(k)! - expiresAt.get(k)!)
      .sort((a, b) => a - b);
    const act = fresh
      .filter((k) => activeSeen.has(k))
      .map((k) => activeSeen.get(k)! - created.get(k)!)
      .sort((a, b) => a - b);
    printTable(
      `${n} grants expiring within ${windowMs / 1000} s while ${m} are created (burst created in ${createdBurstS.toFixed(1)} s, ${activeBeforeWindow} active before the window; the ${m} created in ${freshSeconds.toFixed(1)} s; ${WORKERS} + ${REVOKE_WORKERS} workers)`,
      [
        {
          metric: 'revocation lag (expiresAt → binding gone)',
          'p50 (ms)': percentile(lag, 50),
          'p99 (ms)': percentile(lag, 99),
          'max (ms)': lag.at(-1) ?? NaN,
          count: lag.length,
        },
        {
          metric: 'activation latency during the burst (create → Active)',
          'p50 (ms)': percentile(act, 50),
          'p99 (ms)': percentile(act, 99),
          'max (ms)': act.at(-1) ?? NaN,
          count: act.length,
        },
      ],
    );
    const rows = [...writesAfter]
      .map(([write, v]) => ({ write, total: v - (writesBefore.get(write) ?? 0) }))
      .filter((r) => r.total > 0)
      .sort((a, b) => b.total - a.total)
      .map((r) => ({ 'API write': r.write, total: String(r.total), 'per expiry': r.total / n }));
    printTable(
      `API writes from the window's start until every grant was revoked or active (the ${m} creates included)`,
      rows,
    );
  } finally {
    await sandbox.stop();
  }
}
