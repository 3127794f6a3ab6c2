import assert from 'node:assert/strict';
import { CoreV1Api, type V1ConfigMap } from '@kubernetes/client-node';
import { createLogger } from '../../src/log/logger.ts';
import { Informer } from '../../src/runtime/informer.ts';
import type { ClusterEnvironment } from '../../src/sandbox/environment.ts';
import { CLUSTER_START_TIMEOUT_MS, testCluster } from '../support/cluster.ts';
import { createNamespace } from '../support/timebox.ts';

describe('Informer', function () {
  this.timeout(60_000);
  let cluster: ClusterEnvironment;
  let ns: string;
  let informer: Informer<V1ConfigMap> | undefined;

  before(async function () {
    this.timeout(CLUSTER_START_TIMEOUT_MS);
    cluster = await testCluster();
  });
  beforeEach(async () => {
    ns = await createNamespace(cluster, 'informer');
  });
  afterEach(async () => {
    await informer?.stop();
  });

  /** An informer of the test namespace's ConfigMaps. */
  const configMaps = () => {
    const core = cluster.admin().makeApiClient(CoreV1Api);
    return new Informer<V1ConfigMap>(
      'configmaps',
      cluster.admin(),
      `/api/v1/namespaces/${ns}/configmaps`,
      () => core.listNamespacedConfigMap({ namespace: ns }),
      { log: createLogger({ write: () => {} }) },
    );
  };

  it('relists: what a stalled watch missed is added, updated and deleted', async () => {
    const core = cluster.admin().makeApiClient(CoreV1Api);
    const cm = (name: string, v: string): V1ConfigMap => ({
      metadata: { name, namespace: ns, labels: { test: 'informer' } },
      data: { v },
    });
    await core.createNamespacedConfigMap({ namespace: ns, body: cm('kept', '1') });
    await core.createNamespacedConfigMap({ namespace: ns, body: cm('gone', '1') });
    informer = configMaps();
    const events: string[] = [];
    for (const verb of ['add', 'update', 'delete'] as const) {
      informer.on(verb, (o) => events.push(`${verb} ${o.metadata?.name}`));
    }
    await informer.start();
    assert.deepEqual(events.sort(), ['add gone', 'add kept']);
    events.length = 0;

    // The watch stalls: nothing more arrives while the objects change.
    await (informer as unknown as { inner: { stop(): Promise<void> } }).inner.stop();
    await core.deleteNamespacedConfigMap({ name: 'gone', namespace: ns });
    await core.replaceNamespacedConfigMap({ name: 'kept', namespace: ns, body: cm('kept', '2') });
    await core.createNamespacedConfigMap({ namespace: ns, body: cm('new', '1') });

    await informer.relist();
    assert.deepEqual(events.sort(), ['add new', 'delete gone', 'update kept']);
    assert.deepEqual(
      informer
        .list(ns)
        .map((o) => `${o.metadata?.name}=${o.data?.v}`)
        .sort(),
      ['kept=2', 'new=1'],
    );
  });

  it('keeps no managedFields nor last-applied copy, from the list or the watch', async () => {
    const core = cluster.admin().makeApiClient(CoreV1Api);
    const applied = (name: string): V1ConfigMap => ({
      metadata: {
        name,
        namespace: ns,
        annotations: {
          'kubectl.kubernetes.io/last-applied-configuration': '{"a":"big copy"}',
          keep: 'me',
        },
      },
      data: { v: '1' },
    });
    await core.createNamespacedConfigMap({ namespace: ns, body: applied('listed') });
    const fromServer = await core.readNamespacedConfigMap({ name: 'listed', namespace: ns });
    assert.ok(fromServer.metadata?.managedFields?.length, 'the API server sends managedFields');
    informer = configMaps();
    const seen = new Promise<void>((resolve) =>
      informer!.on('add', (o) => o.metadata?.name === 'watched' && resolve()),
    );
    await informer.start();
    await core.createNamespacedConfigMap({ namespace: ns, body: applied('watched') });
    await seen;
    for (const name of ['listed', 'watched']) {
      const cached: V1ConfigMap = informer.get(name, ns)!;
      assert.equal(cached.metadata?.managedFields, undefined, name);
      assert.deepEqual(cached.metadata?.annotations, { keep: 'me' }, name);
      assert.deepEqual(cached.data, { v: '1' }, name);
    }
  });
});
