import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { join } from 'node:path';
import { REPO_ROOT } from '../../src/kube/manifests.ts';
import { freePort } from '../../src/sandbox/ports.ts';
import { startProcess, stopProcess, type ManagedProcess } from '../../src/sandbox/process.ts';
import { eventually } from './wait.ts';

const run = promisify(execFile);

/** A moto server (AWS API emulator from PyPI) on loopback, for the real AWS SDK. */
export async function startMoto(
  logDir: string,
): Promise<{ endpoint: string; stop: () => Promise<void> }> {
  const bin = (
    await run('bash', [join(REPO_ROOT, 'hack', 'install-moto.sh')], { maxBuffer: 1 << 24 })
  ).stdout.trim();
  const port = await freePort();
  // AWS managed policies (ReadOnlyAccess, …) exist only when moto is asked to load them.
  process.env.MOTO_IAM_LOAD_MANAGED_POLICIES = 'true';
  const proc: ManagedProcess = startProcess(
    'moto',
    bin,
    ['-H', '127.0.0.1', '-p', String(port)],
    join(logDir, 'moto.log'),
  );
  const endpoint = `http://127.0.0.1:${port}`;
  await eventually(async () => (await fetch(`${endpoint}/moto-api/`)).ok, {
    timeoutMs: 30_000,
    what: 'moto to listen',
  });
  return { endpoint, stop: () => stopProcess(proc) };
}
