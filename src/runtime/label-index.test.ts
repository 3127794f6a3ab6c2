import assert from 'node:assert/strict';
import type { KubernetesObject } from '@kubernetes/client-node';
import type { Handler } from './informer.ts';
import { LabelIndex } from './label-index.ts';

describe('LabelIndex', () => {
  it('follows adds, label changes and deletes', () => {
    const handlers: Record<string, Handler<KubernetesObject>> = {};
    const index = new LabelIndex<KubernetesObject>(
      { on: (verb, h) => void (handlers[verb] = h) },
      'timebox.dev/grant-uid',
    );
    const obj = (name: string, uid?: string): KubernetesObject => ({
      metadata: {
        name,
        namespace: 'ns',
        ...(uid ? { labels: { 'timebox.dev/grant-uid': uid } } : {}),
      },
    });
    handlers.add!(obj('a', 'u1'));
    handlers.add!(obj('b', 'u1'));
    handlers.add!(obj('c'));
    assert.deepEqual(
      index.get('u1').map((o) => o.metadata?.name),
      ['a', 'b'],
    );
    handlers.update!(obj('b', 'u2'));
    assert.deepEqual(
      index.get('u1').map((o) => o.metadata?.name),
      ['a'],
    );
    assert.deepEqual(
      index.get('u2').map((o) => o.metadata?.name),
      ['b'],
    );
    handlers.delete!(obj('a', 'u1'));
    assert.deepEqual(index.get('u1'), []);
  });
});
