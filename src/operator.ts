import { KubeConfig, VersionApi } from '@kubernetes/client-node';
import type { Logger } from './log/logger.ts';

export interface Operator {
  stop(): Promise<void>;
}

/**
 * Starts the operator's controllers against the cluster of `kubeConfig`.
 * Until the AccessGrant controller lands this only checks that the API server
 * answers, so that `npm start` proves the wiring end to end.
 */
export async function startOperator(kubeConfig: KubeConfig, log: Logger): Promise<Operator> {
  const version = await kubeConfig.makeApiClient(VersionApi).getCode();
  log.info('connected to the API server', {
    server: kubeConfig.getCurrentCluster()?.server,
    version: version.gitVersion,
  });
  return { stop: async () => {} };
}
