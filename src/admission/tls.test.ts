import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { ApiException } from '@kubernetes/client-node';
import { createLogger } from '../log/logger.ts';
import { FakeClock } from '../runtime/clock.ts';
import { needsRenewal, newCA, newServingCert, SERVING_VALIDITY_MS } from './certs.ts';
import { SelfManagedTls, CA_CRT, TLS_CRT, type TlsSecretPort } from './tls.ts';

/** A Secret with the API server's optimistic concurrency. */
class FakeSecret implements TlsSecretPort {
  data: Record<string, string> | undefined;
  rv = 0;
  writes = 0;
  /** Someone else's write lands just before ours, once. */
  raceWith: Record<string, string> | undefined;
  async read() {
    return this.data ? { data: { ...this.data }, resourceVersion: String(this.rv) } : undefined;
  }
  private race() {
    if (!this.raceWith) return;
    this.data = this.raceWith;
    this.raceWith = undefined;
    this.rv++;
    throw new ApiException(409, 'Conflict', '{}', {});
  }
  async create(data: Record<string, string>) {
    if (this.data) throw new ApiException(409, 'AlreadyExists', '{}', {});
    this.race();
    this.data = data;
    this.rv++;
    this.writes++;
  }
  async update(data: Record<string, string>, resourceVersion: string) {
    if (resourceVersion !== String(this.rv)) throw new ApiException(409, 'Conflict', '{}', {});
    this.race();
    this.data = data;
    this.rv++;
    this.writes++;
  }
}

describe('webhook certificates', () => {
  const hosts = ['timebox-webhook.timebox-system.svc', '127.0.0.1'];
  let clock: FakeClock;
  let secret: FakeSecret;
  let bundles: string[];
  const keeper = () =>
    new SelfManagedTls({
      secret,
      caBundle: { setCaBundle: async (pem) => void bundles.push(pem) },
      hosts,
      clock,
      log: createLogger({ write: () => {} }),
    });

  beforeEach(() => {
    clock = new FakeClock('2026-11-27T09:00:00Z');
    secret = new FakeSecret();
    bundles = [];
  });

  it('issues a CA and a serving certificate for the hosts, and injects the CA', async () => {
    const pair = await keeper().ensure();
    const cert = new X509Certificate(pair.certPem);
    const ca = new X509Certificate(secret.data![CA_CRT]!);
    assert.ok(cert.verify(ca.publicKey), 'signed by the CA in the Secret');
    assert.ok(cert.checkHost('timebox-webhook.timebox-system.svc'));
    assert.ok(cert.checkIP('127.0.0.1'));
    assert.ok(!cert.checkHost('evil.example.com'));
    assert.deepEqual(bundles, [secret.data![CA_CRT]]);
  });

  it('reuses what the Secret holds, so replicas and restarts serve one certificate', async () => {
    const first = await keeper().ensure();
    const again = await keeper().ensure();
    assert.equal(again.certPem, first.certPem);
    assert.equal(secret.writes, 1);
  });

  it('renews the serving certificate with a third of its life left, keeping the CA', async () => {
    const first = await keeper().ensure();
    const ca = secret.data![CA_CRT];
    clock.advance((SERVING_VALIDITY_MS * 2) / 3 + 60_000);
    const renewed = await keeper().ensure();
    assert.notEqual(renewed.certPem, first.certPem);
    assert.equal(secret.data![CA_CRT], ca, 'the caBundle does not change');
    assert.equal(secret.data![TLS_CRT], renewed.certPem);
  });

  it('adopts the certificate of a replica that wrote first', async () => {
    const other = newCA(clock.now());
    const theirs = newServingCert(other, hosts, clock.now());
    secret.raceWith = {
      'ca.crt': other.certPem,
      'ca.key': other.keyPem,
      'tls.crt': theirs.certPem,
      'tls.key': theirs.keyPem,
    };
    const pair = await keeper().ensure();
    assert.equal(pair.certPem, theirs.certPem);
    assert.deepEqual(bundles, [other.certPem]);
  });

  it('replaces a certificate that lacks a host or was not issued by the CA', () => {
    const now = clock.now();
    const ca = newCA(now);
    const cert = newServingCert(ca, ['a.svc'], now).certPem;
    assert.equal(needsRenewal(cert, now, ['a.svc'], ca.certPem), false);
    assert.equal(needsRenewal(cert, now, ['a.svc', 'b.svc'], ca.certPem), true);
    assert.equal(needsRenewal(cert, now, ['a.svc'], newCA(now).certPem), true);
    assert.equal(needsRenewal('not a certificate', now), true);
  });
});
