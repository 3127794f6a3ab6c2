import { stopTestCluster } from './cluster.ts';

// Root hooks: mocha runs these once around the whole run.
export const mochaHooks = {
  async afterAll(this: Mocha.Context) {
    this.timeout(60_000);
    await stopTestCluster();
  },
};
