import { join } from 'node:path';
import { CoreV1Api, KubeConfig } from '@kubernetes/client-node';
import { installWebhookForUrl, tlsSecretPort } from '../admission/kube.ts';
import { CA_CRT } from '../admission/tls.ts';
import { isConflict } from '../kube/errors.ts';
import { applyManifests, installCRDs, loadManifests, REPO_ROOT } from '../kube/manifests.ts';

/** The controller's shipped identity: config/rbac binds its roles to this service account. */
export const CONTROLLER_SA = { namespace: 'timebox-system', name: 'timebox-controller' };
export const WEBHOOK_CONFIG = 'timebox-identity';
export const WEBHOOK_SECRET = 'timebox-webhook-tls';

async function ensureNamespace(core: CoreV1Api, name: string): Promise<void> {
  try {
    await core.createNamespace({ body: { metadata: { name } } });
  } catch (err) {
    if (!isConflict(err)) throw err;
  }
}

/**
 * A sandbox is ours to set up, as a cluster admin would: the API, its admission
 * policies, the roles for people and for the controller, and the controller's
 * service account, whose token the operator then runs with, so that the shipped
 * RBAC and admission rules hold for it exactly as in a real cluster.
 */
export async function setUpSandbox(
  admin: KubeConfig,
  tokenTtlSeconds = 7 * 24 * 3600,
): Promise<KubeConfig> {
  const core = admin.makeApiClient(CoreV1Api);
  await installCRDs(admin);
  await ensureNamespace(core, CONTROLLER_SA.namespace);
  for (const dir of ['config/admission', 'config/rbac', 'config/flowcontrol']) {
    await applyManifests(admin, loadManifests(join(REPO_ROOT, dir)));
  }
  try {
    await core.createNamespacedServiceAccount({
      namespace: CONTROLLER_SA.namespace,
      body: { metadata: { name: CONTROLLER_SA.name } },
    });
  } catch (err) {
    if (!isConflict(err)) throw err;
  }
  const review = await core.createNamespacedServiceAccountToken({
    ...CONTROLLER_SA,
    body: { spec: { audiences: [], expirationSeconds: tokenTtlSeconds } },
  });
  const token = review.status?.token;
  if (!token) throw new Error('the sandbox API server issued no token for the controller');
  return withToken(
    admin,
    `system:serviceaccount:${CONTROLLER_SA.namespace}:${CONTROLLER_SA.name}`,
    token,
  );
}

/** `base`'s cluster, with a bearer token as the user. */
export function withToken(base: KubeConfig, user: string, token: string): KubeConfig {
  const cluster = base.getCurrentCluster();
  if (!cluster) throw new Error('no cluster in the kubeconfig');
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [cluster],
    users: [{ name: user, token }],
    contexts: [{ name: user, cluster: cluster.name, user }],
    currentContext: user,
  });
  return kc;
}

/**
 * Points the API server at the operator's webhook on loopback, trusting the CA
 * the operator keeps in its Secret.
 */
export async function connectWebhook(admin: KubeConfig, port: number): Promise<void> {
  const secret = await tlsSecretPort(admin, CONTROLLER_SA.namespace, WEBHOOK_SECRET).read();
  const ca = secret?.data[CA_CRT];
  if (!ca) throw new Error(`the operator has not written its webhook CA to ${WEBHOOK_SECRET} yet`);
  await installWebhookForUrl(admin, WEBHOOK_CONFIG, `https://127.0.0.1:${port}`, ca);
}
