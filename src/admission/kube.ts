import {
  AdmissionregistrationV1Api,
  CoreV1Api,
  PatchStrategy,
  setHeaderOptions,
  type KubeConfig,
  type V1MutatingWebhookConfiguration,
} from '@kubernetes/client-node';
import { join } from 'node:path';
import type { AccessGrant } from '../api/v1alpha1/types.ts';
import { grantWriter } from '../controller/grants.ts';
import { isNotFound } from '../kube/errors.ts';
import { loadManifests, REPO_ROOT } from '../kube/manifests.ts';
import { WEBHOOK_PATH } from './server.ts';
import type { GrantUidLookup } from './stamp.ts';
import type { CaBundlePort, TlsSecretPort } from './tls.ts';

const b64 = (s: string) => Buffer.from(s, 'utf8').toString('base64');
const unb64 = (s: string) => Buffer.from(s, 'base64').toString('utf8');

export function tlsSecretPort(kc: KubeConfig, namespace: string, name: string): TlsSecretPort {
  const core = kc.makeApiClient(CoreV1Api);
  const body = (data: Record<string, string>, resourceVersion?: string) => ({
    apiVersion: 'v1',
    kind: 'Secret',
    type: 'Opaque',
    metadata: {
      name,
      namespace,
      labels: { 'app.kubernetes.io/name': 'timebox', 'app.kubernetes.io/component': 'webhook' },
      ...(resourceVersion ? { resourceVersion } : {}),
    },
    data: Object.fromEntries(Object.entries(data).map(([k, v]) => [k, b64(v)])),
  });
  return {
    async read() {
      try {
        const s = await core.readNamespacedSecret({ name, namespace });
        return {
          data: Object.fromEntries(Object.entries(s.data ?? {}).map(([k, v]) => [k, unb64(v)])),
          resourceVersion: s.metadata?.resourceVersion ?? '',
        };
      } catch (err) {
        if (isNotFound(err)) return undefined;
        throw err;
      }
    },
    async create(data) {
      await core.createNamespacedSecret({ namespace, body: body(data) });
    },
    async update(data, resourceVersion) {
      await core.replaceNamespacedSecret({ name, namespace, body: body(data, resourceVersion) });
    },
  };
}

export function caBundlePort(kc: KubeConfig, configName: string): CaBundlePort {
  const api = kc.makeApiClient(AdmissionregistrationV1Api);
  return {
    async setCaBundle(pem) {
      let current: V1MutatingWebhookConfiguration;
      try {
        current = await api.readMutatingWebhookConfiguration({ name: configName });
      } catch (err) {
        // Not installed (yet): nothing calls the webhook, so there is nothing to inject.
        if (isNotFound(err)) return;
        throw err;
      }
      const want = b64(pem);
      const webhooks = current.webhooks ?? [];
      if (webhooks.every((w) => w.clientConfig.caBundle === want)) return;
      await api.patchMutatingWebhookConfiguration(
        {
          name: configName,
          body: [
            ...webhooks.map((_, i) => ({
              op: 'replace',
              path: `/webhooks/${i}/clientConfig/caBundle`,
              value: want,
            })),
          ],
        },
        setHeaderOptions('Content-Type', PatchStrategy.JsonPatch),
      );
    },
  };
}

/** Looks a grant's UID up from `cached`, then from the API server (a grant just created). */
export function grantUidLookup(
  kc: KubeConfig,
  cached: (namespace: string, name: string) => AccessGrant | undefined,
): GrantUidLookup {
  const grants = grantWriter(kc);
  return async (namespace, name) => {
    const hit = cached(namespace, name)?.metadata.uid;
    if (hit) return hit;
    try {
      return (await grants.get(namespace, name)).metadata.uid;
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw err;
    }
  };
}

/**
 * The webhook configuration of config/webhook, calling `url` instead of the
 * in-cluster Service: for a sandbox, whose API server reaches the operator on
 * loopback. Created or replaced as admin; the operator injects its CA.
 */
export async function installWebhookForUrl(
  admin: KubeConfig,
  name: string,
  url: string,
  caPem?: string,
): Promise<void> {
  const [base] = loadManifests(
    join(REPO_ROOT, 'config', 'webhook'),
  ) as V1MutatingWebhookConfiguration[];
  const body: V1MutatingWebhookConfiguration = {
    ...base!,
    metadata: { ...base!.metadata, name },
    webhooks: (base!.webhooks ?? []).map((w) => ({
      ...w,
      clientConfig: { url: `${url}${WEBHOOK_PATH}`, ...(caPem ? { caBundle: b64(caPem) } : {}) },
    })),
  };
  const api = admin.makeApiClient(AdmissionregistrationV1Api);
  try {
    const current = await api.readMutatingWebhookConfiguration({ name });
    // Keep the CA the operator injected unless a new one is given.
    body.webhooks = body.webhooks!.map((w, i) => ({
      ...w,
      clientConfig: {
        ...w.clientConfig,
        caBundle: w.clientConfig.caBundle ?? current.webhooks?.[i]?.clientConfig.caBundle,
      },
    }));
    body.metadata = { ...body.metadata, resourceVersion: current.metadata?.resourceVersion };
    await api.replaceMutatingWebhookConfiguration({ name, body });
  } catch (err) {
    if (!isNotFound(err)) throw err;
    await api.createMutatingWebhookConfiguration({ body });
  }
}
