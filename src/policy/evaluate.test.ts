import assert from 'node:assert/strict';
import { aGrant, anApproval, aPolicy } from '../api/v1alpha1/testing.ts';
import type { AccessApproval, AccessGrant, AccessPolicy } from '../api/v1alpha1/types.ts';
import {
  AT_REQUEST,
  checkPolicy,
  evaluateRequest,
  globMatch,
  ineligibleApprover,
  requesterOf,
  sameSpec,
  specHash,
  templateMatch,
  WHILE_ACTIVE,
} from './evaluate.ts';

const NOW = new Date('2026-11-25T09:00:00Z');

/**
 * The policy most cases judge by: aPolicy() with approvers and every provider;
 * `over` replaces whole fields of its spec.
 */
function policy(over: Partial<AccessPolicy['spec']> = {}): AccessPolicy {
  const p = aPolicy({
    spec: {
      access: [
        { kubernetes: { clusterRoles: ['view', 'edit'], namespaces: ['payments'] } },
        {
          aws: {
            principalArns: ['arn:aws:iam::111122223333:role/*'],
            selfPrincipalArns: ['arn:aws:iam::111122223333:role/{user}'],
            policyArns: ['arn:aws:iam::aws:policy/ReadOnlyAccess'],
          },
        },
        { gcp: { resources: ['projects/acme-prod'], roles: ['roles/cloudsql.viewer'] } },
      ],
      requireReason: true,
      approval: {
        mode: 'Manual',
        approvers: { users: ['bob'], groups: ['payments-leads'] },
        required: 1,
        pendingTimeout: '24h',
      },
    },
  });
  return { ...p, spec: { ...p.spec, ...over } };
}

/**
 * alice's request for ClusterRole edit for 2h, as admission stamped it;
 * `over` replaces spec fields.
 */
function grant(
  over: Partial<AccessGrant['spec']> = {},
  annotations: Record<string, string> = {},
): AccessGrant {
  return aGrant({
    metadata: {
      creationTimestamp: '2026-11-25T08:00:00Z' as unknown as Date,
      annotations: {
        'timebox.dev/requested-by': 'alice',
        'timebox.dev/requester-groups': 'payments-oncall',
        ...annotations,
      },
    },
    spec: {
      subject: { kind: 'User', name: 'alice' },
      duration: '2h',
      reason: 'INC-4211',
      access: [{ kubernetes: { clusterRole: 'edit', namespaces: ['payments'] } }],
      ...over,
    },
  });
}

/** `approver` approving `g` as it is; `over` replaces spec fields. */
function approval(
  approver: string,
  g: AccessGrant,
  over: Partial<AccessApproval['spec']> = {},
): AccessApproval {
  const a = anApproval({
    metadata: {
      name: `${approver}-ok`,
      creationTimestamp: '2026-11-25T08:30:00Z' as unknown as Date,
    },
    spec: {
      grantRef: { name: g.metadata.name!, uid: g.metadata.uid!, specHash: specHash(g.spec) },
      approver,
    },
  });
  return { ...a, spec: { ...a.spec, ...over } };
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
      /spec\.access\[0\] \(kubernetes: ClusterRole admin in namespaces payments\)/,
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
      /CLUSTER-WIDE/,
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
      /aws: policy arn:aws:iam::aws:policy\/ReadOnlyAccess for .*\(mode AttachPolicy\)/,
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
              selfPrincipalArns: ['arn:aws:iam::111122223333:user/{user}'],
              groupArns: ['arn:aws:iam::111122223333:group/oncall'],
              modes: ['GroupMembership'],
            },
          },
        ],
      }),
      'AccessNotAllowed',
      /membership of arn:aws:iam::111122223333:group\/admins/,
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
              selfPrincipalArns: ['arn:aws:iam::111122223333:user/{user}'],
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
    assert.deepEqual(
      [d.verdict, d.reason, d.message],
      ['Approved', 'Approved', `approved by bob for spec sha256:${specHash(g.spec)}`],
    );
    assert.equal(d.approvals[0]?.specHash, specHash(g.spec), 'the record names the hash approved');
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
    assert.match(d.message, /not counted: alice asked for it/);
    assert.match(d.message, /1 approval\(s\) from people who may not approve this grant ignored/);
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
    assert.deepEqual(
      [twice.verdict, twice.message],
      ['Approved', `approved by bob, carol for spec sha256:${specHash(g.spec)}`],
    );
  });

  it('ignores approvals of an earlier spec or of another grant with the same name', () => {
    const g = grant();
    const old = approval('bob', grant({ duration: '1h' }));
    const other = approval('bob', g, {
      grantRef: { name: 'alice-debug', uid: 'uid-0', specHash: specHash(g.spec) },
    });
    const d = evaluateRequest(g, policy(), [old, other], NOW);
    assert.equal(d.verdict, 'Pending');
    assert.match(d.message, /1 approval\(s\) of another version of the spec ignored/);
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

  describe('GitOps grants', () => {
    const viaGit = (
      over: Partial<AccessGrant['spec']> = {},
      requester = 'alice',
      groups = 'payments-oncall',
    ) =>
      grant(
        { subject: { kind: 'User', name: requester }, ...over },
        {
          'timebox.dev/requested-by': requester,
          'timebox.dev/requester-groups': groups,
          'timebox.dev/gitops': 'true',
          'timebox.dev/created-by': 'system:serviceaccount:argocd:argocd-application-controller',
        },
      );
    const byName = { users: ['alice'] };
    const reviewed = policy({
      requesters: byName,
      gitops: { allowed: true, reviewApproves: true },
    });

    it('are refused unless the policy opts in', () => {
      const d = evaluateRequest(viaGit(), policy(), [], NOW);
      assert.deepEqual([d.verdict, d.reason], ['Denied', 'GitOpsNotAllowed']);
      assert.match(d.message, /set gitops.allowed: true/);
    });

    it('take the reviewed change as the approval only where the policy says so', () => {
      const d = evaluateRequest(viaGit(), reviewed, [], NOW);
      assert.deepEqual([d.verdict, d.reason], ['Approved', 'ApprovedByReview']);
      const needsApproval = policy({ requesters: byName, gitops: { allowed: true } });
      assert.deepEqual(
        evaluateRequest(viaGit(), needsApproval, [], NOW).reason,
        'AwaitingApproval',
      );
    });

    it('are GitOps grants even unmarked, and their claimed groups count for nothing', () => {
      // A GitOps identity creates a grant for alice without the gitops mark, and
      // claims a group for her: still judged as GitOps, the group ignored.
      const unmarked = grant(
        {},
        {
          'timebox.dev/requested-by': 'alice',
          'timebox.dev/requester-groups': 'payments-oncall',
          'timebox.dev/created-by': 'system:serviceaccount:argocd:argocd-application-controller',
        },
      );
      assert.equal(
        evaluateRequest(unmarked, policy({ approval: { mode: 'Auto' } }), [], NOW).reason,
        'GitOpsNotAllowed',
      );
      const byGroup = policy({ gitops: { allowed: true, reviewApproves: true } });
      const d = evaluateRequest(unmarked, byGroup, [], NOW);
      assert.equal(d.reason, 'NotEligible');
      assert.match(d.message, /list the requester in requesters.users/);
    });

    it('still need an eligible requester, and selfOnly applies to them', () => {
      const ceo = viaGit({}, 'ceo', '');
      assert.equal(evaluateRequest(ceo, reviewed, [], NOW).reason, 'NotEligible');
      const forCarol = viaGit({ subject: { kind: 'User', name: 'carol' } });
      assert.equal(evaluateRequest(forCarol, reviewed, [], NOW).reason, 'NotSelf');
      // The allow-list still binds GitOps.
      assert.equal(
        evaluateRequest(viaGit({ duration: '8h' }), reviewed, [], NOW).reason,
        'DurationTooLong',
      );
    });

    it('come only from the identities the policy names', () => {
      const flux = policy({
        requesters: byName,
        gitops: {
          allowed: true,
          reviewApproves: true,
          identities: ['system:serviceaccount:flux-system:*'],
        },
      });
      const d = evaluateRequest(viaGit(), flux, [], NOW);
      assert.deepEqual([d.verdict, d.reason], ['Denied', 'GitOpsIdentityNotTrusted']);
      assert.match(
        d.message,
        /not from system:serviceaccount:argocd:argocd-application-controller/,
      );
      const argo = policy({
        requesters: byName,
        gitops: {
          allowed: true,
          reviewApproves: true,
          identities: ['system:serviceaccount:argocd:*'],
        },
      });
      assert.equal(evaluateRequest(viaGit(), argo, [], NOW).verdict, 'Approved');
    });
  });

  describe('subjects are bounded', () => {
    const open = (over: Partial<AccessPolicy['spec']> = {}) => policy({ selfOnly: false, ...over });
    const auto = { mode: 'Auto' as const };

    it('never a system: user or group', () => {
      for (const subject of [
        { kind: 'Group' as const, name: 'system:authenticated' },
        { kind: 'Group' as const, name: 'system:masters' },
        { kind: 'User' as const, name: 'system:serviceaccount:kube-system:default' },
      ]) {
        const d = checkPolicy(
          grant({ subject }),
          open({ subjects: { users: ['*'], groups: ['*'] } }),
        );
        assert.equal(d?.reason, 'SubjectNotAllowed', subject.name);
      }
    });

    it('only the requester when the policy lists no subjects, even without selfOnly', () => {
      assert.equal(checkPolicy(grant(), open({ approval: auto })), undefined);
      const d = checkPolicy(grant({ subject: { kind: 'User', name: 'carol' } }), open());
      assert.equal(d?.reason, 'SubjectNotAllowed');
      assert.match(d?.message ?? '', /only the requester \(it lists no subjects\)/);
    });

    it('whoever subjects lists, with service accounts only in the policy namespaces', () => {
      const p = open({
        namespaces: ['payments'],
        subjects: {
          users: ['*@example.com'],
          groups: ['payments-oncall'],
          serviceAccounts: ['*/deployer'],
        },
      });
      const ok = (subject: AccessGrant['spec']['subject']) => checkPolicy(grant({ subject }), p);
      assert.equal(ok({ kind: 'User', name: 'carol@example.com' }), undefined);
      assert.equal(ok({ kind: 'User', name: 'carol@evil.com' })?.reason, 'SubjectNotAllowed');
      assert.equal(ok({ kind: 'Group', name: 'payments-oncall' }), undefined);
      assert.equal(ok({ kind: 'Group', name: 'payments-leads' })?.reason, 'SubjectNotAllowed');
      assert.equal(
        ok({ kind: 'ServiceAccount', namespace: 'payments', name: 'deployer' }),
        undefined,
      );
      const outside = ok({ kind: 'ServiceAccount', namespace: 'kube-system', name: 'deployer' });
      assert.equal(outside?.reason, 'SubjectNotAllowed');
      assert.match(outside?.message ?? '', /outside the namespaces/);
    });

    it('a policy without namespaces allows none', () => {
      const p = policy();
      delete (p.spec as Partial<AccessPolicy['spec']>).namespaces;
      const d = checkPolicy(grant(), p);
      assert.equal(d?.reason, 'NamespaceNotAllowed');
      assert.match(d?.message ?? '', /states no namespaces, so it allows none/);
      assert.equal(checkPolicy(grant(), policy({ namespaces: ['*'] })), undefined);
    });
  });

  describe('selfOnly covers the clouds', () => {
    const aws = (principalArn: string) =>
      grant({
        access: [{ aws: { principalArn, policyArn: 'arn:aws:iam::aws:policy/ReadOnlyAccess' } }],
      });

    it("allows only the requester's own AWS principal, from the policy's template", () => {
      assert.equal(checkPolicy(aws('arn:aws:iam::111122223333:role/alice'), policy()), undefined);
      // Another user's role matches principalArns, but is not alice's own.
      const d = checkPolicy(aws('arn:aws:iam::111122223333:role/bob'), policy());
      assert.equal(d?.reason, 'AccessNotAllowed');
      // Without selfOnly the principalArns patterns apply.
      assert.equal(
        checkPolicy(aws('arn:aws:iam::111122223333:role/bob'), policy({ selfOnly: false })),
        undefined,
      );
    });

    it('takes the user name in a template literally', () => {
      const tpl = 'arn:aws:iam::111122223333:role/{user}';
      assert.ok(templateMatch(tpl, 'alice', 'arn:aws:iam::111122223333:role/alice'));
      assert.ok(!templateMatch(tpl, '*', 'arn:aws:iam::111122223333:role/admin'));
      assert.ok(!templateMatch(tpl, 'a.c', 'arn:aws:iam::111122223333:role/abc'));
      const local = 'arn:aws:iam::111122223333:role/data-eng-{localPart}';
      assert.ok(
        templateMatch(local, 'carol@example.com', 'arn:aws:iam::111122223333:role/data-eng-carol'),
      );
      assert.ok(
        templateMatch('arn:aws:iam::*:role/{user}', 'bob', 'arn:aws:iam::444455556666:role/bob'),
      );
    });

    it("allows only the requester's own GCP member unless the entry lists members", () => {
      const gcp = (member: string) =>
        grant({
          access: [
            { gcp: { resource: 'projects/acme-prod', role: 'roles/cloudsql.viewer', member } },
          ],
        });
      const open = policy({ selfOnly: false });
      assert.equal(checkPolicy(gcp('user:alice'), open), undefined);
      assert.equal(checkPolicy(gcp('group:sre@example.com'), open)?.reason, 'AccessNotAllowed');
      const listed = policy({
        selfOnly: false,
        access: [
          {
            gcp: {
              resources: ['projects/*'],
              roles: ['roles/*'],
              members: ['group:*@example.com'],
            },
          },
        ],
      });
      assert.equal(checkPolicy(gcp('group:sre@example.com'), listed), undefined);
    });
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

  it('hashes the spec with the full SHA-256, and still knows legacy 16-digit hashes', () => {
    const g = grant();
    assert.match(specHash(g.spec), /^[0-9a-f]{64}$/);
    assert.ok(sameSpec(specHash(g.spec), g.spec));
    assert.ok(sameSpec(specHash(g.spec).slice(0, 16), g.spec));
    assert.ok(!sameSpec(specHash(g.spec).slice(0, 20), g.spec));
    assert.ok(!sameSpec(specHash({ ...g.spec, duration: '3h' }), g.spec));
  });

  describe('nobody approves access they would receive', () => {
    const leads = policy({
      selfOnly: false,
      subjects: { groups: ['payments-*'] },
      approval: { mode: 'Manual', approvers: { groups: ['payments-leads'] }, required: 1 },
    });
    const lead = (who: string, g: AccessGrant, groups = ['payments-leads']) =>
      approval(who, g, { approverGroups: groups });

    it('does not count a member of the subject group, and says why', () => {
      const g = grant({ subject: { kind: 'Group', name: 'payments-leads' } });
      const d = evaluateRequest(g, leads, [lead('bob', g)], NOW);
      assert.equal(d.verdict, 'Pending');
      assert.match(d.message, /not counted: bob is in the subject group payments-leads/);
      // Someone outside the subject group still counts.
      const other = grant({ subject: { kind: 'Group', name: 'payments-oncall' } });
      assert.equal(evaluateRequest(other, leads, [lead('bob', other)], NOW).verdict, 'Approved');
    });

    it('does not count an approval from Slack for a group, whose members cannot be told there', () => {
      const g = grant({ subject: { kind: 'Group', name: 'payments-oncall' } });
      const fromSlack = approval('bob', g, {
        approverGroups: ['payments-leads'],
        via: 'slack',
        slackUserId: 'U0BOB',
      });
      const d = evaluateRequest(g, leads, [fromSlack], NOW);
      assert.equal(d.verdict, 'Pending');
      assert.match(d.message, /not counted: bob approved in Slack/);
      const user = grant();
      const forUser = approval('bob', user, {
        approverGroups: ['payments-leads'],
        via: 'slack',
        slackUserId: 'U0BOB',
      });
      assert.equal(evaluateRequest(user, leads, [forUser], NOW).verdict, 'Approved');
    });

    it('counts nobody for a system: group, whose members cannot be told', () => {
      // Such a subject is refused outright (admission and policy); the approver
      // check holds on its own too.
      const g = grant({ subject: { kind: 'Group', name: 'system:authenticated' } });
      assert.equal(evaluateRequest(g, leads, [lead('bob', g)], NOW).reason, 'SubjectNotAllowed');
      assert.equal(
        ineligibleApprover(lead('bob', g), g, requesterOf(g)!),
        'bob may be in the subject group system:authenticated',
      );
    });

    it('does not count the subject service account', () => {
      const g = grant({ subject: { kind: 'ServiceAccount', namespace: 'ci', name: 'deployer' } });
      const sa = 'system:serviceaccount:ci:deployer';
      const p = policy({
        selfOnly: false,
        namespaces: ['payments', 'ci'],
        subjects: { serviceAccounts: ['ci/*'] },
        approval: { mode: 'Manual', approvers: { users: [sa] }, required: 1 },
      });
      const d = evaluateRequest(g, p, [approval(sa, g)], NOW);
      assert.equal(d.verdict, 'Pending');
      assert.match(d.message, /is the subject service account/);
    });
  });

  describe('revocation by an approver', () => {
    const revoke = (who: string, g: AccessGrant, groups: string[] = []) =>
      approval(who, g, {
        decision: 'Revoke',
        grantRef: { name: g.metadata.name!, uid: g.metadata.uid! },
        approverGroups: groups,
        comment: 'incident over',
      });

    it('is reported from an approver of the policy, even on a grant the policy no longer allows', () => {
      const g = grant();
      const d = evaluateRequest(
        g,
        policy(),
        [approval('bob', g), revoke('carol', g, ['payments-leads'])],
        NOW,
      );
      assert.equal(d.revokedBy?.approver, 'carol');
      assert.equal(d.revokedBy?.decision, 'Revoke');
      assert.equal(d.revokedBy?.comment, 'incident over');
      const changed = evaluateRequest(g, policy({ maxDuration: '1h' }), [revoke('bob', g)], NOW);
      assert.equal(changed.revokedBy?.approver, 'bob');
    });

    it('is ignored from anyone else: another requester, an approver of another policy, another grant', () => {
      const g = grant();
      const other = { ...g, metadata: { ...g.metadata, uid: 'uid-0' } };
      const d = evaluateRequest(
        g,
        policy(),
        [
          revoke('mallory', g, ['interns']),
          revoke('alice', g, ['payments-oncall']),
          revoke('bob', other),
        ],
        NOW,
      );
      assert.equal(d.revokedBy, undefined);
    });
  });

  it('does not count approvals older than approval.validFor at activation', () => {
    const g = grant({ startAt: '2026-11-30T09:00:00Z' });
    const p = policy({
      approval: {
        mode: 'Manual',
        approvers: { users: ['bob'] },
        required: 1,
        pendingTimeout: '168h',
        validFor: '24h',
      },
    });
    const approved = approval('bob', g); // at 2026-11-25T08:30
    assert.equal(evaluateRequest(g, p, [approved], NOW).verdict, 'Approved');
    const atStart = new Date('2026-11-30T09:00:00Z');
    const late = evaluateRequest(g, p, [approved], atStart);
    assert.equal(late.verdict, 'Pending');
    assert.match(late.message, /1 approval\(s\) older than the validFor 24h ignored/);
    // Once activated, approvals are judged at the activation: they do not lapse later.
    assert.equal(
      evaluateRequest(g, p, [approved], atStart, '2026-11-25T09:00:00.000Z').verdict,
      'Approved',
    );
  });

  it('denies a startAt further ahead than maxScheduleAhead (168h by default)', () => {
    const far = grant({ startAt: '9999-12-31T00:00:00Z' });
    const d = checkPolicy(far, policy());
    assert.equal(d?.reason, 'ScheduledTooFarAhead');
    assert.match(
      d?.message ?? '',
      /more than the maxScheduleAhead 168h .* request a start within 168h/,
    );
    const week = grant({ startAt: '2026-12-02T07:00:00Z' }); // 167h after creation
    assert.equal(checkPolicy(week, policy()), undefined);
    assert.equal(
      checkPolicy(week, policy({ maxScheduleAhead: '24h' }))?.reason,
      'ScheduledTooFarAhead',
    );
  });

  it('checks a request by its named chain, and an active grant by all of it but the schedule', () => {
    assert.deepEqual(
      AT_REQUEST.map(([name]) => name),
      [
        'GitOps',
        'Requester',
        'Subject',
        'CloudIdentityIsSelf',
        'Namespace',
        'Access',
        'Schedule',
        'Duration',
        'Escalation',
        'Reason',
      ],
    );
    assert.deepEqual(
      WHILE_ACTIVE.map(([name]) => name),
      AT_REQUEST.map(([name]) => name).filter((n) => n !== 'Schedule'),
    );
    // An active grant outlives a tighter maxScheduleAhead (its start is history)...
    const week = grant({ startAt: '2026-12-02T07:00:00Z' });
    const tighter = policy({ maxScheduleAhead: '24h' });
    assert.equal(checkPolicy(week, tighter, [], WHILE_ACTIVE), undefined);
    assert.notEqual(
      evaluateRequest(week, tighter, [], NOW, '2026-12-02T07:00:00.000Z').reason,
      'ScheduledTooFarAhead',
    );
    // ...but not a shorter maxDuration, nor losing its requester.
    assert.equal(
      checkPolicy(grant({ duration: '3h' }), policy({ maxDuration: '1h' }), [], WHILE_ACTIVE)
        ?.reason,
      'DurationTooLong',
    );
    assert.equal(
      checkPolicy(grant(), policy({ requesters: { groups: ['others'] } }), [], WHILE_ACTIVE)
        ?.reason,
      'NotEligible',
    );
  });

  it('denies a role that outlives the grant unless the policy allows persistent escalation', () => {
    const risks = [
      { role: 'ClusterRole edit', risks: ['create ServiceAccount tokens that outlive the grant'] },
    ];
    const d = checkPolicy(grant(), policy(), risks);
    assert.equal(d?.reason, 'PersistentEscalation');
    assert.match(d?.message ?? '', /ClusterRole edit lets its holder create ServiceAccount tokens/);
    assert.match(d?.message ?? '', /only with allowPersistentEscalation: true/);
    assert.equal(
      checkPolicy(grant(), policy({ allowPersistentEscalation: true }), risks),
      undefined,
    );
    assert.equal(checkPolicy(grant(), policy(), []), undefined);
  });

  it('matches globs literally except for *', () => {
    assert.ok(globMatch('arn:aws:iam::1111:role/*', 'arn:aws:iam::1111:role/a/b'));
    assert.ok(!globMatch('arn:aws:iam::1111:role/*', 'arn:aws:iam::2222:role/a'));
    assert.ok(!globMatch('roles/cloudsql.viewer', 'roles/cloudsqlXviewer'));
  });
});
