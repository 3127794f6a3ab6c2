import assert from 'node:assert/strict';
import { aPolicy } from '../api/v1alpha1/testing.ts';
import type { AccessPolicy, AccessPolicyStatus } from '../api/v1alpha1/types.ts';
import { createLogger } from '../log/logger.ts';
import { FakeClock } from '../runtime/clock.ts';
import { AccessPolicyController } from './accesspolicy.ts';

describe('AccessPolicyController', () => {
  const admin = [
    { apiGroups: ['rbac.authorization.k8s.io'], resources: ['rolebindings'], verbs: ['create'] },
  ];
  let policy: AccessPolicy;
  let written: AccessPolicyStatus[];
  let clusterRoleRules: Record<string, typeof admin>;
  const controller = () =>
    new AccessPolicyController({
      policies: { get: () => policy },
      roleRules: (kind, name) => (kind === 'ClusterRole' ? clusterRoleRules[name] : undefined),
      namespacesOfRole: () => [],
      writer: {
        patchStatus: async (_p, status) => {
          written.push(status);
          policy = { ...policy, status };
        },
      },
      clock: new FakeClock('2026-11-27T09:00:00Z'),
      log: createLogger({ write: () => {} }),
    });

  beforeEach(() => {
    written = [];
    clusterRoleRules = { view: [], admin };
    policy = aPolicy({
      metadata: { name: 'p', generation: 3 },
      spec: { access: [{ kubernetes: { clusterRoles: ['view', 'admin'] } }] },
    });
  });

  it('flags the roles that outlive a grant, once, and says what to do', async () => {
    await controller().reconcile('p');
    await controller().reconcile('p');
    assert.equal(written.length, 1, 'an unchanged status is not written again');
    const c = written[0]!.conditions![0]!;
    assert.deepEqual(
      [c.type, c.status, c.reason, c.observedGeneration],
      ['PersistentEscalation', 'True', 'NotAllowed', 3],
    );
    assert.match(c.message, /ClusterRole admin lets its holder create or change RoleBindings/);
    assert.match(c.message, /set allowPersistentEscalation: true/);
  });

  it('follows the roles as they change', async () => {
    clusterRoleRules.admin = [];
    await controller().reconcile('p');
    assert.equal(written.at(-1)!.conditions![0]!.reason, 'NoneFound');
    clusterRoleRules.admin = admin;
    policy = { ...policy, spec: { ...policy.spec, allowPersistentEscalation: true } };
    await controller().reconcile('p');
    assert.deepEqual(
      [written.at(-1)!.conditions![0]!.status, written.at(-1)!.conditions![0]!.reason],
      ['True', 'Allowed'],
    );
  });
});
