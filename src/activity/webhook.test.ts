import assert from 'node:assert/strict';
import { request } from 'node:https';
import { newCA, newServingCert } from '../admission/certs.ts';
import { createLogger } from '../log/logger.ts';
import type { AuditEvent } from './audit-event.ts';
import { anEvent } from './fixtures.ts';
import { FakeClock } from '../runtime/clock.ts';
import type { IntakeResult } from './intake.ts';
import { ActivityTracker } from './tracker.ts';
import { AUDIT_PATH, MAX_AUDIT_BODY, startAuditWebhook, type AuditWebhook } from './webhook.ts';

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
  // A real tracker behind the webhook, as wired in the operator, to see what a loss does.
  const clock = new FakeClock('2026-11-25T09:30:00Z');
  const counts: Partial<Record<IntakeResult, number>> = {};
  const tracker = new ActivityTracker({
    grants: () => [],
    store: {
      get: () => Promise.resolve(undefined),
      create: () => Promise.resolve(),
      replace: () => Promise.resolve(),
    },
    clock,
    log: createLogger({ level: 'error' }),
    counters: { inc: (r, n) => (counts[r] = (counts[r] ?? 0) + n) },
  });
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
      onEvents: (e) => {
        got.push(...e);
        tracker.offer(e);
      },
      onRefused: () => refused++,
      onLost: () => tracker.lost(),
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
    const lostBefore = counts.lost ?? 0;
    const huge = await post(hook.port, ca.certPem, 'x'.repeat(MAX_AUDIT_BODY + 1024), auth);
    assert.ok(huge === 413 || huge === -1, `HTTP ${huge}`);
    assert.equal(await post(hook.port, ca.certPem, '{', auth), 400);
    assert.equal(await post(hook.port, ca.certPem, list, auth, '/other'), 404);
    assert.equal(got.length, 0);
    assert.equal((counts.lost ?? 0) - lostBefore, 2, 'both batches are counted as lost');
  });

  it('takes a batch with events carrying 1 MB URLs, as anyone can make them', async () => {
    const long = 'x'.repeat(1_000_000);
    const items = Array.from({ length: 3 }, () =>
      anEvent({ objectRef: { resource: 'secrets', namespace: 'kube-system', name: long } }),
    );
    const body = JSON.stringify({ apiVersion: 'audit.k8s.io/v1', kind: 'EventList', items });
    assert.equal(
      await post(hook.port, ca.certPem, body, { Authorization: `Bearer ${TOKEN}` }),
      200,
    );
    assert.equal(got.length, 3);
  });

  it('a batch too large to take marks the intake as not watching since before it', async () => {
    const auth = { Authorization: `Bearer ${TOKEN}` };
    assert.equal(await post(hook.port, ca.certPem, list, auth), 200);
    const watchingFrom = tracker.watchedSince();
    assert.notEqual(watchingFrom, undefined);
    clock.advance(60_000);
    const huge = await post(hook.port, ca.certPem, 'x'.repeat(MAX_AUDIT_BODY + 1024), auth);
    assert.ok(huge === 413 || huge === -1, `HTTP ${huge}`);
    // Idleness is measured again only from the loss: nothing before it counts as watched.
    assert.equal(tracker.watchedSince(), clock.now().getTime());
    assert.ok(tracker.watchedSince()! > watchingFrom!);
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
