import assert from 'node:assert/strict';
import { systemClock } from '../runtime/clock.ts';
import { KINDS } from './kinds.ts';
import { buildDrivers, parseProviders, providerFlags } from './registry.ts';

describe('provider registry', () => {
  it('always includes kubernetes, and adds the clouds asked for once', () => {
    assert.deepEqual(parseProviders(''), ['kubernetes']);
    assert.deepEqual(parseProviders('gcp, aws,gcp'), ['kubernetes', 'gcp', 'aws']);
  });

  it('refuses a name it does not know, listing the ones it does', () => {
    assert.throws(
      () => parseProviders('aws,oracle'),
      new RegExp(`unknown provider 'oracle'.*${KINDS.map((k) => k.name).join(', ')}`),
    );
  });

  it('builds one driver per cloud, by name', async () => {
    const drivers = await buildDrivers(['aws', 'gcp'], { clock: systemClock, flags: {} });
    assert.deepEqual(
      drivers.map((d) => d.name),
      ['aws', 'gcp'],
    );
  });

  it('registers each kind once, with a driver of its own name', () => {
    const names = KINDS.map((k) => k.name);
    assert.deepEqual(names, [...new Set(names)]);
    assert.equal(names[0], 'kubernetes');
    const flags = providerFlags().map((f) => f.name);
    assert.deepEqual(flags, [...new Set(flags)], 'no two providers declare the same flag');
  });
});
