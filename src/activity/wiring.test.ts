import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from 'node:tls';
import { X509Certificate } from 'node:crypto';
import { KubeConfig } from '@kubernetes/client-node';
import { newCA, newServingCert, type KeyPair } from '../admission/certs.ts';
import { createLogger } from '../log/logger.ts';
import { FakeClock } from '../runtime/clock.ts';
import { freePort } from '../sandbox/ports.ts';
import { activity } from './wiring.ts';

/** The fingerprint of the certificate a TLS server presents. */
function served(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = connect({ host: '127.0.0.1', port, rejectUnauthorized: false }, () => {
      resolve(s.getPeerX509Certificate()?.fingerprint256 ?? '');
      s.end();
    });
    s.on('error', reject);
  });
}

describe('activity wiring', () => {
  let dir: string;
  beforeEach(async () => (dir = await mkdtemp(join(tmpdir(), 'timebox-activity-wiring-'))));
  afterEach(() => rm(dir, { recursive: true, force: true }));

  it('serves a rotated audit webhook certificate without a restart', async () => {
    const now = new Date();
    const put = async (p: KeyPair) => {
      await writeFile(join(dir, 'tls.crt'), p.certPem);
      await writeFile(join(dir, 'tls.key'), p.keyPem);
    };
    const first = newServingCert(newCA(now), ['127.0.0.1'], now);
    const second = newServingCert(newCA(now), ['127.0.0.1'], now);
    await put(first);
    await writeFile(join(dir, 'token'), 'a-long-random-audit-token-0123456789\n');
    const clock = new FakeClock(now);
    const kubeConfig = new KubeConfig();
    kubeConfig.loadFromOptions({
      clusters: [{ name: 'c', server: 'https://127.0.0.1:1' }],
      users: [{ name: 'u' }],
      contexts: [{ name: 'x', cluster: 'c', user: 'u' }],
      currentContext: 'x',
    });
    const port = await freePort();
    const a = activity(
      {
        kubeConfig,
        grants: { list: () => [], on: () => {}, get: () => undefined },
        clock,
        log: createLogger({ level: 'error' }),
        metrics: { auditEvents: { inc: () => {} } } as never,
      },
      {
        webhook: { host: '127.0.0.1', port, certDir: dir, tokenFile: join(dir, 'token') },
      },
    );
    await a.start();
    try {
      const fp = (p: KeyPair) => new X509Certificate(p.certPem).fingerprint256;
      assert.equal(await served(port), fp(first));
      await put(second);
      clock.advance(60_000);
      const deadline = Date.now() + 5_000;
      let now2 = await served(port);
      while (now2 !== fp(second) && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 20));
        now2 = await served(port);
      }
      assert.equal(now2, fp(second), 'the rotated certificate is served');
    } finally {
      await a.stop();
    }
  });
});
