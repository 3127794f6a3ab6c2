import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  CloudWatchLogsClient,
  CreateLogGroupCommand,
  CreateLogStreamCommand,
  PutLogEventsCommand,
} from '@aws-sdk/client-cloudwatch-logs';
import type { AuditEvent } from '../../src/activity/audit-event.ts';
import { CloudWatchAuditSource } from '../../src/activity/cloudwatch.ts';
import { cloudWatchLogsPort } from '../../src/activity/cloudwatch-port.ts';
import type { LogEventsPort } from '../../src/activity/cloudwatch.ts';
import { createLogger } from '../../src/log/logger.ts';
import { FakeClock, systemClock } from '../../src/runtime/clock.ts';
import { activeGrant } from '../../src/activity/fixtures.ts';
import { activity } from '../../src/activity/wiring.ts';
import { offlineKubeConfig } from '../support/offline-kubeconfig.ts';
import { startMoto } from '../support/moto.ts';
import { eventually } from '../support/wait.ts';

const GROUP = '/aws/eks/prod/cluster';
const AUDIT = 'kube-apiserver-audit-8d1c5e0f3a2b4c6d';
const AUDIT_2 = 'kube-apiserver-audit-0f9e8d7c6b5a4321';
/** EKS writes other control plane logs to the same group; a stream anyone with write access there could use. */
const OTHER = 'authenticator-8d1c5e0f3a2b4c6d';

/** One audit event as EKS writes it to CloudWatch Logs: a JSON line, audit.k8s.io/v1. */
function eksLine(id: string, username = 'alice@example.com', verb = 'get'): string {
  const at = new Date().toISOString().replace('Z', '000Z');
  return JSON.stringify({
    kind: 'Event',
    apiVersion: 'audit.k8s.io/v1',
    level: 'Metadata',
    auditID: id,
    stage: 'ResponseComplete',
    requestURI: '/api/v1/namespaces/payments/pods/checkout-1',
    verb,
    user: {
      username,
      uid: 'aws-iam-authenticator:111122223333:AROAEXAMPLE',
      groups: ['payments-oncall', 'system:authenticated'],
      extra: { arn: ['arn:aws:sts::111122223333:assumed-role/oncall/alice'] },
    },
    sourceIPs: ['10.0.12.7'],
    userAgent: 'kubectl/v1.35.0 (linux/amd64) kubernetes/abcdef0',
    objectRef: { resource: 'pods', namespace: 'payments', name: 'checkout-1', apiVersion: 'v1' },
    responseStatus: { metadata: {}, code: 200 },
    requestReceivedTimestamp: at,
    stageTimestamp: at,
    annotations: { 'authorization.k8s.io/decision': 'allow', 'authorization.k8s.io/reason': '' },
  });
}

describe('CloudWatch Logs audit source against moto, with the real AWS SDK', function () {
  this.timeout(120_000);
  const log = createLogger({ level: 'error' });
  let moto: Awaited<ReturnType<typeof startMoto>>;
  let work: string;
  let logs: CloudWatchLogsClient;
  let port: LogEventsPort;
  const saved: Record<string, string | undefined> = {};
  const env = {
    AWS_ENDPOINT_URL_CLOUDWATCH_LOGS: '',
    AWS_REGION: 'eu-west-1',
    AWS_ACCESS_KEY_ID: 'testing',
    AWS_SECRET_ACCESS_KEY: 'testing',
  };

  /** Appends lines to a stream, one millisecond apart, all stamped now or later. */
  let lastMs = 0;
  async function put(stream: string, ...messages: string[]): Promise<void> {
    const events = messages.map((message) => {
      lastMs = Math.max(lastMs + 1, Date.now());
      return { timestamp: lastMs, message };
    });
    await logs.send(
      new PutLogEventsCommand({ logGroupName: GROUP, logStreamName: stream, logEvents: events }),
    );
  }

  before(async function () {
    this.timeout(10 * 60_000);
    work = mkdtempSync(join(tmpdir(), 'timebox-cwlogs-'));
    moto = await startMoto(work);
    env.AWS_ENDPOINT_URL_CLOUDWATCH_LOGS = moto.endpoint;
    // The operator's configuration: the SDK's standard variables, nothing else.
    for (const [k, v] of Object.entries(env)) {
      saved[k] = process.env[k];
      process.env[k] = v;
    }
    port = await cloudWatchLogsPort();
    logs = new CloudWatchLogsClient({});
    await logs.send(new CreateLogGroupCommand({ logGroupName: GROUP }));
    for (const s of [AUDIT, AUDIT_2, OTHER])
      await logs.send(new CreateLogStreamCommand({ logGroupName: GROUP, logStreamName: s }));
  });
  after(async () => {
    for (const [k, v] of Object.entries(saved))
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    await moto?.stop();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it('hands on the audit streams’ events once each, in order, over pages, across a stop and a start', async () => {
    const got: AuditEvent[] = [];
    const clock = new FakeClock(new Date(Date.now() - 1000));
    await put(AUDIT, eksLine('history'));
    const pages: (string | undefined)[] = [];
    const counted: LogEventsPort = {
      filter: (req) => (pages.push(req.nextToken), port.filter(req)),
    };
    const src = new CloudWatchAuditSource({
      logGroup: GROUP,
      port: counted,
      clock,
      log,
      pageLimit: 2,
    });
    // Taken as read: what was logged before the first start.
    clock.set(new Date(Date.now() + 1));
    await src.start((e) => got.push(...e));
    lastMs = clock.now().getTime();

    await put(AUDIT, eksLine('a1'), eksLine('a2', 'bob@example.com', 'delete'), '{"kind":"Ev');
    await put(AUDIT, eksLine('a3'), eksLine('a4'), eksLine('a5', 'alice@example.com', 'list'));
    // An attacker who may write to the group, not to the audit streams, forges a use.
    await put(OTHER, eksLine('forged'));
    assert.equal(await src.poll(), 5);
    assert.deepEqual(
      got.map((e) => [e.auditID, e.user?.username, e.verb]),
      [
        ['a1', 'alice@example.com', 'get'],
        ['a2', 'bob@example.com', 'delete'],
        ['a3', 'alice@example.com', 'get'],
        ['a4', 'alice@example.com', 'get'],
        ['a5', 'alice@example.com', 'list'],
      ],
      'every page, in order; the torn line and the other stream not',
    );
    assert.equal(src.malformed, 1);
    assert.ok(pages.filter(Boolean).length >= 3, `followed nextToken: ${pages.length} pages`);

    // Polled again over the same window: nothing twice.
    assert.equal(await src.poll(), 0);
    await put(AUDIT_2, eksLine('b1'));
    assert.equal(await src.poll(), 1);

    await src.stop();
    await put(AUDIT, eksLine('while-stopped'));
    await put(OTHER, eksLine('forged-2'));
    await src.start((e) => got.push(...e));
    assert.equal(await src.poll(), 1);
    assert.deepEqual(
      got.map((e) => e.auditID),
      ['a1', 'a2', 'a3', 'a4', 'a5', 'b1', 'while-stopped'],
    );
    assert.equal(src.malformed, 1, 'the torn line counted once, though read in every overlap');
    await src.stop();
  });

  it('polls by itself at its interval', async () => {
    const got: string[] = [];
    const src = new CloudWatchAuditSource({
      logGroup: GROUP,
      port,
      clock: systemClock,
      log,
      pollMs: 50,
    });
    await src.start((e) => got.push(...e.map((x) => x.auditID ?? '')));
    await put(AUDIT, eksLine('timed'));
    await eventually(() => Promise.resolve(got.includes('timed')), {
      timeoutMs: 10_000,
      what: 'the event',
    });
    await src.stop();
    assert.deepEqual(got, ['timed']);
  });

  it('says what to set when no region is configured', async () => {
    const keep = { region: process.env.AWS_REGION, config: process.env.AWS_CONFIG_FILE };
    delete process.env.AWS_REGION;
    process.env.AWS_CONFIG_FILE = join(work, 'no-such-config');
    try {
      await assert.rejects(cloudWatchLogsPort(), /needs a region: set AWS_REGION/);
    } finally {
      process.env.AWS_REGION = keep.region;
      if (keep.config === undefined) delete process.env.AWS_CONFIG_FILE;
      else process.env.AWS_CONFIG_FILE = keep.config;
    }
  });

  it('is followed by the leader, and a request in it counts for the grant of whoever made it', async () => {
    const now = Date.now();
    const g = activeGrant();
    const grant = {
      ...g,
      status: {
        ...g.status,
        activatedAt: new Date(now - 3600_000).toISOString(),
        expiresAt: new Date(now + 3600_000).toISOString(),
      },
    };
    // Never called: the record is written only at a flush, after this test.
    const kc = offlineKubeConfig();
    const a = activity(
      {
        kubeConfig: kc,
        grants: { list: () => [grant], on: () => {}, get: () => undefined },
        clock: systemClock,
        log,
        metrics: { auditEvents: { inc: () => {} } } as never,
      },
      { cloudWatchLogs: { logGroup: GROUP, pollIntervalMs: 100 }, flushIntervalMs: 3600_000 },
    );
    await a.start();
    try {
      await a.leader.start();
      await put(AUDIT_2, eksLine('leader-1', 'bob@example.com'), eksLine('leader-2'));
      const used = await eventually(() => Promise.resolve(a.tracker.lastUsedMs(grant)), {
        timeoutMs: 20_000,
        what: "alice's request in the audit stream to count for her grant",
      });
      assert.ok(
        used >= now - 1000 && used <= Date.now(),
        `last use ${new Date(used).toISOString()}`,
      );
    } finally {
      await a.leader.stop();
      await a.stop().catch(() => {});
    }
  });
});
