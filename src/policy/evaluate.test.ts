import assert from 'node:assert/strict';
import type { AccessApproval, AccessGrant, AccessPolicy } from '../api/v1alpha1/types.ts';
import { checkPolicy, evaluateRequest, globMatch, specHash } from './evaluate.ts';

const NOW = new Date('2026-11-25T09:00:00Z');

function policy(over: Partial<AccessPolicy['spec']> = {}): AccessPolicy {
  return {
    metadata: { name: 'payments-oncall' },
    spec: {
      requesters: { groups: ['payments-oncall'] },
      selfOnly: true,
      namespaces: ['payments'],
      access: [
        { kubernetes: { clusterRoles: ['view', 'edit'], namespaces: ['payments'] } },
        {
          aws: {
            principalArns: ['arn:aws:iam::111122223333:role/*'],
            policyArns: ['arn:aws:iam::aws:policy/ReadOnlyAccess'],
          },
        },
        { gcp: { resources: ['projects/acme-prod'], roles: ['roles/cloudsql.viewer'] } },
      ],
      maxDuration: '4h',
      requireReason: true,
      approval: {
        mode: 'Manual',
        approvers: { users: ['bob'], groups: ['payments-leads'] },
        required: 1,
        pendingTimeout: '24h',
      },
      ...over,
    },
  };
}

function grant(
  over: Partial<AccessGrant['spec']> = {},
  annotations: Record<string, string> = {},
): AccessGrant {
  return {
    metadata: {
      name: 'alice-debug',
      namespace: 'payments',
      uid: 'uid-1',
      creationTimestamp: '2026-11-25T08:00:00Z' as unknown as Date,
      annotations: {
        'timebox.dev/requested-by': 'alice',
        'timebox.dev/requester-groups': 'payments-oncall',
        ...annotations,
      },
    },
    spec: {
      subject: { kind: 'User', name: 'alice' },
      policy: 'payments-oncall',
      duration: '2h',
      reason: 'INC-4211',
      access: [{ kubernetes: { clusterRole: 'edit', namespaces: ['payments'] } }],
      ...over,
    },
  };
}

function approval(
  approver: string,
  g: AccessGrant,
  over: Partial<AccessApproval['spec']> = {},
): AccessApproval {
  return {
    metadata: {
      name: `${approver}-ok`,
      namespace: 'payments',
      creationTimestamp: '2026-11-25T08:30:00Z' as unknown as Date,
    },
    spec: {
      grantRef: { name: g.metadata.name!, uid: g.metadata.uid!, specHash: specHash(g.spec) },
      decision: 'Approve',
      approver,
      ...over,
    },
  };
}

describe('policy evaluation', () => {
  const denials: [string, AccessGrant, AccessPolicy | undefined, string, RegExp][] = [
    [
      'a requester outside the policy',
      grant({}, { 'timebox.dev/requester-groups': 'marketing' }),
      policy(),
      'NotEligible',
      /alice \(groups marketing\) is not a requester of AccessPolicy 'payments-oncall'/,
    ],
    [
      'a subject other than the requester under selfOnly',
      grant({ subject: { kind: 'User', name: 'carol' } }),
      policy(),
      'NotSelf',
      /subject must be the requester/,
    ],
    [
      'a grant in a namespace the policy does not cover',
      { ...grant(), metadata: { ...grant().metadata, namespace: 'billing' } },
      policy(),
      'NamespaceNotAllowed',
      /only in namespaces \[payments\], not 'billing'/,
    ],
    [
      'a role outside the allow-list',
      grant({ access: [{ kubernetes: { clusterRole: 'admin', namespaces: ['payments'] } }] }),
      policy(),
      'AccessNotAllowed',
      /spec\.access\[0\] \(kubernetes clusterRole admin in payments\)/,
    ],
    [
      'a namespace outside the allow-list',
      grant({
        access: [{ kubernetes: { clusterRole: 'view', namespaces: ['payments', 'kube-system'] } }],
      }),
      policy(),
      'AccessNotAllowed',
      /kube-system/,
    ],
    [
      'cluster-wide access the policy does not allow',
      grant({ access: [{ kubernetes: { clusterRole: 'view', clusterWide: true } }] }),
      policy(),
      'AccessNotAllowed',
      /cluster-wide/,
    ],
    [
      'an AWS principal outside the patterns',
      grant({
        access: [
          {
            aws: {
              principalArn: 'arn:aws:iam::999999999999:role/x',
              policyArn: 'arn:aws:iam::aws:policy/ReadOnlyAccess',
            },
          },
        ],
      }),
      policy(),
      'AccessNotAllowed',
      /spec\.access\[0\] \(aws/,
    ],
    [
      'an AWS mode that is not fail-safe, which the policy does not allow',
      grant({
        access: [
          {
            aws: {
              principalArn: 'arn:aws:iam::111122223333:role/alice',
              policyArn: 'arn:aws:iam::aws:policy/ReadOnlyAccess',
              mode: 'AttachPolicy',
            },
          },
        ],
      }),
      policy(),
      'AccessNotAllowed',
      /aws arn:aws:iam::aws:policy\/ReadOnlyAccess for .*\(AttachPolicy\)/,
    ],
    [
      'an AWS group the policy does not list',
      grant({
        access: [
          {
            aws: {
              principalArn: 'arn:aws:iam::111122223333:user/alice',
              groupArn: 'arn:aws:iam::111122223333:group/admins',
              mode: 'GroupMembership',
            },
          },
        ],
      }),
      policy({
        access: [
          {
            aws: {
              principalArns: ['arn:aws:iam::111122223333:user/*'],
              groupArns: ['arn:aws:iam::111122223333:group/oncall'],
              modes: ['GroupMembership'],
            },
          },
        ],
      }),
      'AccessNotAllowed',
      /group arn:aws:iam::111122223333:group\/admins/,
    ],
    [
      'a GCP role outside the allow-list',
      grant({
        access: [
          {
            gcp: {
              resource: 'projects/acme-prod',
              role: 'roles/owner',
              member: 'user:alice',
            },
          },
        ],
      }),
      policy(),
      'AccessNotAllowed',
      /roles\/owner/,
    ],
    [
      'a GCP member other than the requester under a selfOnly policy',
      grant({
        access: [
          {
            gcp: {
              resource: 'projects/acme-prod',
              role: 'roles/cloudsql.viewer',
              member: 'group:payments-oncall@example.com',
            },
          },
        ],
      }),
      policy(),
      'NotSelf',
      /spec\.access\[0\]\.gcp\.member must be user:alice, not group:payments-oncall@example\.com/,
    ],
    [
      'a duration over maxDuration',
      grant({ duration: '6h' }),
      policy(),
      'DurationTooLong',
      /duration 6h exceeds the maxDuration 4h .* request at most 4h/,
    ],
    [
      'a missing reason when one is required',
      grant({ reason: ' ' }),
      policy(),
      'ReasonRequired',
      /requires spec\.reason/,
    ],
    [
      'a grant nobody vouches for',
      { ...grant(), metadata: { ...grant().metadata, annotations: {} } },
      policy(),
      'RequesterUnknown',
      /config\/admission/,
    ],
  ];
  for (const [what, g, p, reason, message] of denials) {
    it(`denies ${what}`, () => {
      const d = evaluateRequest(g, p, [], NOW);
      assert.equal(d.verdict, 'Denied');
      assert.equal(d.reason, reason);
      assert.match(d.message, message);
    });
  }

  it('waits for a policy that does not exist yet', () => {
    const d = evaluateRequest(grant(), undefined, [], NOW);
    assert.deepEqual([d.verdict, d.reason], ['Pending', 'PolicyNotFound']);
  });

  it('approves at once under an Auto policy', () => {
    const d = evaluateRequest(grant(), policy({ approval: { mode: 'Auto' } }), [], NOW);
    assert.deepEqual([d.verdict, d.reason], ['Approved', 'AutoApproved']);
  });

  it('allows the AWS modes that are not fail-safe only where the policy lists them', () => {
    const g = grant({
      access: [
        {
          aws: {
            principalArn: 'arn:aws:iam::111122223333:user/alice',
            groupArn: 'arn:aws:iam::111122223333:group/oncall',
            mode: 'GroupMembership',
          },
        },
      ],
    });
    const allow = (modes?: ('InlinePolicy' | 'GroupMembership')[]) =>
      policy({
        approval: { mode: 'Auto' },
        access: [
          {
            aws: {
              principalArns: ['arn:aws:iam::111122223333:user/*'],
              groupArns: ['arn:aws:iam::111122223333:group/*'],
              ...(modes ? { modes } : {}),
            },
          },
        ],
      });
    assert.equal(evaluateRequest(g, allow(['GroupMembership']), [], NOW).verdict, 'Approved');
    assert.equal(evaluateRequest(g, allow(), [], NOW).verdict, 'Denied');
    assert.equal(evaluateRequest(g, allow(['InlinePolicy']), [], NOW).verdict, 'Denied');
  });

  it('waits for approval under a Manual policy, with a timer for the pending timeout', () => {
    const d = evaluateRequest(grant(), policy(), [], NOW);
    assert.deepEqual([d.verdict, d.reason], ['Pending', 'AwaitingApproval']);
    assert.match(d.message, /0 of 1 approval/);
    assert.equal(d.recheckAfterMs, 23 * 3600 * 1000);
  });

  it('approves with one approval from an eligible approver', () => {
    const g = grant();
    const d = evaluateRequest(g, policy(), [approval('bob', g)], NOW);
    assert.deepEqual([d.verdict, d.reason, d.message], ['Approved', 'Approved', 'approved by bob']);
    assert.deepEqual(
      d.approvals.map((a) => a.approver),
      ['bob'],
    );
  });

  it('never counts the requester, the subject, or someone who is not an approver', () => {
    const g = grant();
    const d = evaluateRequest(
      g,
      policy({ approval: { mode: 'Manual', approvers: { users: ['alice', 'bob'] }, required: 1 } }),
      [approval('alice', g), approval('mallory', g)],
      NOW,
    );
    assert.equal(d.verdict, 'Pending');
    assert.match(d.message, /2 approval\(s\) from people who may not approve this grant ignored/);
  });

  it('counts distinct approvers for N-of-M', () => {
    const g = grant();
    const p = policy({
      approval: { mode: 'Manual', approvers: { groups: ['payments-leads'] }, required: 2 },
    });
    const lead = (who: string) => approval(who, g, { approverGroups: ['payments-leads'] });
    const once = evaluateRequest(
      g,
      p,
      [lead('bob'), { ...lead('bob'), metadata: { name: 'bob-again' } }],
      NOW,
    );
    assert.equal(once.verdict, 'Pending');
    assert.match(once.message, /1 of 2/);
    const twice = evaluateRequest(g, p, [lead('bob'), lead('carol')], NOW);
    assert.deepEqual([twice.verdict, twice.message], ['Approved', 'approved by bob, carol']);
  });

  it('ignores approvals of an earlier spec or of another grant with the same name', () => {
    const g = grant();
    const old = approval('bob', grant({ duration: '1h' }));
    const other = approval('bob', g, {
      grantRef: { name: 'alice-debug', uid: 'uid-0', specHash: specHash(g.spec) },
    });
    const d = evaluateRequest(g, policy(), [old, other], NOW);
    assert.equal(d.verdict, 'Pending');
    assert.match(d.message, /1 approval\(s\) for an earlier version of the spec ignored/);
  });

  it('is denied by a Deny from an eligible approver', () => {
    const g = grant();
    const d = evaluateRequest(
      g,
      policy(),
      [approval('bob', g, { decision: 'Deny', comment: 'not during the freeze' })],
      NOW,
    );
    assert.deepEqual(
      [d.verdict, d.reason, d.message],
      ['Denied', 'DeniedByApprover', 'denied by bob: not during the freeze'],
    );
  });

  it('is denied once the pending timeout passes', () => {
    const d = evaluateRequest(grant(), policy(), [], new Date('2026-11-26T08:00:00Z'));
    assert.deepEqual([d.verdict, d.reason], ['Denied', 'PendingTimeout']);
  });

  it('takes a grant from a trusted GitOps identity as reviewed, for anyone the policy allows', () => {
    const g = grant(
      { subject: { kind: 'User', name: 'carol' } },
      {
        'timebox.dev/requested-by': 'pr-author',
        'timebox.dev/requester-groups': '',
        'timebox.dev/gitops': 'true',
      },
    );
    const d = evaluateRequest(g, policy(), [], NOW);
    assert.deepEqual([d.verdict, d.reason], ['Approved', 'ApprovedByReview']);
    // The allow-list still binds GitOps.
    const wide = { ...g, spec: { ...g.spec, duration: '8h' } };
    assert.equal(evaluateRequest(wide, policy(), [], NOW).reason, 'DurationTooLong');
  });

  it('re-checks an active grant against an edited policy', () => {
    assert.equal(checkPolicy(grant(), policy()), undefined);
    assert.equal(checkPolicy(grant(), policy({ maxDuration: '1h' }))?.reason, 'DurationTooLong');
    assert.equal(
      checkPolicy(grant(), policy({ requesters: { users: ['bob'] } }))?.reason,
      'NotEligible',
    );
  });

  it('hashes the spec canonically and ignores revoked', () => {
    const g = grant();
    const reordered = { ...g.spec, reason: g.spec.reason, duration: g.spec.duration };
    assert.equal(specHash(reordered), specHash(g.spec));
    assert.equal(specHash({ ...g.spec, revoked: true }), specHash(g.spec));
    assert.notEqual(specHash({ ...g.spec, duration: '3h' }), specHash(g.spec));
  });

  it('matches globs literally except for *', () => {
    assert.ok(globMatch('arn:aws:iam::1111:role/*', 'arn:aws:iam::1111:role/a/b'));
    assert.ok(!globMatch('arn:aws:iam::1111:role/*', 'arn:aws:iam::2222:role/a'));
    assert.ok(!globMatch('roles/cloudsql.viewer', 'roles/cloudsqlXviewer'));
  });
});
