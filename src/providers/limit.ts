import type { ProviderDriver } from './provider.ts';

/**
 * A driver whose grant() calls run at most `max` at a time; observe() and revoke()
 * are never held back. A cloud's API limits how fast it takes writes, while the
 * grant workers are sized for the Kubernetes API server: this keeps a burst of new
 * grants from turning into a burst of cloud writes, and access that must end never
 * waits behind access being given.
 */
export function limitGrants(driver: ProviderDriver, max: number): ProviderDriver {
  if (!Number.isInteger(max) || max < 1)
    throw new Error(`${driver.name}: grant concurrency must be a positive integer, got ${max}`);
  let running = 0;
  const waiting: (() => void)[] = [];
  const release = () => {
    const next = waiting.shift();
    if (next) next();
    else running--;
  };
  return {
    name: driver.name,
    observe: (g) => driver.observe(g),
    revoke: (g, a) => driver.revoke(g, a),
    async grant(g, a) {
      // A slot is handed straight to the next in line, so `running` counts slots held.
      if (running < max) running++;
      else await new Promise<void>((resolve) => waiting.push(resolve));
      try {
        await driver.grant(g, a);
      } finally {
        release();
      }
    },
  };
}
