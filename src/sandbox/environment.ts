import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { homedir, tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';
import { ImpersonatingKubeConfig, type Identity } from './impersonation.ts';
import { Sandbox, type SandboxOptions } from './sandbox.ts';

/** A cluster to run against: the local sandbox, an existing cluster, or k3s in a container. */
export interface ClusterEnvironment {
  readonly kind: 'sandbox' | 'kubeconfig' | 'in-cluster' | 'k3s';
  /** A kubeconfig file for the admin identity, if there is one on disk. */
  readonly kubeconfigPath?: string;
  readonly sandbox?: Sandbox;
  admin(): KubeConfig;
  /** Acts as another identity through impersonation; the admin must be allowed to impersonate. */
  as(identity: Identity): KubeConfig;
  /** Stops what this environment started, within `withinMs` where it started processes. */
  stop(withinMs?: number): Promise<void>;
}

/** The kubeconfig files kubectl would read, if any of them exist. */
export function existingKubeconfig(env = process.env): string | undefined {
  if (env.KUBECONFIG) {
    const files = env.KUBECONFIG.split(delimiter).filter((f) => f && existsSync(f));
    if (files.length > 0) return env.KUBECONFIG;
  }
  const home = join(homedir(), '.kube', 'config');
  return existsSync(home) ? home : undefined;
}

function fromKubeconfig(path: string | undefined): ClusterEnvironment {
  const load = (): KubeConfig => {
    const kc = new KubeConfig();
    if (path) {
      const saved = process.env.KUBECONFIG;
      process.env.KUBECONFIG = path;
      try {
        kc.loadFromDefault();
      } finally {
        if (saved === undefined) delete process.env.KUBECONFIG;
        else process.env.KUBECONFIG = saved;
      }
    } else {
      kc.loadFromDefault();
    }
    return kc;
  };
  return {
    kind: 'kubeconfig',
    kubeconfigPath: path,
    admin: load,
    as: (identity) => new ImpersonatingKubeConfig(load(), identity),
    stop: async () => {},
  };
}

const SA_TOKEN = '/var/run/secrets/kubernetes.io/serviceaccount/token';

/** Running in a pod: the service account's credentials, as client-go's rest.InClusterConfig. */
export function inCluster(env = process.env): boolean {
  return Boolean(env.KUBERNETES_SERVICE_HOST) && existsSync(SA_TOKEN);
}

function fromInCluster(): ClusterEnvironment {
  const load = (): KubeConfig => {
    const kc = new KubeConfig();
    kc.loadFromCluster();
    return kc;
  };
  return {
    kind: 'in-cluster',
    admin: load,
    as: (identity) => new ImpersonatingKubeConfig(load(), identity),
    stop: async () => {},
  };
}

function fromSandbox(sandbox: Sandbox): ClusterEnvironment {
  return {
    kind: 'sandbox',
    kubeconfigPath: sandbox.kubeconfigPath,
    sandbox,
    admin: () => sandbox.adminConfig(),
    as: (identity) => sandbox.configFor(identity),
    stop: (withinMs) => sandbox.stop(withinMs),
  };
}

async function startK3s(): Promise<ClusterEnvironment> {
  // Optional: needs a Docker engine, which CI here does not have.
  const { K3sContainer } = await import('@testcontainers/k3s');
  const image = process.env.TIMEBOX_K3S_IMAGE ?? 'rancher/k3s:v1.35.4-k3s1';
  const container = await new K3sContainer(image).start();
  const config = container.getKubeConfig();
  const dir = await mkdtemp(join(tmpdir(), 'timebox-k3s-'));
  const kubeconfigPath = join(dir, 'kubeconfig');
  await writeFile(kubeconfigPath, config, { mode: 0o600 });
  const load = (): KubeConfig => {
    const kc = new KubeConfig();
    kc.loadFromString(config);
    return kc;
  };
  return {
    kind: 'k3s',
    kubeconfigPath,
    admin: load,
    as: (identity) => new ImpersonatingKubeConfig(load(), identity),
    stop: async () => {
      await container.stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

export interface TestEnvironmentOptions extends SandboxOptions {
  env?: NodeJS.ProcessEnv;
}

/**
 * The cluster the tests run against. `TIMEBOX_TEST_CLUSTER` picks it:
 * - `sandbox` (default): a local etcd + kube-apiserver;
 * - `kubeconfig`: the cluster of `TIMEBOX_TEST_KUBECONFIG` or the usual kubeconfig;
 * - `k3s`: k3s in a container through testcontainers (needs a Docker engine).
 */
export async function startTestEnvironment(
  opts: TestEnvironmentOptions = {},
): Promise<ClusterEnvironment> {
  const env = opts.env ?? process.env;
  const kind = env.TIMEBOX_TEST_CLUSTER ?? 'sandbox';
  switch (kind) {
    case 'sandbox':
      return fromSandbox(await Sandbox.start(opts));
    case 'kubeconfig':
      return fromKubeconfig(env.TIMEBOX_TEST_KUBECONFIG ?? existingKubeconfig(env));
    case 'k3s':
      return startK3s();
    default:
      throw new Error(
        `TIMEBOX_TEST_CLUSTER=${kind} is not supported; use sandbox, kubeconfig or k3s`,
      );
  }
}

/**
 * Whether startRunEnvironment starts a sandbox: with `forceSandbox`, or when there
 * is neither a kubeconfig nor a pod's service account. What a sandbox needs
 * before it starts (its OIDC issuer) is started only then.
 */
export function runsSandbox(forceSandbox = false, env = process.env): boolean {
  return forceSandbox || (!existingKubeconfig(env) && !inCluster(env));
}

/**
 * The cluster the operator runs against: the current kubeconfig if there is one,
 * else the pod's service account when in a cluster, else (or with `forceSandbox`)
 * a sandbox kept in `sandboxDir` so its data survives a restart.
 */
export async function startRunEnvironment(
  sandboxDir: string,
  opts: SandboxOptions & { forceSandbox?: boolean } = {},
): Promise<ClusterEnvironment> {
  if (!runsSandbox(opts.forceSandbox)) {
    const path = existingKubeconfig();
    return path ? fromKubeconfig(path) : fromInCluster();
  }
  return fromSandbox(await Sandbox.start({ ...opts, dir: sandboxDir, keepDir: true }));
}
