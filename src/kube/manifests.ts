import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  ApiextensionsV1Api,
  CustomObjectsApi,
  KubernetesObjectApi,
  loadAllYaml,
  PatchStrategy,
  type KubeConfig,
  type KubernetesObject,
} from '@kubernetes/client-node';
import { setTimeout as sleep } from 'node:timers/promises';

/**
 * The project's root: the nearest directory up from this module with a
 * package.json (src/kube/ in a checkout; dist/ or dist/chunks/ when bundled).
 */
export const REPO_ROOT = rootAbove(fileURLToPath(new URL('.', import.meta.url)));

function rootAbove(dir: string): string {
  for (let d = dir; ; d = dirname(d)) {
    if (existsSync(join(d, 'package.json'))) return d;
    if (dirname(d) === d) return fileURLToPath(new URL('../..', import.meta.url));
  }
}

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

async function listable(kubeConfig: KubeConfig, crd: KubernetesObject): Promise<boolean> {
  const spec = (
    crd as { spec?: { group: string; names: { plural: string }; versions: { name: string }[] } }
  ).spec;
  if (!spec) return true;
  try {
    await kubeConfig.makeApiClient(CustomObjectsApi).listClusterCustomObject({
      group: spec.group,
      version: spec.versions[0]?.name ?? '',
      plural: spec.names.plural,
    });
    return true;
  } catch {
    return false;
  }
}

/**
 * Installs the CRDs of crds/ and waits until the API server serves them all.
 * Established is not enough: lists answer 429 while a resource's storage
 * initialises, and establishing one CRD of a group can re-initialise its
 * siblings, so the check passes only when every CRD lists in the same round.
 */
export async function installCRDs(kubeConfig: KubeConfig, timeoutMs = 60_000): Promise<void> {
  const crds = loadManifests(join(REPO_ROOT, 'crds'));
  await applyManifests(kubeConfig, crds);
  const api = kubeConfig.makeApiClient(ApiextensionsV1Api);
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    let ready = true;
    for (const crd of crds) {
      const got = await api.readCustomResourceDefinition({ name: crd.metadata?.name ?? '' });
      const established = got.status?.conditions?.some(
        (c) => c.type === 'Established' && c.status === 'True',
      );
      if (!established || !(await listable(kubeConfig, crd))) {
        ready = false;
        break;
      }
    }
    if (ready) return;
    if (Date.now() > deadline) throw new Error('the CRDs were not served in time');
    await sleep(100);
  }
}
