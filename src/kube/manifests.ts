import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  ApiextensionsV1Api,
  KubernetesObjectApi,
  loadAllYaml,
  PatchStrategy,
  type KubeConfig,
  type KubernetesObject,
} from '@kubernetes/client-node';
import { setTimeout as sleep } from 'node:timers/promises';

export const REPO_ROOT = fileURLToPath(new URL('../..', import.meta.url));

/**
 * Reads every YAML document of a directory into client-node's typed models.
 * KubernetesObjectApi serialises by model, so a plain parsed object would lose
 * fields whose JSON names differ from the model's (x-kubernetes-validations).
 */
export function loadManifests(dir: string): KubernetesObject[] {
  return readdirSync(dir)
    .filter((f) => f.endsWith('.yaml') || f.endsWith('.yml'))
    .sort()
    .flatMap((f) => loadAllYaml(readFileSync(join(dir, f), 'utf8')) as unknown[])
    .filter((o): o is KubernetesObject => o !== null && typeof o === 'object');
}

/** Server-side applies each object, as `kubectl apply --server-side` would. */
export async function applyManifests(
  kubeConfig: KubeConfig,
  objects: KubernetesObject[],
  fieldManager = 'timebox',
): Promise<void> {
  const client = KubernetesObjectApi.makeApiClient(kubeConfig);
  for (const obj of objects) {
    await client.patch(
      obj,
      undefined,
      undefined,
      fieldManager,
      true,
      PatchStrategy.ServerSideApply,
    );
  }
}

/** Installs the CRDs of crds/ and waits until the API server serves them. */
export async function installCRDs(kubeConfig: KubeConfig, timeoutMs = 30_000): Promise<void> {
  const crds = loadManifests(join(REPO_ROOT, 'crds'));
  await applyManifests(kubeConfig, crds);
  const api = kubeConfig.makeApiClient(ApiextensionsV1Api);
  const deadline = Date.now() + timeoutMs;
  for (const crd of crds) {
    const name = crd.metadata?.name ?? '';
    for (;;) {
      const got = await api.readCustomResourceDefinition({ name });
      if (got.status?.conditions?.some((c) => c.type === 'Established' && c.status === 'True'))
        break;
      if (Date.now() > deadline) throw new Error(`CRD ${name} was not established in time`);
      await sleep(100);
    }
  }
}
