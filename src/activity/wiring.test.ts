import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { connect } from 'node:tls';
import { X509Certificate } from 'node:crypto';
import { offlineKubeConfig } from '../../test/support/offline-kubeconfig.ts';
import { newCA, newServingCert, type KeyPair } from '../admission/certs.ts';
import { createLogger } from '../log/logger.ts';
import { FakeClock } from '../runtime/clock.ts';
import { freePort } from '../sandbox/ports.ts';
import { activeGrant } from './fixtures.ts';
import { activity, activityConfigured } from './wiring.ts';

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
    const port = await freePort();
    const a = activity(
      {
        kubeConfig: offlineKubeConfig(),
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

  it("runs a provider kind's activity source on the leader only, once its flag is set", async () => {
    const grant = activeGrant({
      access: [
        {
          aws: {
            principalArn: 'arn:aws:iam::111122223333:role/alice',
            policyArn: 'arn:aws:iam::aws:policy/ReadOnlyAccess',
          },
        },
      ],
    });
    const clock = new FakeClock('2026-11-25T10:00:00Z');
    const opts = { providerFlags: { 'aws-cloudtrail-dir': dir } };
    assert.equal(activityConfigured({}), false);
    assert.equal(activityConfigured(opts), true);
    const a = activity(
      {
        kubeConfig: offlineKubeConfig(),
        grants: { list: () => [grant], on: () => {}, get: () => undefined },
        clock,
        log: createLogger({ level: 'error' }),
        metrics: { auditEvents: { inc: () => {} } } as never,
      },
      opts,
    );
    await a.start();
    await a.leader.start();
    const file = join(dir, 'AWSLogs/111122223333/CloudTrail/eu-west-1/2026/11/25/f.json');
    await mkdir(dirname(file), { recursive: true });
    await writeFile(
      file,
      JSON.stringify({
        Records: [
          {
            eventTime: '2026-11-25T09:33:00Z',
            eventSource: 's3.amazonaws.com',
            eventName: 'ListBuckets',
            eventType: 'AwsApiCall',
            readOnly: true,
            recipientAccountId: '111122223333',
            userIdentity: { type: 'IAMUser', arn: 'arn:aws:iam::111122223333:role/alice' },
          },
          {
            eventTime: '2026-11-25T09:32:00Z',
            eventSource: 's3.amazonaws.com',
            eventName: 'ListBuckets',
            eventType: 'AwsApiCall',
            recipientAccountId: '111122223333',
            userIdentity: {
              type: 'AssumedRole',
              arn: 'arn:aws:sts::111122223333:assumed-role/alice/s',
              accountId: '111122223333',
            },
          },
        ],
      }),
    );
    clock.advance(60_000);
    const deadline = Date.now() + 5_000;
    while (a.tracker.lastUsedMs(grant) === undefined && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 20));
    // The IAMUser record names a role: no IAM user has that ARN, so only the session counts.
    assert.equal(a.tracker.lastUsedMs(grant), Date.parse('2026-11-25T09:32:00Z'));
    await a.leader.stop();
    await a.stop().catch(() => {});
  });
});
