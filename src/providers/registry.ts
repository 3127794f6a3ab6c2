import type { Provider } from '../api/v1alpha1/types.ts';
import type { DriverContext } from './kind.ts';
import { kindNamed, kinds, PROVIDER_NAMES } from './kinds.ts';
import { limitGrants } from './limit.ts';
import type { ProviderDriver } from './provider.ts';

export { PROVIDER_NAMES };

/** Parses `aws,gcp`, refusing names it does not know; Kubernetes is always on. */
export function parseProviders(list: string): Provider[] {
  const names = list
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  for (const n of names) {
    if (!kindNamed(n)) {
      throw new Error(
        `unknown provider '${n}' in --providers; use a comma-separated list of ${PROVIDER_NAMES.join(', ')}`,
      );
    }
  }
  return [...new Set(['kubernetes', ...names])] as Provider[];
}

/** Every provider's operator flags (e.g. --gcp-endpoint), for the operator's options and help. */
export function providerFlags() {
  return kinds.flatMap((k) => k.flags ?? []);
}

/**
 * The drivers of the providers named, in that order. Each cloud SDK is loaded
 * only when its provider is enabled: together they cost an operator that uses
 * none of them about 75 MiB and a quarter of a second at start.
 */
export function buildDrivers(
  names: readonly Provider[],
  ctx: DriverContext,
): Promise<ProviderDriver[]> {
  return Promise.all(
    names.map(async (n) => {
      const kind = kindNamed(n)!;
      const driver = await kind.driver(ctx);
      return kind.grantConcurrency ? limitGrants(driver, kind.grantConcurrency) : driver;
    }),
  );
}
