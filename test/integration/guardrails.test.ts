import assert from 'node:assert/strict';
import { request as httpsRequest } from 'node:https';
import { randomUUID } from 'node:crypto';
import { CustomObjectsApi, PatchStrategy, setHeaderOptions } from '@kubernetes/client-node';
import type { AccessGrant, AccessPolicy } from '../../src/api/v1alpha1/types.ts';
import { ALICE, allowed, refusal, requestAs } from '../support/requests.ts';
import { eventually } from '../support/wait.ts';
import {
  createAccessPolicy,
  createNamespace,
  grantsApi,
  waitForPhase,
  withOperator,
} from '../support/timebox.ts';

const OPERATOR = 'timebox-operator-guardrails';

/** An anonymous request, as `curl -k` from anywhere would make it. */
function anonymousCanListPods(server: string, ca: Buffer, namespace: string): Promise<boolean> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest(`${server}/api/v1/namespaces/${namespace}/pods`, { ca }, (res) => {
      res.resume();
      resolve(res.statusCode === 200);
    });
    req.on('error', reject);
    req.end();
  });
}

/** What a policy may hand out, and to whom: the attacks of the guardrails review. */
describe('guardrails: what a policy may hand out, and to whom', function () {
  this.timeout(120_000);
  const suite = withOperator(OPERATOR);
  let ns: string;

  beforeEach(async () => {
    ns = await createNamespace(suite.cluster, 'payments');
  });

  async function policy(over: Partial<AccessPolicy['spec']> = {}): Promise<string> {
    const name = `guard-${randomUUID().slice(0, 8)}`;
    await createAccessPolicy(suite.cluster.admin(), name, {
      requesters: { groups: ['payments-oncall'] },
      selfOnly: false,
      namespaces: [ns],
      access: [{ kubernetes: { clusterRoles: ['view', 'edit'], namespaces: [ns] } }],
      maxDuration: '4h',
      allowPersistentEscalation: true,
      approval: { mode: 'Auto' },
      ...over,
    });
    return name;
  }
  const grants = () => grantsApi(suite.cluster.as(ALICE));
  const reason = (g: AccessGrant) => g.status?.conditions?.find((c) => c.type === 'Ready')?.reason;

  it('refuses system: users and groups as subjects at admission', async () => {
    const open = await policy({ subjects: { users: ['*'], groups: ['*'] } });
    for (const subject of [
      { kind: 'Group' as const, name: 'system:authenticated' },
      { kind: 'Group' as const, name: 'system:unauthenticated' },
      { kind: 'Group' as const, name: 'system:masters' },
      { kind: 'User' as const, name: 'system:serviceaccount:kube-system:default' },
    ]) {
      const r = await refusal(
        grants().create(requestAs(ALICE, ns, open, `sys-${randomUUID().slice(0, 6)}`, { subject })),
      );
      assert.equal(r.code, 422, subject.name);
      assert.match(r.message, /system: users and groups cannot be subjects/);
    }
    const sandbox = suite.cluster.sandbox!;
    assert.equal(await anonymousCanListPods(sandbox.server, sandbox.caData, ns), false);
  });

  it('lets only the requester be the subject unless the policy lists others', async () => {
    const bare = await policy();
    await grants().create(
      requestAs(ALICE, ns, bare, 'for-carol', {
        subject: { kind: 'User', name: 'carol@example.com' },
      }),
    );
    await grants().create(
      requestAs(ALICE, ns, bare, 'for-sa', {
        subject: { kind: 'ServiceAccount', namespace: 'kube-system', name: 'default' },
      }),
    );
    for (const name of ['for-carol', 'for-sa']) {
      const g = await waitForPhase(suite.cluster, ns, name, 'Denied');
      assert.equal(reason(g), 'SubjectNotAllowed', name);
    }
    // Listed service accounts, but only inside the policy's namespaces.
    const robots = await policy({ subjects: { serviceAccounts: ['*/deployer'] } });
    await grants().create(
      requestAs(ALICE, ns, robots, 'kube-system-robot', {
        subject: { kind: 'ServiceAccount', namespace: 'kube-system', name: 'deployer' },
      }),
    );
    const outside = await waitForPhase(suite.cluster, ns, 'kube-system-robot', 'Denied');
    assert.match(outside.status?.conditions?.[0]?.message ?? '', /outside the namespaces/);
    await grants().create(
      requestAs(ALICE, ns, robots, 'own-robot', {
        subject: { kind: 'ServiceAccount', namespace: ns, name: 'deployer' },
        access: [{ kubernetes: { clusterRole: 'view', namespaces: [ns] } }],
      }),
    );
    await waitForPhase(suite.cluster, ns, 'own-robot', 'Active');
    assert.equal(
      await allowed(suite.cluster, { user: 'carol@example.com' }, 'list', 'pods', ns),
      false,
    );
  });

  it('refuses a policy that states no namespaces, and one whose selfOnly cannot be checked', async () => {
    const base = {
      requesters: { groups: ['payments-oncall'] },
      access: [{ kubernetes: { clusterRoles: ['view'] } }],
      maxDuration: '1h',
      approval: { mode: 'Auto' as const },
    };
    const noNamespaces = await refusal(
      createAccessPolicy(suite.cluster.admin(), `guard-${randomUUID().slice(0, 8)}`, {
        ...base,
      } as AccessPolicy['spec']),
    );
    assert.equal(noNamespaces.code, 422);
    assert.match(noNamespaces.message, /spec.namespaces: Required value/);
    const awsSelf = await refusal(
      createAccessPolicy(suite.cluster.admin(), `guard-${randomUUID().slice(0, 8)}`, {
        ...base,
        namespaces: [ns],
        selfOnly: true,
        access: [
          {
            aws: {
              principalArns: ['arn:aws:iam::111122223333:role/*'],
              policyArns: ['arn:aws:iam::aws:policy/ReadOnlyAccess'],
            },
          },
        ],
      }),
    );
    assert.equal(awsSelf.code, 422);
    assert.match(awsSelf.message, /set aws.selfPrincipalArns/);
  });

  it("never hands out another user's AWS role under selfOnly", async () => {
    const self = await policy({
      selfOnly: true,
      access: [
        {
          aws: {
            selfPrincipalArns: ['arn:aws:iam::111122223333:role/{localPart}'],
            policyArns: ['arn:aws:iam::aws:policy/ReadOnlyAccess'],
          },
        },
      ],
    });
    await grants().create(
      requestAs(ALICE, ns, self, 'bobs-role', {
        access: [
          {
            aws: {
              principalArn: 'arn:aws:iam::111122223333:role/bob',
              policyArn: 'arn:aws:iam::aws:policy/ReadOnlyAccess',
            },
          },
        ],
      }),
    );
    const g = await waitForPhase(suite.cluster, ns, 'bobs-role', 'Denied');
    assert.equal(reason(g), 'AccessNotAllowed');
    assert.match(g.status?.conditions?.[0]?.message ?? '', /role\/bob/);
  });

  it('flags roles that outlive the grant, and hands them out only where the policy says so', async () => {
    const careful = await policy({
      allowPersistentEscalation: false,
      access: [{ kubernetes: { clusterRoles: ['view', 'edit', 'admin'], namespaces: [ns] } }],
    });
    const custom = suite.cluster.admin().makeApiClient(CustomObjectsApi);
    const condition = async (name: string) =>
      (
        (await custom.getClusterCustomObject({
          group: 'timebox.dev',
          version: 'v1alpha1',
          plural: 'accesspolicies',
          name,
        })) as AccessPolicy
      ).status?.conditions?.find((c) => c.type === 'PersistentEscalation');
    const flagged = await eventually(async () => condition(careful), {
      what: 'the PersistentEscalation condition',
    });
    assert.equal(flagged.status, 'True');
    assert.equal(flagged.reason, 'NotAllowed');
    assert.match(flagged.message, /ClusterRole admin lets its holder .*RoleBindings/);
    assert.match(flagged.message, /ClusterRole edit lets its holder .*ServiceAccount tokens/);
    assert.doesNotMatch(flagged.message, /ClusterRole view/);

    // admin could make a permanent RoleBinding; edit, a token: neither is handed out.
    for (const role of ['admin', 'edit']) {
      await grants().create(
        requestAs(ALICE, ns, careful, `wants-${role}`, {
          access: [{ kubernetes: { clusterRole: role, namespaces: [ns] } }],
        }),
      );
      const g = await waitForPhase(suite.cluster, ns, `wants-${role}`, 'Denied');
      assert.equal(reason(g), 'PersistentEscalation', role);
      assert.match(g.status?.conditions?.[0]?.message ?? '', /allowPersistentEscalation: true/);
    }
    await grants().create(
      requestAs(ALICE, ns, careful, 'wants-view', {
        access: [{ kubernetes: { clusterRole: 'view', namespaces: [ns] } }],
      }),
    );
    await waitForPhase(suite.cluster, ns, 'wants-view', 'Active');
    assert.equal(await allowed(suite.cluster, ALICE, 'create', 'rolebindings', ns), false);

    // Nobody but the operator writes what the policy's status says about its roles.
    const forged = await refusal(
      suite.cluster
        .as(ALICE)
        .makeApiClient(CustomObjectsApi)
        .patchClusterCustomObjectStatus(
          {
            group: 'timebox.dev',
            version: 'v1alpha1',
            plural: 'accesspolicies',
            name: careful,
            body: { status: { conditions: [] } },
          },
          setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
        ),
    );
    assert.equal(forged.code, 403);

    // A policy that opts in says so too.
    const knowing = await policy();
    const allowedCondition = await eventually(async () => condition(knowing), {
      what: 'the PersistentEscalation condition',
    });
    assert.equal(allowedCondition.reason, 'Allowed');
  });
});
