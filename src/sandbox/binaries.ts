import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const run = promisify(execFile);

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
  const { stdout } = await run('bash', [BUILD_SCRIPT], {
    maxBuffer: 64 * 1024 * 1024,
    env: process.env,
  }).catch((err: Error & { stderr?: string }) => {
    throw new Error(`building the control plane failed: ${err.message}\n${err.stderr ?? ''}`);
  });
  const dir = stdout.trim().split('\n').pop() ?? '';
  const b = fromDir(dir);
  if (!complete(b)) throw new Error(`control plane build did not produce binaries in '${dir}'`);
  return b;
}
