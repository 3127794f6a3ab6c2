import { KubeConfig } from '@kubernetes/client-node';

/**
 * A kubeconfig for a server nobody listens on: for code that needs one to be
 * built but must never reach a cluster in the test (a call fails at once).
 */
export function offlineKubeConfig(): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [{ name: 'c', server: 'https://127.0.0.1:1' }],
    users: [{ name: 'u' }],
    contexts: [{ name: 'x', cluster: 'c', user: 'u' }],
    currentContext: 'x',
  });
  return kc;
}
