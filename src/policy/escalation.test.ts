import assert from 'node:assert/strict';
import { persistentEscalation, type RbacRule } from './escalation.ts';

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
    ];
    for (const [r, message] of cases) {
      const found = persistentEscalation([r], ['payments']);
      assert.ok(
        found.some((m) => message.test(m)),
        `${JSON.stringify(r)}: ${found.join('; ')}`,
      );
    }
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
});
