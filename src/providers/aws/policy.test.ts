import assert from 'node:assert/strict';
import { runSimulation } from '@cloud-copilot/iam-simulate';
import { boundedPolicy, inlinePolicyName, type PolicyDocument } from './policy.ts';

const managed: PolicyDocument = {
  Version: '2012-10-17',
  Statement: [
    { Sid: 'Read', Effect: 'Allow', Action: ['s3:GetObject', 's3:ListBucket'], Resource: '*' },
    {
      Effect: 'Allow',
      Action: 'cloudsql:*',
      Resource: '*',
      Condition: { Bool: { 'aws:SecureTransport': 'true' } },
    },
  ],
};
const EXPIRES = '2026-11-25T11:00:00.000Z';

/** Asks an independent IAM policy simulator whether the bounded policy allows a read at `now`. */
async function decision(now: string): Promise<string> {
  const result = await runSimulation(
    {
      request: {
        principal: 'arn:aws:iam::111122223333:role/alice',
        action: 's3:GetObject',
        resource: {
          resource: 'arn:aws:s3:::payments-exports/report.csv',
          accountId: '111122223333',
        },
        contextVariables: { 'aws:CurrentTime': now },
      },
      identityPolicies: [
        { name: inlinePolicyName('uid-1'), policy: boundedPolicy(managed, EXPIRES) },
      ],
      serviceControlPolicies: [],
      resourceControlPolicies: [],
    },
    {},
  );
  assert.notEqual(result.resultType, 'error', JSON.stringify(result));
  return (result as { overallResult: string }).overallResult;
}

describe('AWS inline policy with fail-safe expiry', () => {
  it('bounds every statement with DateLessThan aws:CurrentTime, keeping existing conditions', () => {
    const doc = boundedPolicy(managed, EXPIRES);
    const statements = doc.Statement as { Condition: Record<string, Record<string, string>> }[];
    assert.deepEqual(
      statements.map((s) => s.Condition.DateLessThan),
      [
        { 'aws:CurrentTime': '2026-11-25T11:00:00Z' },
        { 'aws:CurrentTime': '2026-11-25T11:00:00Z' },
      ],
    );
    assert.deepEqual(statements[1]!.Condition.Bool, { 'aws:SecureTransport': 'true' });
  });

  it('is allowed before expiresAt and denied after, by an independent simulator', async () => {
    assert.equal(await decision('2026-11-25T10:59:59Z'), 'Allowed');
    assert.equal(await decision('2026-11-25T11:00:00Z'), 'ImplicitlyDenied');
    assert.equal(await decision('2026-11-26T09:00:00Z'), 'ImplicitlyDenied');
  });
});
