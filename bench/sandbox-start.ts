import { Sandbox } from '../src/sandbox/sandbox.ts';
import { ensureControlPlaneBinaries } from '../src/sandbox/binaries.ts';
import { percentile, printTable } from './table.ts';

/** Warm start of the sandbox control plane (binaries already built), target < 15 s. */
export async function benchSandboxStart(runs = Number(process.env.BENCH_RUNS ?? 3)): Promise<void> {
  await ensureControlPlaneBinaries((m) => console.error(m));
  const startMs: number[] = [];
  const stopMs: number[] = [];
  for (let i = 0; i < runs; i++) {
    const sandbox = await Sandbox.start();
    startMs.push(sandbox.startupMs);
    const t = performance.now();
    await sandbox.stop();
    stopMs.push(performance.now() - t);
  }
  const s = [...startMs].sort((a, b) => a - b);
  const st = [...stopMs].sort((a, b) => a - b);
  printTable(`sandbox control plane, ${runs} warm starts (target: start < 15 s)`, [
    { phase: 'start', 'p50 (s)': percentile(s, 50) / 1000, 'max (s)': s.at(-1)! / 1000 },
    { phase: 'stop', 'p50 (s)': percentile(st, 50) / 1000, 'max (s)': st.at(-1)! / 1000 },
  ]);
}
