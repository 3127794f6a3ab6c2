import { startTestEnvironment, type ClusterEnvironment } from '../../src/sandbox/environment.ts';

let shared: Promise<ClusterEnvironment> | undefined;

/**
 * The cluster shared by the integration tests, started on first use and stopped
 * after the whole run (see hooks.ts). Start-up includes the one-off build of the
 * control plane when it is not cached yet, so callers give it a long timeout.
 */
export function testCluster(): Promise<ClusterEnvironment> {
  shared ??= startTestEnvironment({
    auditLog: true,
    log: (msg) => process.env.TIMEBOX_TEST_VERBOSE && console.error(`[sandbox] ${msg}`),
  });
  return shared;
}

export async function stopTestCluster(): Promise<void> {
  if (!shared) return;
  const env = await shared.catch(() => undefined);
  shared = undefined;
  await env?.stop();
}

/** Start-up budget for `before` hooks that need the cluster (a cold build takes far longer). */
export const CLUSTER_START_TIMEOUT_MS = 60 * 60 * 1000;
