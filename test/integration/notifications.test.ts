import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { CoreV1Api, CustomObjectsApi } from '@kubernetes/client-node';
import {
  GROUP,
  NOTIFICATION_CHANNEL,
  VERSION,
  type AccessPolicy,
  type NotificationChannel,
} from '../../src/api/v1alpha1/types.ts';
import { freePort } from '../../src/sandbox/ports.ts';
import type { ClusterEnvironment } from '../../src/sandbox/environment.ts';
import { CLUSTER_START_TIMEOUT_MS, testCluster } from '../support/cluster.ts';
import { startFakeSlack } from '../support/fake-slack.ts';
import { startMailpit, type Mailpit } from '../support/mailpit.ts';
import { startReceiver } from '../support/receiver.ts';
import { ALICE, allowed, BOB, decideAs, refusal, requestAs } from '../support/requests.ts';
import {
  createAccessPolicy,
  createNamespace,
  createNotificationChannel,
  grantsApi,
  installTimebox,
  kubeconfigAs,
  OPERATOR_NAMESPACE,
  OperatorProcess,
  waitForPhase,
} from '../support/timebox.ts';
import { eventually } from '../support/wait.ts';

const OPERATOR = 'timebox-operator-notify';
const HMAC = 'hmac-key-for-tests';
const SLACK_CHANNEL_ID = 'C0APPROVALS';

/**
 * Notifications end to end: the operator as a separate process under its shipped
 * RBAC, a real SMTP server (Mailpit), the official Slack SDK against a local
 * endpoint that answers like Slack's Web API (Slack cannot be reached from here),
 * and webhook receivers that check the signature as a user's would.
 */
describe('notifications: approvers are told, and everyone sees access end', function () {
  this.timeout(180_000);
  let cluster: ClusterEnvironment;
  let work: string;
  let operator: OperatorProcess;
  let metricsPort: number;
  let mail: Mailpit;
  let slack: Awaited<ReturnType<typeof startFakeSlack>>;
  let hook: Awaited<ReturnType<typeof startReceiver>>;
  let down: Awaited<ReturnType<typeof startReceiver>>;
  let ns: string;

  const custom = () => cluster.admin().makeApiClient(CustomObjectsApi);
  const channel = (name: string, spec: NotificationChannel['spec']) =>
    createNotificationChannel(cluster.admin(), name, spec);
  const channelReady = async (name: string) =>
    (
      (await custom().getClusterCustomObject({
        group: GROUP,
        version: VERSION,
        plural: NOTIFICATION_CHANNEL.plural,
        name,
      })) as NotificationChannel
    ).status?.conditions?.find((c) => c.type === 'Ready');
  const secret = (namespace: string, name: string, data: Record<string, string>) =>
    cluster
      .admin()
      .makeApiClient(CoreV1Api)
      .createNamespacedSecret({ namespace, body: { metadata: { name }, stringData: data } });
  const startOperator = () => {
    operator = OperatorProcess.start('notify-operator', kubeconfigAs(cluster, OPERATOR, work), [
      `--slack-api-url=${slack.apiUrl}`,
      `--metrics-bind-address=127.0.0.1:${metricsPort}`,
    ]);
    return operator.waitForLog(/starting controllers/);
  };
  async function policy(notify: AccessPolicy['spec']['notify'], manual = true): Promise<string> {
    const name = `notify-${randomUUID().slice(0, 8)}`;
    await createAccessPolicy(cluster.admin(), name, {
      requesters: { groups: ['payments-oncall'] },
      selfOnly: true,
      namespaces: [ns],
      access: [{ kubernetes: { clusterRoles: ['view'], namespaces: [ns] } }],
      maxDuration: '4h',
      approval: manual
        ? { mode: 'Manual', approvers: { groups: ['payments-leads'] }, required: 1 }
        : { mode: 'Auto' },
      notify,
    });
    return name;
  }
  const notified = async (grant: string, channel: string, event: string) =>
    eventually(
      async () =>
        (await grantsApi(cluster.admin()).get(ns, grant)).status?.notifications?.some(
          (n) => n.channel === channel && n.event === event,
        ),
      { timeoutMs: 30_000, what: `${grant}: ${event} recorded for ${channel}` },
    );

  before(async function () {
    this.timeout(CLUSTER_START_TIMEOUT_MS);
    cluster = await testCluster();
    await installTimebox(cluster, [OPERATOR]);
    work = mkdtempSync(join(tmpdir(), 'timebox-notify-'));
    metricsPort = await freePort();
    [mail, slack, hook, down] = await Promise.all([
      startMailpit(),
      startFakeSlack(),
      startReceiver(HMAC),
      startReceiver(HMAC),
    ]);
    slack.addChannel(SLACK_CHANNEL_ID, 'payments-approvals');
    down.failWith(503);
    const victims = await createNamespace(cluster, 'victims');
    await Promise.all([
      secret(OPERATOR_NAMESPACE, 'hook', { hmac: HMAC }),
      secret(OPERATOR_NAMESPACE, 'slack', { token: slack.token }),
      secret(OPERATOR_NAMESPACE, 'smtp', { username: 'timebox', password: 'smtp-password' }),
      secret(victims, 'db', { username: 'dbadmin', password: 'the-crown-jewels' }),
      channel('hook', {
        webhook: {
          url: hook.url,
          secretRef: { namespace: OPERATOR_NAMESPACE, name: 'hook', key: 'hmac' },
        },
      }),
      channel('down', {
        webhook: {
          url: down.url,
          secretRef: { namespace: OPERATOR_NAMESPACE, name: 'hook', key: 'hmac' },
        },
      }),
      channel('mail', {
        email: {
          to: ['payments-leads@example.com'],
          smtp: {
            url: mail.smtpUrl,
            from: 'timebox@example.com',
            secretRef: { namespace: OPERATOR_NAMESPACE, name: 'smtp' },
          },
        },
      }),
      channel('chat', {
        slack: {
          channel: '#payments-approvals',
          tokenSecretRef: { namespace: OPERATOR_NAMESPACE, name: 'slack', key: 'token' },
        },
      }),
      // Points at another namespace's Secret, to have it sent as the SMTP password.
      channel('exfiltrate', {
        email: {
          to: ['attacker@example.com'],
          smtp: {
            url: mail.smtpUrl,
            from: 'x@example.com',
            secretRef: { namespace: victims, name: 'db' },
          },
        },
      }),
    ]);
    await startOperator();
  });

  after(async () => {
    await operator?.stop();
    await Promise.all([mail?.stop(), slack?.stop(), hook?.stop(), down?.stop()]);
    if (work) rmSync(work, { recursive: true, force: true });
  });

  beforeEach(async () => {
    ns = await createNamespace(cluster, 'payments');
  });

  it('reaches the approvers by webhook, email and Slack; the approval, the start, the warning and the end follow', async () => {
    const p = await policy([
      { channel: 'hook', expiringSoonLead: '8s' },
      { channel: 'mail', events: ['Requested'] },
      { channel: 'chat' },
    ]);
    await grantsApi(cluster.as(ALICE)).create(
      requestAs(ALICE, ns, p, 'debug', {
        duration: '12s',
        access: [{ kubernetes: { clusterRole: 'view', namespaces: [ns] } }],
      }),
    );

    // The request, within seconds, everywhere.
    await eventually(async () => hook.types('debug').includes('requested'), {
      timeoutMs: 15_000,
      what: 'the webhook to receive the request',
    });
    const requested = hook.events.find((e) => e.type === 'dev.timebox.grant.requested')!;
    assert.match(requested.data.summary, /alice@example\.com asks for ClusterRole view/);
    assert.equal(requested.subject, `${ns}/debug`);
    const [mailed] = await mail.waitForMessages(1, 15_000);
    assert.match(mailed!.Subject, /Requested/);
    const body = await mail.message(mailed!.ID);
    assert.match(body.text, new RegExp(`timebox approve debug -n ${ns} --spec-hash [0-9a-f]{64}`));
    assert.equal(mailed!.Username, 'timebox', 'authenticated with the Secret in its namespace');
    await eventually(async () => slack.calls.some((c) => c.method === 'chat.postMessage'), {
      timeoutMs: 15_000,
      what: 'the Slack message',
    });
    const post = slack.calls.find((c) => c.method === 'chat.postMessage')!;
    assert.equal(post.token, slack.token);
    assert.match(JSON.stringify(post.args.blocks), /timebox_approve/);

    await decideAs(cluster, BOB, ns, 'debug');
    await waitForPhase(cluster, ns, 'debug', 'Active');
    await notified('debug', 'hook', 'Ended');
    await notified('debug', 'chat', 'Ended');
    assert.deepEqual(
      hook.types('debug'),
      ['requested', 'approved', 'activated', 'expiringsoon', 'ended'],
      'each event once, in order',
    );
    const approved = hook.events.find((e) => e.type === 'dev.timebox.grant.approved')!;
    assert.equal(approved.data.actor?.user, BOB.user);
    assert.deepEqual(hook.refused, [], 'every delivery was signed');
    // The Slack message was updated in place, never posted twice.
    assert.equal(slack.calls.filter((c) => c.method === 'chat.postMessage').length, 1);
    assert.ok(slack.calls.filter((c) => c.method === 'chat.update').length >= 3);
    assert.equal(slack.messages.size, 1);
    assert.equal((await mail.messages()).length, 1, 'email asked only for Requested');
  });

  it('shows a channel that keeps failing on the channel and in the metric, without delaying access', async () => {
    const p = await policy([{ channel: 'down' }], false);
    await grantsApi(cluster.as(ALICE)).create(
      requestAs(ALICE, ns, p, 'quick', {
        access: [{ kubernetes: { clusterRole: 'view', namespaces: [ns] } }],
      }),
    );
    await waitForPhase(cluster, ns, 'quick', 'Active');
    await eventually(async () => (await channelReady('down'))?.status === 'False', {
      timeoutMs: 30_000,
      what: 'the failing channel to be marked not Ready',
    });
    const ready = await channelReady('down');
    assert.equal(ready?.reason, 'DeliveryFailed');
    assert.match(ready?.message ?? '', /HTTP 503/);
    assert.ok(down.attempts >= 3, 'retried');
    const metrics = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
    assert.match(
      metrics,
      /timebox_notifications_total\{channel="down",event="Activated",result="failed"\} [1-9]/,
    );
    assert.match(
      metrics,
      /timebox_notifications_total\{channel="hook",event="Requested",result="sent"\} 1/,
    );
    assert.equal((await channelReady('hook'))?.status, 'True');
  });

  it('never reads a Secret outside its namespace for a channel, and never sends it', async () => {
    const p = await policy([{ channel: 'exfiltrate' }], false);
    const before = (await mail.messages()).length;
    await grantsApi(cluster.as(ALICE)).create(
      requestAs(ALICE, ns, p, 'lure', {
        access: [{ kubernetes: { clusterRole: 'view', namespaces: [ns] } }],
      }),
    );
    await waitForPhase(cluster, ns, 'lure', 'Active');
    await eventually(
      async () => (await channelReady('exfiltrate'))?.reason === 'SecretNamespaceNotAllowed',
      {
        timeoutMs: 30_000,
        what: 'the channel to say why it cannot deliver',
      },
    );
    const mails = await mail.messages();
    assert.equal(mails.length, before, 'nothing was sent through it');
    assert.ok(
      !mails.some((m) => m.Username === 'dbadmin'),
      'the Secret never reached the SMTP server',
    );
    assert.ok(!operator.logs.includes('the-crown-jewels'));
  });

  it('lets no requester or approver make channels, or rewrite what was delivered', async () => {
    for (const who of [ALICE, BOB]) {
      assert.equal(await allowed(cluster, who, 'create', 'notificationchannels'), false);
      assert.equal(await allowed(cluster, who, 'patch', 'accessgrants/status', ns), false);
    }
    const p = await policy([{ channel: 'hook' }]);
    await grantsApi(cluster.as(ALICE)).create(
      requestAs(ALICE, ns, p, 'quiet', {
        access: [{ kubernetes: { clusterRole: 'view', namespaces: [ns] } }],
      }),
    );
    // Marking the request as already told, so that no approver hears of it: refused.
    const r = await refusal(
      cluster
        .as(ALICE)
        .makeApiClient(CustomObjectsApi)
        .patchNamespacedCustomObjectStatus(
          {
            group: GROUP,
            version: VERSION,
            plural: 'accessgrants',
            namespace: ns,
            name: 'quiet',
            body: {
              status: {
                notifications: [
                  { channel: 'hook', event: 'Requested', at: new Date().toISOString() },
                ],
              },
            },
          },
          (await import('@kubernetes/client-node')).setHeaderOptions(
            'Content-Type',
            'application/merge-patch+json',
          ),
        ),
    );
    assert.equal(r.code, 403);
    await notified('quiet', 'hook', 'Requested');
  });

  it('loses nothing when the operator is killed between a request and its delivery', async () => {
    const p = await policy([{ channel: 'hook', events: ['Requested'] }]);
    hook.failWith(503);
    const attempts = hook.attempts;
    await grantsApi(cluster.as(ALICE)).create(
      requestAs(ALICE, ns, p, 'crash', {
        access: [{ kubernetes: { clusterRole: 'view', namespaces: [ns] } }],
      }),
    );
    await eventually(async () => hook.attempts > attempts, {
      timeoutMs: 15_000,
      what: 'a delivery attempt',
    });
    await operator.kill();
    hook.failWith(undefined);
    await startOperator();
    await notified('crash', 'hook', 'Requested');
    assert.deepEqual(hook.types('crash'), ['requested'], 'delivered once, after the restart');
  });
});
