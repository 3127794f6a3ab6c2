import assert from 'node:assert/strict';
import { describe, it } from 'mocha';
import { aGrant } from '../api/v1alpha1/testing.ts';
import { limitGrants } from './limit.ts';
import type { Artefact, ProviderDriver } from './provider.ts';

/** A driver whose calls finish only when the test says so. */
function heldDriver() {
  const held: { call: string; done: () => void }[] = [];
  const hold = (call: string) => new Promise<void>((done) => held.push({ call, done }));
  const driver: ProviderDriver = {
    name: 'aws',
    observe: () => Promise.resolve([]),
    grant: (_g, a) => hold(`grant ${a.ref}`),
    revoke: (_g, a) => hold(`revoke ${a.ref}`),
  };
  return { driver, held };
}

const artefact = (ref: string) => ({ provider: 'aws', ref }) as Artefact;
const settled = () => new Promise((r) => setImmediate(r));

describe('limitGrants', () => {
  it('runs at most N grants at a time, the next as soon as one ends', async () => {
    const { driver, held } = heldDriver();
    const limited = limitGrants(driver, 2);
    const g = aGrant();
    const calls = ['a', 'b', 'c'].map((r) => limited.grant(g, artefact(r)));
    await settled();
    assert.deepEqual(
      held.map((h) => h.call),
      ['grant a', 'grant b'],
    );
    held[0]!.done();
    await calls[0];
    await settled();
    assert.deepEqual(
      held.map((h) => h.call),
      ['grant a', 'grant b', 'grant c'],
    );
    held[1]!.done();
    held[2]!.done();
    await Promise.all(calls);
  });

  it('never holds back a revocation, even while grants fill every slot', async () => {
    const { driver, held } = heldDriver();
    const limited = limitGrants(driver, 1);
    const g = aGrant();
    const grants = [limited.grant(g, artefact('a')), limited.grant(g, artefact('b'))];
    const revoke = limited.revoke(g, artefact('old'));
    await settled();
    assert.deepEqual(
      held.map((h) => h.call),
      ['grant a', 'revoke old'],
    );
    for (const h of held) h.done();
    await revoke;
    await settled();
    held[2]!.done();
    await Promise.all(grants);
  });

  it('frees the slot of a grant that failed', async () => {
    const failing: ProviderDriver = {
      name: 'gcp',
      observe: () => Promise.resolve([]),
      grant: () => Promise.reject(new Error('quota')),
      revoke: () => Promise.resolve(),
    };
    const limited = limitGrants(failing, 1);
    await assert.rejects(limited.grant(aGrant(), artefact('a')), /quota/);
    await assert.rejects(limited.grant(aGrant(), artefact('b')), /quota/);
  });

  it('refuses a limit that is not a positive integer, naming the provider', () => {
    assert.throws(() => limitGrants(heldDriver().driver, 0), /aws: grant concurrency/);
  });
});
