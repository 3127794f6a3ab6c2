import { stopTestCluster, stopTestIssuer } from './cluster.ts';
import { stopTestWebhook } from './timebox.ts';

// Root hooks: mocha runs these once around the whole run.
export const mochaHooks = {
  async afterAll(this: Mocha.Context) {
    this.timeout(60_000);
    await stopTestWebhook();
    await stopTestCluster();
    await stopTestIssuer();
  },
};
