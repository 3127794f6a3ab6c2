import assert from 'node:assert/strict';
import { request } from 'node:https';
import { newCA, newServingCert } from '../admission/certs.ts';
import { createLogger } from '../log/logger.ts';
import type { AuditEvent } from './audit-event.ts';
import { anEvent } from './fixtures.ts';
import { AUDIT_PATH, startAuditWebhook, type AuditWebhook } from './webhook.ts';

const TOKEN = 'a-long-random-audit-token-0123456789';

function post(
  port: number,
  ca: string,
  body: string,
  headers: Record<string, string>,
  path = AUDIT_PATH,
): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(
      { host: '127.0.0.1', port, path, method: 'POST', ca, headers, agent: false },
      (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      },
    );
    req.on('error', (err) =>
      (err as NodeJS.ErrnoException).code === 'ECONNRESET' ? resolve(-1) : reject(err),
    );
    req.end(body);
  });
}

describe('audit webhook', () => {
  const now = new Date();
  const ca = newCA(now);
  const pair = newServingCert(ca, ['127.0.0.1'], now);
  let hook: AuditWebhook;
  const got: AuditEvent[] = [];
  let refused = 0;
  const list = JSON.stringify({
    apiVersion: 'audit.k8s.io/v1',
    kind: 'EventList',
    items: [anEvent(), anEvent()],
  });

  before(async () => {
    hook = await startAuditWebhook({
      host: '127.0.0.1',
      port: 0,
      certificate: pair,
      token: TOKEN,
      onEvents: (e) => got.push(...e),
      onRefused: () => refused++,
      log: createLogger({ level: 'error' }),
    });
  });
  after(() => hook.close());
  beforeEach(() => (got.length = 0));

  it('takes the EventLists the API server posts with its token', async () => {
    assert.equal(
      await post(hook.port, ca.certPem, list, { Authorization: `Bearer ${TOKEN}` }),
      200,
    );
    assert.equal(got.length, 2);
  });

  it('refuses a forged post, without the token or with another, and counts nothing', async () => {
    const before = refused;
    assert.equal(await post(hook.port, ca.certPem, list, {}), 401);
    assert.equal(
      await post(hook.port, ca.certPem, list, { Authorization: `Bearer ${TOKEN}x` }),
      401,
    );
    assert.equal(await post(hook.port, ca.certPem, list, { Authorization: `Basic ${TOKEN}` }), 401);
    assert.equal(got.length, 0);
    assert.equal(refused - before, 3);
  });

  it('refuses a body too large before buffering it, and bad JSON', async () => {
    const auth = { Authorization: `Bearer ${TOKEN}` };
    const huge = await post(hook.port, ca.certPem, 'x'.repeat(5 * 1024 * 1024), auth);
    assert.ok(huge === 413 || huge === -1, `HTTP ${huge}`);
    assert.equal(await post(hook.port, ca.certPem, '{', auth), 400);
    assert.equal(await post(hook.port, ca.certPem, list, auth, '/other'), 404);
    assert.equal(got.length, 0);
  });

  it('refuses to start with a short token', async () => {
    await assert.rejects(
      startAuditWebhook({
        host: '127.0.0.1',
        port: 0,
        certificate: pair,
        token: 'short',
        onEvents: () => {},
        log: createLogger({ level: 'error' }),
      }),
      /at least 16 characters/,
    );
  });
});
