import type { Provider } from '../api/v1alpha1/types.ts';
import type { Clock } from '../runtime/clock.ts';
import type { ProviderDriver } from './provider.ts';

export const PROVIDER_NAMES: readonly Provider[] = ['kubernetes', 'aws', 'gcp'];

export interface CloudSettings {
  clock: Clock;
  /** Another Resource Manager endpoint; plain http:// is a local emulator, sent no credentials. */
  gcpEndpoint?: string;
}

/**
 * The cloud providers, by name. Kubernetes is always on (the operator's own
 * cluster); the others only when asked for, since each needs credentials: the
 * AWS SDK's default chain (IRSA, EKS Pod Identity, environment) and Google's
 * Application Default Credentials (Workload Identity).
 */
// Each SDK is loaded only when its provider is enabled: together they cost an
// operator that uses neither about 75 MiB and a quarter of a second at start.
const FACTORIES: Record<
  Exclude<Provider, 'kubernetes'>,
  (s: CloudSettings) => Promise<ProviderDriver>
> = {
  aws: async () => {
    const { AwsProvider, iamPort } = await import('./aws/driver.ts');
    return new AwsProvider(iamPort());
  },
  gcp: async (s) => {
    const { GcpProvider, resourceManagerPort } = await import('./gcp/driver.ts');
    return new GcpProvider(resourceManagerPort(s.gcpEndpoint ? { endpoint: s.gcpEndpoint } : {}), {
      clock: s.clock,
    });
  },
};

/** Parses `kubernetes,aws,gcp`, refusing names it does not know. */
export function parseProviders(list: string): Provider[] {
  const names = list
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  for (const n of names) {
    if (!PROVIDER_NAMES.includes(n as Provider)) {
      throw new Error(
        `unknown provider '${n}' in --providers; use a comma-separated list of ${PROVIDER_NAMES.join(', ')}`,
      );
    }
  }
  return [...new Set(['kubernetes', ...names])] as Provider[];
}

/** The drivers for the cloud providers named (Kubernetes is wired by the operator). */
export function cloudProviders(
  names: readonly Provider[],
  s: CloudSettings,
): Promise<ProviderDriver[]> {
  return Promise.all(names.filter((n) => n !== 'kubernetes').map((n) => FACTORIES[n](s)));
}
