import assert from 'node:assert/strict';
import type { NotificationChannel } from '../api/v1alpha1/types.ts';
import { FakeClock } from '../runtime/clock.ts';
import { ChannelError, Channels } from './channels.ts';
import type { Sender } from './types.ts';

const sender: Sender = { kind: 'webhook', send: async () => ({}) };

describe('Channels', () => {
  let reads: string[];
  const channels = (spec: NotificationChannel['spec'], webhook = () => sender) =>
    new Channels({
      channels: { get: (name) => ({ metadata: { name, generation: 1 }, spec }) },
      readSecret: async (ns, name) => {
        reads.push(`${ns}/${name}`);
        return { hmac: 'k' };
      },
      secretNamespace: 'timebox-system',
      clock: new FakeClock(),
      factories: { slack: () => sender, email: () => sender, webhook },
    });
  const reason = async (p: Promise<unknown>) =>
    p.then(
      () => assert.fail('resolved'),
      (err: unknown) => (err instanceof ChannelError ? err.reason : String(err)),
    );
  beforeEach(() => (reads = []));

  it('never reads a Secret outside the operator namespace', async () => {
    const c = channels({
      webhook: { url: 'https://h', secretRef: { namespace: 'victims', name: 'db', key: 'hmac' } },
    });
    assert.equal(await reason(c.sender('x')), 'SecretNamespaceNotAllowed');
    assert.deepEqual(reads, []);
  });

  it('says which key is missing, and turns a refused configuration into Invalid', async () => {
    const ref = { namespace: 'timebox-system', name: 'hook' };
    assert.equal(
      await reason(
        channels({ webhook: { url: 'https://h', secretRef: { ...ref, key: 'nope' } } }).sender('x'),
      ),
      'SecretKeyNotFound',
    );
    const refusing = channels(
      { webhook: { url: 'https://h', secretRef: { ...ref, key: 'hmac' } } },
      () => {
        throw new Error('email channel: `to` is empty');
      },
    );
    assert.equal(await reason(refusing.sender('x')), 'Invalid');
  });
});
