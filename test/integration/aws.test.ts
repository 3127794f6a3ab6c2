import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CreateRoleCommand, GetRolePolicyCommand, IAMClient } from '@aws-sdk/client-iam';
import { runSimulation } from '@cloud-copilot/iam-simulate';
import { desiredAwsArtefacts } from '../../src/providers/aws/artefacts.ts';
import { AwsProvider, iamPort } from '../../src/providers/aws/driver.ts';
import { TerminalError } from '../../src/providers/provider.ts';
import { activeGrant } from '../../src/providers/fixtures.ts';
import { startMoto } from '../support/moto.ts';

const ROLE = 'arn:aws:iam::123456789012:role/alice';
const EXPIRES = '2026-11-25T11:00:00.000Z';

const grant = (uid: string, policyArn = 'arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess') =>
  activeGrant(uid, [{ aws: { principalArn: ROLE, policyArn } }], EXPIRES);

describe('AWS provider against moto, with the real AWS SDK', function () {
  this.timeout(120_000);
  let moto: Awaited<ReturnType<typeof startMoto>>;
  let work: string;
  let provider: AwsProvider;
  let iam: IAMClient;

  before(async function () {
    this.timeout(10 * 60_000);
    work = mkdtempSync(join(tmpdir(), 'timebox-aws-'));
    moto = await startMoto(work);
    const config = {
      endpoint: moto.endpoint,
      region: 'us-east-1',
      credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' },
    };
    iam = new IAMClient(config);
    provider = new AwsProvider(iamPort(config));
    await iam.send(
      new CreateRoleCommand({
        RoleName: 'alice',
        AssumeRolePolicyDocument: JSON.stringify({
          Version: '2012-10-17',
          Statement: [
            {
              Effect: 'Allow',
              Principal: { Service: 'ec2.amazonaws.com' },
              Action: 'sts:AssumeRole',
            },
          ],
        }),
      }),
    );
  });
  after(async () => {
    await moto?.stop();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it('grants an inline policy named after the grant that AWS itself ends at expiresAt', async () => {
    const g = grant('uid-1');
    const [want] = desiredAwsArtefacts(g, EXPIRES);
    await provider.grant(g, want!);
    const out = await iam.send(
      new GetRolePolicyCommand({ RoleName: 'alice', PolicyName: 'timebox-uid-1' }),
    );
    const doc = JSON.parse(decodeURIComponent(out.PolicyDocument!)) as { Statement: unknown[] };
    assert.ok(doc.Statement.length > 0);
    assert.deepEqual(await provider.observe(g), [want]);

    // The oracle: the very document stored in IAM allows a read before expiry, and nothing after.
    const verdict = async (now: string) => {
      const r = await runSimulation(
        {
          request: {
            principal: ROLE,
            action: 's3:GetObject',
            resource: { resource: 'arn:aws:s3:::exports/report.csv', accountId: '123456789012' },
            contextVariables: { 'aws:CurrentTime': now },
          },
          identityPolicies: [{ name: 'timebox-uid-1', policy: doc }],
          serviceControlPolicies: [],
          resourceControlPolicies: [],
        },
        {},
      );
      return (r as { overallResult?: string }).overallResult;
    };
    assert.equal(await verdict('2026-11-25T10:59:59Z'), 'Allowed');
    assert.equal(await verdict('2026-11-25T11:00:01Z'), 'ImplicitlyDenied');
  });

  it('keeps overlapping grants for the same principal apart, and revokes idempotently', async () => {
    const a = grant('uid-a');
    const b = grant('uid-b');
    await provider.grant(a, desiredAwsArtefacts(a, EXPIRES)[0]!);
    await provider.grant(b, desiredAwsArtefacts(b, EXPIRES)[0]!);
    await provider.revoke(a, desiredAwsArtefacts(a, EXPIRES)[0]!);
    await provider.revoke(a, desiredAwsArtefacts(a, EXPIRES)[0]!);
    assert.deepEqual(await provider.observe(a), []);
    assert.equal((await provider.observe(b)).length, 1, "the other grant's policy is intact");
  });

  it('refuses, granting nothing, a managed policy too large for a fail-safe inline copy', async () => {
    const g = grant('uid-big', 'arn:aws:iam::aws:policy/ReadOnlyAccess');
    const want = desiredAwsArtefacts(g, EXPIRES)[0]!;
    await assert.rejects(
      provider.grant(g, want),
      (e: unknown) =>
        e instanceof TerminalError &&
        e.reason === 'PolicyTooLarge' &&
        /ReadOnlyAccess is \d+ characters .* at most 10240/.test(e.message),
    );
    assert.deepEqual(await provider.observe(g), []);
  });

  it('refuses a policy that does not exist, or a principal that is not a role or user', async () => {
    const missing = grant('uid-x', 'arn:aws:iam::aws:policy/NoSuchPolicy');
    await assert.rejects(
      provider.grant(missing, desiredAwsArtefacts(missing, EXPIRES)[0]!),
      /NoSuchPolicy|not found|does not exist/i,
    );
    const bad = grant('uid-y');
    bad.spec.access = [
      {
        aws: {
          principalArn: 'arn:aws:iam::123456789012:group/ops',
          policyArn: 'arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess',
        },
      },
    ];
    await assert.rejects(
      provider.grant(bad, desiredAwsArtefacts(bad, EXPIRES)[0]!),
      (e: unknown) => e instanceof TerminalError && /not an IAM role or user ARN/.test(e.message),
    );
  });
});
