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
import { startArmServer, type ArmServer } from '../support/azure.ts';
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
const SUB = '00000000-0000-0000-0000-0000000000aa';
const RG = `/subscriptions/${SUB}/resourceGroups/payments`;
const ALICE_OID = '11111111-2222-3333-4444-555555555555';

describe('AWS, GCP and Azure targets through the operator', function () {
  this.timeout(120_000);
  let cluster: ClusterEnvironment;
  let work: string;
  let moto: Awaited<ReturnType<typeof startMoto>>;
  let proxy: Awaited<ReturnType<typeof startFaultProxy>>;
  let gcp: GcpIamServer;
  let arm: ArmServer;
  let iam: IAMClient;
  let operator: OperatorProcess;
  let ns: string;

  before(async function () {
    this.timeout(CLUSTER_START_TIMEOUT_MS);
    work = mkdtempSync(join(tmpdir(), 'timebox-cloud-'));
    [cluster, moto, gcp, arm] = await Promise.all([
      testCluster(),
      startMoto(work),
      startGcpIamServer(),
      startArmServer({ subscription: SUB }),
    ]);
    arm.addScope(RG);
    arm.addPrincipal(ALICE_OID);
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
        // Reader passes the policy and Azure has it; Nosuch Role passes the policy, and Azure refuses it.
        {
          azure: {
            scopes: ['/subscriptions/*/resourceGroups/payments'],
            roles: ['Reader', 'Storage Blob Data Reader', 'Nosuch Role'],
            modes: ['Schedule', 'Assignment'],
            principalIds: [ALICE_OID],
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
      [
        '--providers=aws,gcp,azure',
        `--gcp-endpoint=${gcp.endpoint}`,
        `--azure-endpoint=${arm.endpoint}`,
        '--resync-period=1',
      ],
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
    await arm?.stop();
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
  const azureTarget = (role = 'Reader', mode?: 'Assignment'): AccessTarget => ({
    azure: { scope: RG, role, principalId: ALICE_OID, ...(mode ? { mode } : {}) },
  });
  const all = () => [k8s(), inline(), gcpTarget(), azureTarget()];

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
      // Azure's own view: this grant's claim on the access that is held.
      azure: arm.held(ALICE_OID).length > 0 && (await azureClaims()).includes(uid) ? 1 : 0,
    };
  }
  const nothing = { kubernetes: 0, aws: 0, gcp: 0, azure: 0 };
  /** The claims written in Azure next to the access held (a schedule's request, an assignment's description). */
  async function azureClaims(): Promise<string> {
    const { armPort } = await import('../../src/providers/azure/driver.ts');
    const port = armPort({ endpoint: arm.endpoint });
    const held = arm.held(ALICE_OID);
    const texts = await Promise.all(
      held.map(async (h) => {
        if (h.kind === 'assignment') return h.description ?? '';
        const s = await port.schedules(RG, ALICE_OID);
        return (await Promise.all(s.map((x) => port.requestJustification(RG, x.requestName)))).join(
          ' ',
        );
      }),
    );
    return texts.join(' ');
  }

  async function create(name: string, access: AccessTarget[], duration = '1h') {
    await api().create(grant(ns, name, { access, duration, policy: POLICY }));
    return name;
  }

  it('grants Kubernetes, AWS and GCP together, and revokes all of it at expiry', async () => {
    await create('all-expire', all(), '6s');
    const active = await waitForPhase(cluster, ns, 'all-expire', 'Active', 20_000);
    assert.deepEqual(await held(active), { kubernetes: 1, aws: 1, gcp: 1, azure: 1 });
    assert.deepEqual(
      active.status!.targets!.map((t) => [t.provider, t.state, t.failSafe]),
      [
        ['kubernetes', 'Active', false],
        ['aws', 'Active', true],
        ['gcp', 'Active', true],
        ['azure', 'Active', true],
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
    assert.deepEqual(
      await held(d),
      { kubernetes: 1, aws: 1, gcp: 1, azure: 1 },
      'the other grant is intact',
    );
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
    await create('overlap-a', [inline(), gcpTarget(), azureTarget()]);
    await create('overlap-b', [inline(), gcpTarget(), azureTarget()]);
    const a = await waitForPhase(cluster, ns, 'overlap-a', 'Active', 20_000);
    const b = await waitForPhase(cluster, ns, 'overlap-b', 'Active', 20_000);
    await api().patch(ns, 'overlap-a', { spec: { revoked: true } });
    await waitForPhase(cluster, ns, 'overlap-a', 'Revoked', 20_000);
    assert.deepEqual(await held(a), nothing);
    assert.deepEqual(await held(b), { kubernetes: 0, aws: 1, gcp: 1, azure: 1 });
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
    await create('shared-a', [attach, member, azureTarget('Reader', 'Assignment')]);
    await create('shared-b', [attach, member, azureTarget('Reader', 'Assignment')]);
    const a = await waitForPhase(cluster, ns, 'shared-a', 'Active', 20_000);
    await waitForPhase(cluster, ns, 'shared-b', 'Active', 20_000);
    assert.deepEqual(
      a.status!.targets!.map((t) => t.failSafe),
      [false, false, false],
      'AWS and Azure do not end these by itself',
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
    const assignments = () => arm.held(ALICE_OID).filter((h) => h.kind === 'assignment').length;
    assert.equal(assignments(), 1, 'one Azure role assignment, shared');

    await api().patch(ns, 'shared-a', { spec: { revoked: true } });
    await waitForPhase(cluster, ns, 'shared-a', 'Revoked', 20_000);
    assert.deepEqual(await attached(), [READ_ONLY], "a's end leaves b's access");
    assert.deepEqual(await groups(), ['oncall']);
    assert.equal(assignments(), 1, "a's end leaves b's Azure assignment");

    await api().patch(ns, 'shared-b', { spec: { revoked: true } });
    await waitForPhase(cluster, ns, 'shared-b', 'Revoked', 20_000);
    assert.deepEqual(await attached(), []);
    assert.deepEqual(await groups(), []);
    assert.equal(assignments(), 0);
  });

  it('restores cloud access removed by hand while the grant is active', async () => {
    await create('drift', [inline(), gcpTarget(), azureTarget()]);
    const g = await waitForPhase(cluster, ns, 'drift', 'Active', 20_000);
    const uid = g.metadata.uid!;
    await iam.send(
      new DeleteRolePolicyCommand({ RoleName: 'alice', PolicyName: `timebox-${uid}` }),
    );
    gcp.edit(PROJECT, (p) => ({
      ...p,
      bindings: (p.bindings ?? []).filter((b) => b.condition?.title !== `timebox-${uid}`),
    }));
    arm.removeByHand(ALICE_OID);
    assert.deepEqual(await held(g), nothing);
    await eventually(
      async () => {
        const h = await held(g);
        return h.aws === 1 && h.gcp === 1 && h.azure === 1;
      },
      { timeoutMs: 15_000, what: 'the resync to restore the AWS, GCP and Azure access' },
    );
    await api().patch(ns, 'drift', { spec: { revoked: true } });
    await waitForPhase(cluster, ns, 'drift', 'Revoked', 20_000);
    assert.deepEqual(await held(g), nothing);
  });

  it('rolls back the Kubernetes, AWS and Azure targets when the GCP target fails', async () => {
    await create('rollback', [k8s(), inline(), azureTarget(), gcpTarget('roles/nosuch.role')]);
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
        ['azure', 'Failed', 'rolled back'],
      ],
    );
    assert.deepEqual(await held(failed), nothing);
  });

  it('rolls back the other targets when the Azure target fails, saying why', async () => {
    await create('rollback-azure', [k8s(), gcpTarget(), azureTarget('Nosuch Role')]);
    const failed = await waitForPhase(cluster, ns, 'rollback-azure', 'Failed', 20_000);
    const ready = failed.status!.conditions!.find((c) => c.type === 'Ready')!;
    assert.equal(ready.reason, 'RoleNotFound');
    assert.match(ready.message, /no built-in role named 'Nosuch Role'/);
    assert.deepEqual(await held(failed), nothing);
  });

  it('converges through throttling and 5xx from AWS, GCP and Azure', async () => {
    proxy.failNext(2, AWS_THROTTLING);
    proxy.failNext(2, AWS_UNAVAILABLE);
    gcp.failNext(2, { httpStatus: 503, status: 'UNAVAILABLE' });
    gcp.failNext(3, { httpStatus: 429, status: 'RESOURCE_EXHAUSTED', method: 'setIamPolicy' });
    arm.failNext(2, { status: 429, code: 'TooManyRequests', retryAfter: 1 });
    arm.failNext(1, { status: 503, code: 'ServiceUnavailable', method: 'PUT' });
    const before = {
      aws: proxy.stats.injected,
      gcp: gcp.stats.injected,
      azure: arm.stats.injected,
    };
    await create('faults', all(), '1h');
    const active = await waitForPhase(cluster, ns, 'faults', 'Active', 60_000);
    assert.equal(proxy.stats.injected - before.aws, 4);
    assert.equal(gcp.stats.injected - before.gcp, 5);
    assert.equal(arm.stats.injected - before.azure, 3);
    assert.deepEqual(await held(active), { kubernetes: 1, aws: 1, gcp: 1, azure: 1 });
    await api().patch(ns, 'faults', { spec: { revoked: true } });
    await waitForPhase(cluster, ns, 'faults', 'Revoked', 20_000);
  });

  it('revokes, after a crash, the cloud access that expired while the operator was down', async () => {
    await create('crash', [...all(), azureTarget('Storage Blob Data Reader', 'Assignment')], '4s');
    const active = await waitForPhase(cluster, ns, 'crash', 'Active', 20_000);
    await operator.kill();
    const expiresAt = Date.parse(active.status!.expiresAt!);
    await new Promise((r) => setTimeout(r, Math.max(0, expiresAt - Date.now()) + 500));
    assert.deepEqual(
      await held(active),
      { kubernetes: 1, aws: 1, gcp: 1, azure: 1 },
      'nobody revoked it yet',
    );
    assert.deepEqual(
      arm.held(ALICE_OID).map((h) => [h.kind, h.role]),
      [['assignment', 'Storage Blob Data Reader']],
      'Azure ended the schedule by itself; the plain assignment waits for the operator',
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
      [
        {
          azure: {
            scope: '/subscriptions/acme/resourceGroups/x',
            role: 'Reader',
            principalId: ALICE_OID,
          },
        },
        /scope/,
      ],
      [
        { azure: { scope: `${RG}/../prod`, role: 'Reader', principalId: ALICE_OID } },
        /letters, digits, -, _, \., \( and \)/,
      ],
      [{ azure: { scope: RG, role: 'Reader*', principalId: ALICE_OID } }, /role/],
      [{ azure: { scope: RG, role: 'Reader', principalId: 'alice@example.com' } }, /principalId/],
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
    assert.deepEqual(arm.held(), []);
  });
});
