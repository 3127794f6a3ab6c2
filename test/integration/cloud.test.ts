import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  CreateGroupCommand,
  CreateRoleCommand,
  CreateUserCommand,
  DeleteRolePolicyCommand,
  IAMClient,
  ListAttachedRolePoliciesCommand,
  ListGroupsForUserCommand,
  ListRolePoliciesCommand,
} from '@aws-sdk/client-iam';
import { ApiException } from '@kubernetes/client-node';
import type { AccessGrant, AccessTarget } from '../../src/api/v1alpha1/types.ts';
import type { ClusterEnvironment } from '../../src/sandbox/environment.ts';
import { CLUSTER_START_TIMEOUT_MS, testCluster } from '../support/cluster.ts';
import { AWS_THROTTLING, AWS_UNAVAILABLE, startFaultProxy } from '../support/fault-proxy.ts';
import { startGcpIamServer, type GcpIamServer } from '../support/gcp.ts';
import { startMoto } from '../support/moto.ts';
import {
  createAccessPolicy,
  createNamespace,
  grant,
  grantsApi,
  installTimebox,
  kubeconfigAs,
  OperatorProcess,
  roleBindingsOf,
  waitForPhase,
} from '../support/timebox.ts';
import { eventually } from '../support/wait.ts';
import { refusal } from '../support/requests.ts';

const OPERATOR = 'timebox-operator-cloud';
const POLICY = 'it-cloud';
const ACCOUNT = '123456789012';
const ROLE = `arn:aws:iam::${ACCOUNT}:role/alice`;
const USER = `arn:aws:iam::${ACCOUNT}:user/bob`;
const GROUP = `arn:aws:iam::${ACCOUNT}:group/oncall`;
const S3_READ = 'arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess';
const READ_ONLY = 'arn:aws:iam::aws:policy/ReadOnlyAccess';
const PROJECT = 'projects/acme-prod';
const ALICE = 'user:alice@example.com';

describe('AWS and GCP targets through the operator', function () {
  this.timeout(120_000);
  let cluster: ClusterEnvironment;
  let work: string;
  let moto: Awaited<ReturnType<typeof startMoto>>;
  let proxy: Awaited<ReturnType<typeof startFaultProxy>>;
  let gcp: GcpIamServer;
  let iam: IAMClient;
  let operator: OperatorProcess;
  let ns: string;

  before(async function () {
    this.timeout(CLUSTER_START_TIMEOUT_MS);
    work = mkdtempSync(join(tmpdir(), 'timebox-cloud-'));
    [cluster, moto, gcp] = await Promise.all([testCluster(), startMoto(work), startGcpIamServer()]);
    proxy = await startFaultProxy(moto.endpoint);
    gcp.addResource(PROJECT, { version: 1, bindings: [] });
    iam = new IAMClient({
      endpoint: moto.endpoint,
      region: 'us-east-1',
      credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' },
    });
    const trust = JSON.stringify({
      Version: '2012-10-17',
      Statement: [
        { Effect: 'Allow', Principal: { Service: 'ec2.amazonaws.com' }, Action: 'sts:AssumeRole' },
      ],
    });
    await iam.send(new CreateRoleCommand({ RoleName: 'alice', AssumeRolePolicyDocument: trust }));
    await iam.send(new CreateUserCommand({ UserName: 'bob' }));
    await iam.send(new CreateGroupCommand({ GroupName: 'oncall' }));

    await installTimebox(cluster, [OPERATOR]);
    await createAccessPolicy(cluster.admin(), POLICY, {
      requesters: { users: ['timebox-sandbox-admin'] },
      namespaces: ['*'],
      subjects: { users: ['alice@example.com'] },
      access: [
        { kubernetes: { clusterRoles: ['view'], namespaces: ['*'] } },
        {
          aws: {
            principalArns: [`arn:aws:iam::${ACCOUNT}:*`],
            policyArns: [S3_READ, READ_ONLY],
            groupArns: [GROUP],
            modes: ['InlinePolicy', 'AttachPolicy', 'GroupMembership'],
          },
        },
        // roles/nosuch.role passes the policy, and GCP itself refuses it.
        {
          gcp: {
            resources: [PROJECT],
            roles: ['roles/cloudsql.viewer', 'roles/nosuch.role'],
            members: [ALICE],
          },
        },
      ],
      maxDuration: '24h',
      approval: { mode: 'Auto' },
    });
    ns = await createNamespace(cluster, 'cloud');
    operator = await startCloudOperator('operator-cloud');
  });

  async function startCloudOperator(name: string): Promise<OperatorProcess> {
    const op = OperatorProcess.start(
      name,
      kubeconfigAs(cluster, OPERATOR, work),
      // A short resync, so that access removed by hand in a cloud is restored quickly.
      ['--providers=aws,gcp', `--gcp-endpoint=${gcp.endpoint}`, '--resync-period=1'],
      {
        // The SDK's default chain: credentials and endpoint from the environment.
        AWS_ENDPOINT_URL_IAM: proxy.endpoint,
        AWS_ACCESS_KEY_ID: 'testing',
        AWS_SECRET_ACCESS_KEY: 'testing',
        AWS_REGION: 'us-east-1',
      },
    );
    await op.waitForLog(/starting controllers/);
    return op;
  }

  after(async () => {
    await operator?.stop();
    await proxy?.stop();
    await gcp?.stop();
    await moto?.stop();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  const api = () => grantsApi(cluster.admin());
  const k8s = (): AccessTarget => ({ kubernetes: { clusterRole: 'view', namespaces: [ns] } });
  const inline = (policyArn = S3_READ): AccessTarget => ({
    aws: { principalArn: ROLE, policyArn },
  });
  const gcpTarget = (role = 'roles/cloudsql.viewer'): AccessTarget => ({
    gcp: { resource: PROJECT, role, member: ALICE },
  });
  const all = () => [k8s(), inline(), gcpTarget()];

  async function inlinePolicies(): Promise<string[]> {
    return (await iam.send(new ListRolePoliciesCommand({ RoleName: 'alice' }))).PolicyNames ?? [];
  }
  const gcpTitles = () =>
    (gcp.policy(PROJECT).bindings ?? []).map((b) => b.condition?.title).filter(Boolean);

  /** What the grant holds in each system, as the systems themselves report it. */
  async function held(g: AccessGrant) {
    const uid = g.metadata.uid!;
    return {
      kubernetes: (await roleBindingsOf(cluster, ns, uid)).length,
      aws: (await inlinePolicies()).filter((n) => n.startsWith(`timebox-${uid}`)).length,
      gcp: gcpTitles().filter((t) => t === `timebox-${uid}`).length,
    };
  }
  const nothing = { kubernetes: 0, aws: 0, gcp: 0 };

  async function create(name: string, access: AccessTarget[], duration = '1h') {
    await api().create(grant(ns, name, { access, duration, policy: POLICY }));
    return name;
  }

  it('grants Kubernetes, AWS and GCP together, and revokes all of it at expiry', async () => {
    await create('all-expire', all(), '6s');
    const active = await waitForPhase(cluster, ns, 'all-expire', 'Active', 20_000);
    assert.deepEqual(await held(active), { kubernetes: 1, aws: 1, gcp: 1 });
    assert.deepEqual(
      active.status!.targets!.map((t) => [t.provider, t.state, t.failSafe]),
      [
        ['kubernetes', 'Active', false],
        ['aws', 'Active', true],
        ['gcp', 'Active', true],
      ],
    );
    const expired = await waitForPhase(cluster, ns, 'all-expire', 'Expired', 20_000);
    assert.deepEqual(await held(expired), nothing);
  });

  it('revokes everything on revoked: true, and on delete', async () => {
    await create('all-revoke', all());
    await create('all-delete', all());
    const r = await waitForPhase(cluster, ns, 'all-revoke', 'Active', 20_000);
    const d = await waitForPhase(cluster, ns, 'all-delete', 'Active', 20_000);
    await api().patch(ns, 'all-revoke', { spec: { revoked: true } });
    await waitForPhase(cluster, ns, 'all-revoke', 'Revoked', 20_000);
    assert.deepEqual(await held(r), nothing);
    assert.deepEqual(await held(d), { kubernetes: 1, aws: 1, gcp: 1 }, 'the other grant is intact');
    await api().delete(ns, 'all-delete');
    await eventually(
      async () => {
        try {
          await api().get(ns, 'all-delete');
          return false;
        } catch (err) {
          return err instanceof ApiException && err.code === 404;
        }
      },
      { timeoutMs: 20_000, what: 'the deleted grant to go once revoked' },
    );
    assert.deepEqual(await held(d), nothing);
  });

  it('keeps overlapping grants for the same principals apart', async () => {
    await create('overlap-a', [inline(), gcpTarget()]);
    await create('overlap-b', [inline(), gcpTarget()]);
    const a = await waitForPhase(cluster, ns, 'overlap-a', 'Active', 20_000);
    const b = await waitForPhase(cluster, ns, 'overlap-b', 'Active', 20_000);
    await api().patch(ns, 'overlap-a', { spec: { revoked: true } });
    await waitForPhase(cluster, ns, 'overlap-a', 'Revoked', 20_000);
    assert.deepEqual(await held(a), nothing);
    assert.deepEqual(await held(b), { kubernetes: 0, aws: 1, gcp: 1 });
    await api().patch(ns, 'overlap-b', { spec: { revoked: true } });
    await waitForPhase(cluster, ns, 'overlap-b', 'Revoked', 20_000);
  });

  it('reference-counts an attached managed policy and a group membership across grants', async () => {
    const attach: AccessTarget = {
      aws: { principalArn: ROLE, policyArn: READ_ONLY, mode: 'AttachPolicy' },
    };
    const member: AccessTarget = {
      aws: { principalArn: USER, groupArn: GROUP, mode: 'GroupMembership' },
    };
    await create('shared-a', [attach, member]);
    await create('shared-b', [attach, member]);
    const a = await waitForPhase(cluster, ns, 'shared-a', 'Active', 20_000);
    await waitForPhase(cluster, ns, 'shared-b', 'Active', 20_000);
    assert.deepEqual(
      a.status!.targets!.map((t) => t.failSafe),
      [false, false],
      'AWS does not end these by itself',
    );
    const attached = async () =>
      (
        await iam.send(new ListAttachedRolePoliciesCommand({ RoleName: 'alice' }))
      ).AttachedPolicies?.map((p) => p.PolicyArn) ?? [];
    const groups = async () =>
      (await iam.send(new ListGroupsForUserCommand({ UserName: 'bob' }))).Groups?.map(
        (g) => g.GroupName,
      ) ?? [];
    assert.deepEqual(await attached(), [READ_ONLY]);
    assert.deepEqual(await groups(), ['oncall']);

    await api().patch(ns, 'shared-a', { spec: { revoked: true } });
    await waitForPhase(cluster, ns, 'shared-a', 'Revoked', 20_000);
    assert.deepEqual(await attached(), [READ_ONLY], "a's end leaves b's access");
    assert.deepEqual(await groups(), ['oncall']);

    await api().patch(ns, 'shared-b', { spec: { revoked: true } });
    await waitForPhase(cluster, ns, 'shared-b', 'Revoked', 20_000);
    assert.deepEqual(await attached(), []);
    assert.deepEqual(await groups(), []);
  });

  it('restores cloud access removed by hand while the grant is active', async () => {
    await create('drift', [inline(), gcpTarget()]);
    const g = await waitForPhase(cluster, ns, 'drift', 'Active', 20_000);
    const uid = g.metadata.uid!;
    await iam.send(
      new DeleteRolePolicyCommand({ RoleName: 'alice', PolicyName: `timebox-${uid}` }),
    );
    gcp.edit(PROJECT, (p) => ({
      ...p,
      bindings: (p.bindings ?? []).filter((b) => b.condition?.title !== `timebox-${uid}`),
    }));
    assert.deepEqual(await held(g), nothing);
    await eventually(async () => (await held(g)).aws === 1 && (await held(g)).gcp === 1, {
      timeoutMs: 15_000,
      what: 'the resync to restore the AWS and GCP access',
    });
    await api().patch(ns, 'drift', { spec: { revoked: true } });
    await waitForPhase(cluster, ns, 'drift', 'Revoked', 20_000);
    assert.deepEqual(await held(g), nothing);
  });

  it('rolls back the Kubernetes and AWS targets when the GCP target fails', async () => {
    await create('rollback', [k8s(), inline(), gcpTarget('roles/nosuch.role')]);
    const failed = await waitForPhase(cluster, ns, 'rollback', 'Failed', 20_000);
    const ready = failed.status!.conditions!.find((c) => c.type === 'Ready')!;
    assert.equal(ready.reason, 'InvalidArgument');
    assert.match(ready.message, /roles\/nosuch\.role/);
    assert.deepEqual(
      failed.status!.targets!.map((t) => [t.provider, t.state, t.message]),
      [
        ['kubernetes', 'Failed', 'rolled back'],
        ['aws', 'Failed', 'rolled back'],
        ['gcp', 'Failed', ready.message],
      ],
    );
    assert.deepEqual(await held(failed), nothing);
  });

  it('converges through throttling and 5xx from AWS and GCP', async () => {
    proxy.failNext(2, AWS_THROTTLING);
    proxy.failNext(2, AWS_UNAVAILABLE);
    gcp.failNext(2, { httpStatus: 503, status: 'UNAVAILABLE' });
    gcp.failNext(3, { httpStatus: 429, status: 'RESOURCE_EXHAUSTED', method: 'setIamPolicy' });
    const before = { aws: proxy.stats.injected, gcp: gcp.stats.injected };
    await create('faults', all(), '1h');
    const active = await waitForPhase(cluster, ns, 'faults', 'Active', 60_000);
    assert.equal(proxy.stats.injected - before.aws, 4);
    assert.equal(gcp.stats.injected - before.gcp, 5);
    assert.deepEqual(await held(active), { kubernetes: 1, aws: 1, gcp: 1 });
    await api().patch(ns, 'faults', { spec: { revoked: true } });
    await waitForPhase(cluster, ns, 'faults', 'Revoked', 20_000);
  });

  it('revokes, after a crash, the cloud access that expired while the operator was down', async () => {
    await create('crash', all(), '4s');
    const active = await waitForPhase(cluster, ns, 'crash', 'Active', 20_000);
    await operator.kill();
    const expiresAt = Date.parse(active.status!.expiresAt!);
    await new Promise((r) => setTimeout(r, Math.max(0, expiresAt - Date.now()) + 500));
    assert.deepEqual(
      await held(active),
      { kubernetes: 1, aws: 1, gcp: 1 },
      'nobody revoked it yet',
    );
    operator = await startCloudOperator('operator-cloud-restarted');
    const expired = await waitForPhase(cluster, ns, 'crash', 'Expired', 20_000);
    assert.deepEqual(await held(expired), nothing);
  });

  it('rejects an invalid ARN, resource or role at admission, with what to fix', async () => {
    const cases: [AccessTarget, RegExp][] = [
      [{ aws: { principalArn: 'arn:aws:iam::12:role/alice', policyArn: S3_READ } }, /principalArn/],
      [{ aws: { principalArn: ROLE, policyArn: 'ReadOnlyAccess' } }, /policyArn/],
      [
        { aws: { principalArn: ROLE, groupArn: GROUP, mode: 'GroupMembership' } },
        /GroupMembership needs an IAM user/,
      ],
      [{ aws: { principalArn: ROLE } }, /set policyArn/],
      [{ gcp: { resource: 'project/acme-prod', role: 'roles/viewer', member: ALICE } }, /resource/],
      [{ gcp: { resource: PROJECT, role: 'viewer', member: ALICE } }, /role/],
      [{ gcp: { resource: PROJECT, role: 'roles/viewer', member: 'alice@example.com' } }, /member/],
    ];
    for (const [i, [target, message]] of cases.entries()) {
      const name = `invalid-${i}`;
      const refused = await refusal(
        api().create(grant(ns, name, { access: [target], policy: POLICY })),
      );
      assert.ok(
        refused.code === 422 && message.test(refused.message),
        `case ${i}: ${JSON.stringify(target)}: HTTP ${refused.code} ${refused.message}`,
      );
    }
    assert.deepEqual(await inlinePolicies(), [], 'nothing was granted');
    assert.deepEqual(gcpTitles(), []);
  });
});
