import assert from 'node:assert/strict';
import { systemClock } from '../runtime/clock.ts';
import { cloudProviders, parseProviders } from './registry.ts';

describe('provider registry', () => {
  it('always includes kubernetes, and adds the clouds asked for once', () => {
    assert.deepEqual(parseProviders(''), ['kubernetes']);
    assert.deepEqual(parseProviders('gcp, aws,gcp'), ['kubernetes', 'gcp', 'aws']);
  });

  it('refuses a name it does not know, listing the ones it does', () => {
    assert.throws(
      () => parseProviders('aws,azure'),
      /unknown provider 'azure'.*kubernetes, aws, gcp/,
    );
  });

  it('builds one driver per cloud, by name', async () => {
    const drivers = await cloudProviders(parseProviders('aws,gcp'), { clock: systemClock });
    assert.deepEqual(
      drivers.map((d) => d.name),
      ['aws', 'gcp'],
    );
  });
});
