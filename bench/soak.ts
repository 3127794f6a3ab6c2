import { soak } from '../test/support/soak.ts';
import { percentile, printTable } from './table.ts';

/**
 * The crash soak (see test/support/soak.ts): two operator replicas, 100 kill -9s
 * at random moments under ~300 live grants, the API server killed and restarted
 * every 25 kills and etcd every 50. Prints how long bindings outlived their
 * grants, orphans and stuck grants.
 */
export async function benchSoak(): Promise<void> {
  const r = await soak({
    kills: Number(process.env.BENCH_KILLS ?? 100),
    live: Number(process.env.BENCH_LIVE ?? 300),
    apiserverEvery: 25,
    etcdEvery: 50,
    replicas: 2,
    log: (m) => process.env.BENCH_VERBOSE && console.error(m),
  });
  const o = r.overdueMs;
  printTable(
    `crash soak: ${r.kills} operator kill -9s (2 replicas), ${r.apiserverCrashes} API server and ${r.etcdCrashes} etcd kill -9s, ${r.grants} grants`,
    [
      {
        metric: 'binding past its expiry (ms)',
        p50: percentile(o, 50),
        p99: percentile(o, 99),
        max: o.at(-1) ?? NaN,
        'over 2 s': String(o.filter((v) => v > 2_000).length),
        bindings: String(o.length),
      },
    ],
  );
  printTable('what was left', [
    {
      orphans: String(r.orphans),
      'stuck grants': String(r.stuck),
      'never active': String(r.neverActive),
      'replica exits (restarted)': String(r.selfExits.length),
    },
  ]);
  for (const e of r.selfExits) console.error(`replica exit: ${e}`);
}
