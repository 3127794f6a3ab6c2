import assert from 'node:assert/strict';
import {
  describeRisks,
  grantRisks,
  persistentEscalation,
  policyRisks,
  type RbacRule,
  type RoleRules,
} from './escalation.ts';

const rule = (apiGroups: string[], resources: string[], verbs: string[]): RbacRule => ({
  apiGroups,
  resources,
  verbs,
});

describe('persistent escalation', () => {
  it('finds nothing in read-only rules', () => {
    const view = [rule([''], ['pods', 'configmaps', 'services'], ['get', 'list', 'watch'])];
    assert.deepEqual(persistentEscalation(view, ['*']), []);
  });

  it('names each way a holder could outlive the grant', () => {
    const cases: [RbacRule, RegExp][] = [
      [rule(['rbac.authorization.k8s.io'], ['rolebindings'], ['create']), /RoleBindings/],
      [rule(['rbac.authorization.k8s.io'], ['clusterroles'], ['escalate']), /escalate roles/],
      [rule([''], ['users'], ['impersonate']), /impersonate/],
      [rule([''], ['serviceaccounts/token'], ['create']), /ServiceAccount tokens/],
      [rule([''], ['secrets'], ['create']), /Secrets/],
      [rule(['*'], ['*'], ['*']), /wildcard/],
      [rule(['rbac.authorization.k8s.io'], ['clusterroles'], ['create']), /create or change roles/],
      [rule([''], ['pods/exec'], ['create']), /exec into pods/],
      [rule([''], ['*/token'], ['create']), /ServiceAccount tokens/],
      [rule([''], ['pods'], ['create']), /run pods as any ServiceAccount/],
    ];
    for (const [r, message] of cases) {
      const found = persistentEscalation([r], ['payments']);
      assert.ok(
        found.some((m) => message.test(m)),
        `${JSON.stringify(r)}: ${found.join('; ')}`,
      );
    }
  });

  it('flags issuing certificates only with both the request and the approval', () => {
    const request = rule(['certificates.k8s.io'], ['certificatesigningrequests'], ['create']);
    const approve = rule(['certificates.k8s.io'], ['signers'], ['approve']);
    assert.deepEqual(persistentEscalation([request], ['payments']), []);
    assert.match(
      persistentEscalation([request, approve], ['payments']).join(),
      /client certificates/,
    );
  });

  it('flags creating workloads only where they would run as privileged identities', () => {
    const deployer = [rule(['apps'], ['deployments'], ['create'])];
    assert.deepEqual(persistentEscalation(deployer, ['payments']), []);
    assert.match(
      persistentEscalation(deployer, ['kube-system']).join(),
      /workloads in kube-system/,
    );
    assert.match(persistentEscalation(deployer, ['*']).join(), /workloads in kube-system/);
  });

  it("follows a role's update, though answers for the same rules are kept", () => {
    // As a cache holds roles: an update replaces the object, it never edits it.
    const cache = new Map([['ops', [rule([''], ['pods'], ['get'])]]]);
    const risksOfOps = () => persistentEscalation(cache.get('ops')!, ['payments']);
    assert.deepEqual(risksOfOps(), []);
    risksOfOps().push('changed by a caller');
    assert.deepEqual(risksOfOps(), [], "a caller's change to an answer is not kept");
    cache.set('ops', [rule([''], ['pods'], ['get']), rule([''], ['secrets'], ['create'])]);
    assert.match(risksOfOps().join(), /create Secrets/);
  });
});

describe('the risks of what a grant or policy hands out', () => {
  const edit = [rule([''], ['secrets'], ['create']), rule([''], ['pods'], ['get'])];
  const deployer = [rule(['apps'], ['deployments'], ['create'])];
  const rules: RoleRules = (kind, name, namespace) =>
    kind === 'ClusterRole'
      ? ({ edit, view: [rule([''], ['pods'], ['get'])] } as Record<string, RbacRule[]>)[name]
      : name === 'deployer' && namespace === 'kube-system'
        ? deployer
        : undefined;

  it("names the grant's risky roles, where it binds them", () => {
    const risks = grantRisks(
      [
        { kubernetes: { clusterRole: 'edit', namespaces: ['payments'] } },
        { kubernetes: { clusterRole: 'view', clusterWide: true } },
        { kubernetes: { role: 'deployer', namespaces: ['payments', 'kube-system'] } },
      ],
      rules,
    );
    assert.deepEqual(
      risks.map((r) => r.role),
      ['ClusterRole edit', 'Role kube-system/deployer'],
    );
    assert.match(describeRisks(risks), /ClusterRole edit lets its holder create Secrets/);
  });

  it("finds a policy's Roles wherever they exist when it allows any namespace", () => {
    const risks = policyRisks(
      {
        namespaces: ['*'],
        access: [{ kubernetes: { roles: ['deployer'], clusterRoles: ['view'] } }],
      },
      rules,
      (name) => (name === 'deployer' ? ['payments', 'kube-system'] : []),
    );
    assert.deepEqual(
      risks.map((r) => r.role),
      ['Role kube-system/deployer'],
    );
  });
});
