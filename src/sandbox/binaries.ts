import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

export interface ControlPlaneBinaries {
  etcd: string;
  kubeApiserver: string;
  kubeControllerManager: string;
  kubectl: string;
}

const BUILD_SCRIPT = fileURLToPath(new URL('../../hack/build-control-plane.sh', import.meta.url));

function fromDir(dir: string): ControlPlaneBinaries {
  return {
    etcd: join(dir, 'etcd'),
    kubeApiserver: join(dir, 'kube-apiserver'),
    kubeControllerManager: join(dir, 'kube-controller-manager'),
    kubectl: join(dir, 'kubectl'),
  };
}

function complete(b: ControlPlaneBinaries): boolean {
  return [b.etcd, b.kubeApiserver, b.kubeControllerManager].every((f) => existsSync(f));
}

/**
 * Finds etcd, kube-apiserver and kube-controller-manager. Like envtest, `KUBEBUILDER_ASSETS` (or
 * `TIMEBOX_CONTROL_PLANE_DIR`) may point at a directory that already holds them;
 * otherwise they are built once from the Go module proxy into a per-version cache.
 */
export async function ensureControlPlaneBinaries(
  log: (msg: string) => void = () => {},
): Promise<ControlPlaneBinaries> {
  for (const env of ['TIMEBOX_CONTROL_PLANE_DIR', 'KUBEBUILDER_ASSETS']) {
    const dir = process.env[env];
    if (!dir) continue;
    const b = fromDir(dir);
    if (!complete(b)) {
      throw new Error(
        `${env}=${dir} does not contain etcd, kube-apiserver and kube-controller-manager`,
      );
    }
    return b;
  }
  log('checking control plane binaries (the first run builds them from source: 10-20 minutes)');
  const stdout = await runBuild(log).catch((err: Error) => {
    throw new Error(`building the control plane failed: ${err.message}`);
  });
  const dir = stdout.trim().split('\n').pop() ?? '';
  const b = fromDir(dir);
  if (!complete(b)) throw new Error(`control plane build did not produce binaries in '${dir}'`);
  return b;
}

/**
 * Runs the build script, passing on each line of its progress (which binary,
 * n of m, how long; that it waits for another build's lock) as it comes,
 * rather than one line for the 10-20 minutes a first build takes. Resolves
 * with its stdout; a failure carries the end of its output.
 */
function runBuild(log: (msg: string) => void): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn('bash', [BUILD_SCRIPT], {
      env: process.env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    const lines: string[] = [];
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    createInterface({ input: child.stderr }).on('line', (line) => {
      lines.push(line);
      if (lines.length > 50) lines.shift();
      const progress = /^\[build-control-plane\] (.*)$/.exec(line);
      if (progress) log(progress[1]!);
    });
    child.once('error', reject);
    child.once('close', (code, signal) => {
      if (code === 0) resolve(stdout);
      else reject(new Error(`exit ${code ?? signal}\n${lines.join('\n')}`));
    });
  });
}
