import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { AuthorizationV1Api, CoreV1Api, RbacAuthorizationV1Api } from '@kubernetes/client-node';
import { signSlackRequest } from '../../src/notify/slack-endpoint.ts';
import { specHash } from '../../src/policy/evaluate.ts';
import { freePort } from '../../src/sandbox/ports.ts';
import type { ClusterEnvironment } from '../../src/sandbox/environment.ts';
import type { Identity } from '../../src/sandbox/impersonation.ts';
import { withToken } from '../../src/sandbox/setup.ts';
import { CLUSTER_START_TIMEOUT_MS, testCluster } from '../support/cluster.ts';
import { startFakeSlack } from '../support/fake-slack.ts';
import {
  ALICE,
  approvalAs,
  approvalsOf as approvalsIn,
  BOB,
  refusal,
  requestAs,
} from '../support/requests.ts';
import {
  createAccessPolicy,
  createNamespace,
  createNotificationChannel,
  grantsApi,
  installTimebox,
  OPERATOR_NAMESPACE,
  OperatorProcess,
  waitForPhase,
} from '../support/timebox.ts';
import { eventually } from '../support/wait.ts';

/** Another requester: mapped, but no approver. */
const MALLORY: Identity = { user: 'mallory@example.com', groups: ['payments-oncall'] };
const SA = 'timebox-slack-operator';
const SA_USER = `system:serviceaccount:${OPERATOR_NAMESPACE}:${SA}`;
const SIGNING_SECRET = 'slack-signing-secret-for-tests';
const TEAM = 'T0TIMEBOX';

/**
 * Approving from Slack, with the operator as a separate process under its own
 * ServiceAccount token (it impersonates the person who clicked, so it must not be
 * impersonated itself), the official Slack SDK against a local endpoint that
 * answers like Slack's Web API, and clicks signed with Slack's real algorithm.
 */
describe('Slack: approvers decide where they are told', function () {
  this.timeout(180_000);
  let cluster: ClusterEnvironment;
  let work: string;
  let operator: OperatorProcess;
  let slack: Awaited<ReturnType<typeof startFakeSlack>>;
  let slackPort: number;
  let ns: string;
  let policy: string;
  let operatorKubeconfig: string;
  const operatorArgs = () => [
    `--slack-api-url=${slack.apiUrl}`,
    `--slack-bind-address=127.0.0.1:${slackPort}`,
    `--slack-team-id=${TEAM}`,
  ];

  const admin = () => cluster.admin();
  const approvalsOf = (grant: string) => approvalsIn(cluster, ns, grant);

  async function post(body: string, opts: { signature?: string; tsS?: number } = {}) {
    const tsS = opts.tsS ?? Math.floor(Date.now() / 1000);
    const res = await fetch(`http://127.0.0.1:${slackPort}/slack`, {
      method: 'POST',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        'x-slack-request-timestamp': String(tsS),
        'x-slack-signature': opts.signature ?? signSlackRequest(SIGNING_SECRET, tsS, body),
      },
      body,
    });
    return { status: res.status, text: await res.text() };
  }
  /** Slack's block_actions payload for a click on `actionId` by `user` in the request's message. */
  const click = (user: string, actionId: string, value: string) =>
    new URLSearchParams({
      payload: JSON.stringify({
        type: 'block_actions',
        user: { id: user, team_id: TEAM },
        team: { id: TEAM },
        channel: { id: 'C0APPROVALS' },
        response_url: slack.responseUrl,
        trigger_id: randomUUID(),
        actions: [{ type: 'button', action_id: actionId, value }],
      }),
    }).toString();
  const command = (user: string, text: string) =>
    new URLSearchParams({
      command: '/timebox',
      text,
      user_id: user,
      team_id: TEAM,
      trigger_id: randomUUID(),
    }).toString();
  /** The Approve button's value in the message Timebox posted for `grant`. */
  async function approveButton(grant: string): Promise<string> {
    const post = await eventually(
      async () =>
        slack.calls.find(
          (c) => c.method === 'chat.postMessage' && JSON.stringify(c.args).includes(grant),
        ),
      { timeoutMs: 15_000, what: `the Slack message for ${grant}` },
    );
    const blocks = (
      typeof post.args.blocks === 'string' ? JSON.parse(post.args.blocks) : post.args.blocks
    ) as { type: string; elements?: { action_id: string; value: string }[] }[];
    return blocks.flatMap((b) => b.elements ?? []).find((e) => e.action_id === 'timebox_approve')!
      .value;
  }
  const request = async (name: string) => {
    await grantsApi(cluster.as(ALICE)).create(
      requestAs(ALICE, ns, policy, name, {
        access: [{ kubernetes: { clusterRole: 'view', namespaces: [ns] } }],
      }),
    );
    return approveButton(name);
  };

  before(async function () {
    this.timeout(CLUSTER_START_TIMEOUT_MS);
    cluster = await testCluster();
    await installTimebox(cluster, [SA_USER]);
    work = mkdtempSync(join(tmpdir(), 'timebox-slack-'));
    slack = await startFakeSlack();
    slack.addChannel('C0APPROVALS', 'payments-approvals');
    slackPort = await freePort();
    const core = admin().makeApiClient(CoreV1Api);
    await core.createNamespacedServiceAccount({
      namespace: OPERATOR_NAMESPACE,
      body: { metadata: { name: SA } },
    });
    // The operator may act as the people of the mapping only, with the Slack extras.
    await admin()
      .makeApiClient(RbacAuthorizationV1Api)
      .createClusterRole({
        body: {
          metadata: { name: 'timebox-slack-impersonation-tests' },
          rules: [
            {
              apiGroups: [''],
              resources: ['users'],
              verbs: ['impersonate'],
              resourceNames: [ALICE.user, BOB.user, MALLORY.user],
            },
            {
              apiGroups: [''],
              resources: ['groups'],
              verbs: ['impersonate'],
              resourceNames: ['payments-oncall', 'payments-leads'],
            },
            {
              apiGroups: ['authentication.k8s.io'],
              resources: ['userextras/timebox.dev/via', 'userextras/timebox.dev/slack-user-id'],
              verbs: ['impersonate'],
            },
          ],
        },
      });
    await admin()
      .makeApiClient(RbacAuthorizationV1Api)
      .createClusterRoleBinding({
        body: {
          metadata: { name: 'timebox-slack-impersonation-tests' },
          roleRef: {
            apiGroup: 'rbac.authorization.k8s.io',
            kind: 'ClusterRole',
            name: 'timebox-slack-impersonation-tests',
          },
          subjects: [{ kind: 'ServiceAccount', name: SA, namespace: OPERATOR_NAMESPACE }],
        },
      });
    await core.createNamespacedSecret({
      namespace: OPERATOR_NAMESPACE,
      body: {
        metadata: { name: 'timebox-slack' },
        stringData: { 'signing-secret': SIGNING_SECRET, token: slack.token },
      },
    });
    await core.createNamespacedConfigMap({
      namespace: OPERATOR_NAMESPACE,
      body: {
        metadata: { name: 'timebox-slack-users' },
        data: {
          'users.yaml': [
            'U0BOB: { user: bob@example.com, groups: [payments-leads] }',
            'U0ALICE: { user: alice@example.com, groups: [payments-oncall] }',
            'U0MALLORY: { user: mallory@example.com, groups: [payments-oncall] }',
          ].join('\n'),
        },
      },
    });
    await createNotificationChannel(admin(), 'approvals', {
      slack: {
        channel: '#payments-approvals',
        tokenSecretRef: { namespace: OPERATOR_NAMESPACE, name: 'timebox-slack', key: 'token' },
      },
    });
    const token = (
      await core.createNamespacedServiceAccountToken({
        namespace: OPERATOR_NAMESPACE,
        name: SA,
        body: { spec: { audiences: [], expirationSeconds: 3600 } },
      })
    ).status!.token!;
    operatorKubeconfig = join(work, 'operator.kubeconfig');
    writeFileSync(operatorKubeconfig, withToken(admin(), SA_USER, token).exportConfig(), {
      mode: 0o600,
    });
    operator = OperatorProcess.start('slack-operator', operatorKubeconfig, operatorArgs());
    await operator.waitForLog(/starting controllers/);
  });

  after(async () => {
    await operator?.stop();
    await slack?.stop();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  beforeEach(async () => {
    ns = await createNamespace(cluster, 'payments');
    policy = `slack-${randomUUID().slice(0, 8)}`;
    await createAccessPolicy(admin(), policy, {
      requesters: { groups: ['payments-oncall'] },
      selfOnly: true,
      namespaces: [ns],
      access: [{ kubernetes: { clusterRoles: ['view'], namespaces: [ns] } }],
      maxDuration: '4h',
      approval: { mode: 'Manual', approvers: { groups: ['payments-leads'] }, required: 1 },
      notify: [{ channel: 'approvals' }],
    });
  });

  it('a click on Approve approves exactly the version the message showed, as the approver', async () => {
    const value = await request('debug');
    const res = await post(click('U0BOB', 'timebox_approve', value));
    assert.equal(res.status, 200, res.text);
    await waitForPhase(cluster, ns, 'debug', 'Active');
    const [approval] = await approvalsOf('debug');
    assert.deepEqual(
      [
        approval?.spec.approver,
        approval?.spec.via,
        approval?.spec.slackUserId,
        approval?.spec.decision,
      ],
      [BOB.user, 'slack', 'U0BOB', 'Approve'],
    );
    assert.equal(
      approval?.spec.grantRef.specHash,
      (JSON.parse(value) as { specHash: string }).specHash,
    );
    // The message in the channel now says so, without buttons.
    await eventually(
      async () =>
        slack.calls.some(
          (c) =>
            c.method === 'chat.update' &&
            /Approved by bob@example\.com/.test(JSON.stringify(c.args)),
        ),
      { timeoutMs: 15_000, what: 'the message to be updated' },
    );
  });

  it('a Slack user nobody mapped approves nothing, and is told so', async () => {
    const value = await request('unmapped');
    const res = await post(click('U0EVE', 'timebox_approve', value));
    assert.equal(res.status, 200);
    assert.match(res.text, /your Slack user ID U0EVE is not in ConfigMap/);
    assert.deepEqual(await approvalsOf('unmapped'), [], 'no approval was made');
    // Slack shows nothing of a click's answer: they are told through its response_url.
    const told = await eventually(
      async () => slack.responses.find((r) => /U0EVE is not in ConfigMap/.test(String(r.text))),
      { timeoutMs: 10_000, what: 'the clicker to be told' },
    );
    assert.equal(told.response_type, 'ephemeral');
  });

  it("the requester's own click is recorded but does not count", async () => {
    const value = await request('own');
    await post(click('U0ALICE', 'timebox_approve', value));
    const g = await eventually(
      async () => {
        const got = await grantsApi(admin()).get(ns, 'own');
        return /not counted: .*alice@example\.com/.test(
          got.status?.conditions?.find((c) => c.type === 'Ready')?.message ?? '',
        )
          ? got
          : undefined;
      },
      { timeoutMs: 15_000, what: "the grant to say alice's approval does not count" },
    );
    assert.equal(g.status?.phase, 'Pending');
  });

  it('refuses forged and replayed clicks before anything happens', async () => {
    const value = await request('forged');
    const body = click('U0BOB', 'timebox_approve', value);
    const forged = await post(body, {
      signature: signSlackRequest('not-the-secret', Math.floor(Date.now() / 1000), body),
    });
    assert.equal(forged.status, 401);
    const stale = await post(body, { tsS: Math.floor(Date.now() / 1000) - 600 });
    assert.equal(stale.status, 401);
    assert.deepEqual(await approvalsOf('forged'), []);
    const tsS = Math.floor(Date.now() / 1000);
    const signature = signSlackRequest(SIGNING_SECRET, tsS, body);
    // Bob denies after all... then someone replays his first click: refused.
    assert.equal((await post(body, { tsS, signature })).status, 200);
    assert.equal((await post(body, { tsS, signature })).status, 401);
    assert.equal((await approvalsOf('forged')).length, 1);
  });

  it('lets nobody but Timebox claim that a decision came from Slack', async () => {
    await grantsApi(cluster.as(ALICE)).create(
      requestAs(ALICE, ns, policy, 'claim', {
        access: [{ kubernetes: { clusterRole: 'view', namespaces: [ns] } }],
      }),
    );
    const g = await grantsApi(admin()).get(ns, 'claim');
    const r = await refusal(
      approvalAs(cluster, BOB, ns, {
        metadata: { name: 'claimed' },
        spec: {
          grantRef: { name: 'claim', uid: g.metadata.uid!, specHash: specHash(g.spec) },
          decision: 'Approve',
          approver: BOB.user,
          approverGroups: BOB.groups!,
          via: 'slack',
          slackUserId: 'U0BOB',
        },
      }),
    );
    assert.match(r.message, /spec.via is set by Timebox/);
    // And the operator may act as nobody outside the mapping.
    const sar = await admin()
      .makeApiClient(AuthorizationV1Api)
      .createSubjectAccessReview({
        body: {
          spec: {
            user: SA_USER,
            resourceAttributes: {
              verb: 'impersonate',
              resource: 'users',
              name: 'carol@example.com',
            },
          },
        },
      });
    assert.equal(sar.status?.allowed, false);
  });

  it('/timebox lists what waits, and shows a request with buttons bound to its version', async () => {
    await request('listed');
    const ls = await post(command('U0BOB', 'ls'));
    assert.match(ls.text, new RegExp(`${ns}/listed: alice@example\\.com`));
    const shown = await post(command('U0BOB', `approve ${ns}/listed`));
    const reply = JSON.parse(shown.text) as { response_type: string; blocks: unknown[] };
    assert.equal(reply.response_type, 'ephemeral');
    assert.match(JSON.stringify(reply.blocks), /timebox_approve/);
    assert.deepEqual(await approvalsOf('listed'), [], 'showing is not approving');
    const unmapped = await post(command('U0EVE', 'ls'));
    assert.match(unmapped.text, /not in ConfigMap/);
  });

  it('/timebox request asks as the person, checked first by the policy', async () => {
    const made = await post(command('U0ALICE', `request view in ${ns} for 1h because INC-9 audit`));
    const m = new RegExp(`Requested ${ns}/(alice-view-\\w+) under AccessPolicy '${policy}'`).exec(
      JSON.parse(made.text).text as string,
    );
    assert.ok(m, made.text);
    const g = await grantsApi(admin()).get(ns, m[1]!);
    assert.equal(g.metadata.annotations?.['timebox.dev/requested-by'], ALICE.user);
    assert.equal(g.metadata.annotations?.['timebox.dev/created-by'], ALICE.user, 'made as alice');
    await approveButton(m[1]!);
    // Refused before anything is made, with the controller's reason.
    const wrong = await post(command('U0ALICE', `request admin in ${ns} for 1h because x`));
    assert.match(wrong.text, /Not requested: no policy allows this request.*admin/);
    const longer = await post(command('U0ALICE', `request view in ${ns} for 9h because x`));
    assert.match(longer.text, /exceeds the maxDuration 4h/);
    assert.equal(
      (await grantsApi(admin()).list(ns)).length,
      1,
      'only the request that fits was made',
    );
  });

  it('/timebox revoke ends access: the requester at once, an approver with a Revoke', async () => {
    for (const [name, who] of [
      ['ends-own', 'U0ALICE'],
      ['ends-by-lead', 'U0BOB'],
    ] as const) {
      await post(click('U0BOB', 'timebox_approve', await request(name)));
      await waitForPhase(cluster, ns, name, 'Active');
      const res = await post(command(who, `revoke ${ns}/${name}`));
      assert.equal(res.status, 200, res.text);
      const ended = await waitForPhase(cluster, ns, name, 'Revoked');
      assert.equal(
        ended.status?.conditions?.find((c) => c.type === 'Ready')?.reason,
        who === 'U0ALICE' ? 'RevokedByUser' : 'RevokedByApprover',
      );
    }
    const [revoke] = (await approvalsOf('ends-by-lead')).filter(
      (a) => a.spec.decision === 'Revoke',
    );
    assert.deepEqual([revoke?.spec.approver, revoke?.spec.via], [BOB.user, 'slack']);
  });

  it("another requester's /timebox revoke or Approve click ends or grants nothing", async () => {
    const value = await request('not-mallorys');
    await post(click('U0MALLORY', 'timebox_approve', value));
    await post(click('U0BOB', 'timebox_approve', value));
    await waitForPhase(cluster, ns, 'not-mallorys', 'Active');
    const g = await grantsApi(admin()).get(ns, 'not-mallorys');
    assert.deepEqual(
      g.status?.approvals?.map((a) => a.approver),
      [BOB.user],
      "mallory's approval is not among those that count",
    );
    await post(command('U0MALLORY', `revoke ${ns}/not-mallorys`));
    await post(command('U0BOB', `revoke ${ns}/not-mallorys`));
    const ended = await waitForPhase(cluster, ns, 'not-mallorys', 'Revoked');
    assert.match(
      ended.status?.conditions?.find((c) => c.type === 'Ready')?.message ?? '',
      /access revoked by bob@example\.com/,
      "ended by the approver, not by mallory's earlier revoke",
    );
  });

  it('/timebox help never acts, whatever follows it', async () => {
    await request('helped');
    const help = await post(command('U0BOB', `help ${ns}/helped`));
    assert.match(help.text, /Usage: `\/timebox <command>`/);
    assert.deepEqual(await approvalsOf('helped'), []);
  });

  it('records a click replayed to another replica (or after a restart) once', async () => {
    const value = await request('replayed');
    const body = click('U0BOB', 'timebox_approve', value);
    const tsS = Math.floor(Date.now() / 1000);
    const signature = signSlackRequest(SIGNING_SECRET, tsS, body);
    assert.equal((await post(body, { tsS, signature })).status, 200);
    // A new process: its replay guard is empty, the approval's name is not.
    await operator.stop();
    operator = OperatorProcess.start('slack-operator-2', operatorKubeconfig, operatorArgs());
    await operator.waitForLog(/serving Slack interactions/);
    const again = await post(body, { tsS, signature });
    assert.equal(again.status, 200);
    assert.match(again.text, /recorded already/);
    assert.equal((await approvalsOf('replayed')).length, 1);
  });
});
