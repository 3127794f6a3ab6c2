import assert from 'node:assert/strict';
import {
  ApiException,
  type V1ClusterRoleBinding,
  type V1RoleBinding,
} from '@kubernetes/client-node';
import { aGrant } from '../../api/v1alpha1/testing.ts';
import { TerminalError } from '../provider.ts';
import { bindingObject, desiredBindings, type BindingBody } from './bindings.ts';
import { KubernetesProvider, type RbacPort } from './driver.ts';
import { RecentDeletes } from './recent-deletes.ts';
import { FakeClock } from '../../runtime/clock.ts';

function apiError(code: number, message: string): ApiException<string> {
  return new ApiException(code, message, JSON.stringify({ kind: 'Status', message, code }), {});
}

/** An in-memory RBAC API with the API server's create/replace/delete semantics. */
class FakeRbac implements RbacPort {
  readonly rbs = new Map<string, V1RoleBinding>();
  readonly namespaces = new Set(['payments']);
  readonly calls: string[] = [];
  forbid = false;

  private key(ns: string, name: string) {
    return `${ns}/${name}`;
  }
  async createRoleBinding(ns: string, body: V1RoleBinding) {
    this.calls.push(`create ${ns}/${body.metadata?.name}`);
    if (this.forbid)
      throw apiError(403, 'rolebindings is forbidden: attempt to grant extra privileges');
    if (!this.namespaces.has(ns)) throw apiError(404, `namespaces "${ns}" not found`);
    if (this.rbs.has(this.key(ns, body.metadata!.name!))) throw apiError(409, 'already exists');
    this.rbs.set(this.key(ns, body.metadata!.name!), structuredClone(body));
    return body;
  }
  async readRoleBinding(ns: string, name: string) {
    const b = this.rbs.get(this.key(ns, name));
    if (!b) throw apiError(404, 'not found');
    return structuredClone(b);
  }
  async replaceRoleBinding(ns: string, name: string, body: V1RoleBinding) {
    this.calls.push(`replace ${ns}/${name}`);
    this.rbs.set(this.key(ns, name), structuredClone(body));
    return body;
  }
  async deleteRoleBinding(ns: string, name: string) {
    this.calls.push(`delete ${ns}/${name}`);
    if (!this.rbs.delete(this.key(ns, name))) throw apiError(404, 'not found');
    return {};
  }
  async createClusterRoleBinding(body: V1ClusterRoleBinding) {
    return this.createRoleBinding('', body);
  }
  async readClusterRoleBinding(name: string) {
    return this.readRoleBinding('', name);
  }
  async replaceClusterRoleBinding(name: string, body: V1ClusterRoleBinding) {
    return this.replaceRoleBinding('', name, body);
  }
  async deleteClusterRoleBinding(name: string) {
    return this.deleteRoleBinding('', name);
  }
}

const grant = aGrant({
  metadata: { name: 'alice', uid: 'abcdef12-3456' },
  spec: { access: [{ kubernetes: { clusterRole: 'edit', namespaces: ['payments'] } }] },
});
const EXPIRES = '2026-11-25T10:00:00.000Z';

describe('KubernetesProvider', () => {
  let rbac: FakeRbac;
  let provider: KubernetesProvider;
  beforeEach(() => {
    rbac = new FakeRbac();
    provider = new KubernetesProvider(rbac, {
      // Observation goes through the informer caches; an empty cache models a stale one.
      roleBindings: {
        get: (uid: string) =>
          [...rbac.rbs.values()].filter(
            (b) => b.metadata?.labels?.['timebox.dev/grant-uid'] === uid,
          ),
      },
      clusterRoleBindings: { get: () => [] },
    });
  });

  it('creates a labelled, annotated binding and observes it as desired', async () => {
    const [want] = desiredBindings(grant, EXPIRES);
    await provider.grant(grant, want!);
    const live = await rbac.readRoleBinding('payments', 'timebox-alice-abcdef12');
    assert.equal(live.metadata?.labels?.['timebox.dev/grant-uid'], 'abcdef12-3456');
    assert.equal(live.metadata?.annotations?.['timebox.dev/expires-at'], EXPIRES);
    assert.deepEqual(await provider.observe(grant), [want]);
  });

  it('is idempotent: granting what already matches writes nothing', async () => {
    const [want] = desiredBindings(grant, EXPIRES);
    await provider.grant(grant, want!);
    rbac.calls.length = 0;
    await provider.grant(grant, want!);
    assert.deepEqual(rbac.calls, ['create payments/timebox-alice-abcdef12']);
  });

  it('repairs edited subjects in place, keeping labels others added', async () => {
    const [want] = desiredBindings(grant, EXPIRES);
    const edited = bindingObject({
      ...(want!.body as BindingBody),
      subjects: [{ kind: 'User', name: 'mallory', apiGroup: 'rbac.authorization.k8s.io' }],
    });
    edited.metadata!.labels!['team'] = 'payments';
    rbac.rbs.set('payments/timebox-alice-abcdef12', edited);
    await provider.grant(grant, want!);
    const live = await rbac.readRoleBinding('payments', 'timebox-alice-abcdef12');
    assert.equal(live.subjects?.[0]?.name, 'alice@example.com');
    assert.equal(live.metadata?.labels?.team, 'payments');
  });

  it('re-creates a binding whose roleRef was changed, since roleRef is immutable', async () => {
    const [want] = desiredBindings(grant, EXPIRES);
    rbac.rbs.set(
      'payments/timebox-alice-abcdef12',
      bindingObject({
        ...(want!.body as BindingBody),
        roleRef: {
          apiGroup: 'rbac.authorization.k8s.io',
          kind: 'ClusterRole',
          name: 'cluster-admin',
        },
      }),
    );
    await provider.grant(grant, want!);
    assert.equal(
      (await rbac.readRoleBinding('payments', 'timebox-alice-abcdef12')).roleRef.name,
      'edit',
    );
    assert.deepEqual(rbac.calls.slice(1), [
      'delete payments/timebox-alice-abcdef12',
      'create payments/timebox-alice-abcdef12',
    ]);
  });

  it('revoking something already gone succeeds', async () => {
    const [want] = desiredBindings(grant, EXPIRES);
    await provider.revoke(grant, want!);
    assert.deepEqual(rbac.calls, ['delete payments/timebox-alice-abcdef12']);
  });

  it('does not see again, in a cache that lags, a binding it has deleted', async () => {
    const [want] = desiredBindings(grant, EXPIRES);
    const obj = (uid: string) => {
      const o = bindingObject(want!.body as BindingBody);
      o.metadata!.uid = uid;
      return o;
    };
    // A cache that still shows the deleted object, and later a new one by that name.
    let cached = [obj('uid-1')];
    const deleted = new RecentDeletes(new FakeClock());
    const lagging = new KubernetesProvider(
      rbac,
      { roleBindings: { get: () => cached }, clusterRoleBindings: { get: () => [] } },
      deleted,
    );
    const [seen] = await lagging.observe(grant);
    assert.equal(seen?.instance, 'uid-1');
    await lagging.revoke(grant, seen!);
    assert.deepEqual(await lagging.observe(grant), [], 'the next reconcile deletes nothing again');
    cached = [obj('uid-1'), obj('uid-2')];
    assert.deepEqual(
      (await lagging.observe(grant)).map((a) => a.instance),
      ['uid-2'],
      'an object re-created under the same name is another UID, and is seen',
    );
  });

  const terminalCases: [string, (r: FakeRbac) => void, string][] = [
    ['a missing namespace', (r) => r.namespaces.clear(), 'NamespaceNotFound'],
    ['a binding the operator may not create', (r) => (r.forbid = true), 'Forbidden'],
  ];
  for (const [what, arrange, reason] of terminalCases) {
    it(`reports ${what} as a terminal error`, async () => {
      arrange(rbac);
      const [want] = desiredBindings(grant, EXPIRES);
      await assert.rejects(
        provider.grant(grant, want!),
        (err: unknown) =>
          err instanceof TerminalError &&
          err.reason === reason &&
          // The API server's own error is kept, for logs and debugging.
          err.cause instanceof ApiException,
      );
    });
  }

  it('retries for a while what a restarting API server says, but never an escalation refusal', async () => {
    const [want] = desiredBindings(grant, EXPIRES);
    const refused = async (code: number, message: string) => {
      rbac.createRoleBinding = async () => {
        throw apiError(code, message);
      };
      return provider.grant(grant, want!).then(
        () => assert.fail('granted'),
        (err: unknown) => err as TerminalError,
      );
    };
    const warming = await refused(
      403,
      'rolebindings.rbac.authorization.k8s.io is forbidden: User "system:serviceaccount:timebox-system:timebox-controller" cannot create resource "rolebindings" in API group "rbac.authorization.k8s.io" in the namespace "payments"',
    );
    assert.equal(warming.reason, 'Forbidden');
    assert.ok(warming.retryForMs! > 0);
    const unauthorized = await refused(401, 'Unauthorized');
    assert.equal(unauthorized.reason, 'Unauthorized');
    assert.ok(unauthorized.retryForMs! > 0);
    const escalation = await refused(
      403,
      'rolebindings.rbac.authorization.k8s.io "x" is forbidden: user "timebox" is attempting to grant RBAC permissions not currently held',
    );
    assert.equal(escalation.retryForMs, undefined);
  });

  it("never takes over a binding of the same name that is not the grant's", async () => {
    const [want] = desiredBindings(grant, EXPIRES);
    const squat = bindingObject(want!.body as BindingBody);
    squat.metadata!.labels = {};
    squat.roleRef.name = 'cluster-admin';
    rbac.rbs.set(`payments/${squat.metadata!.name}`, squat);
    await assert.rejects(
      provider.grant(grant, want!),
      (err: unknown) => err instanceof TerminalError && err.reason === 'NameTaken',
    );
    assert.equal(rbac.rbs.get(`payments/${squat.metadata!.name}`)?.roleRef.name, 'cluster-admin');
  });

  it('passes transient errors through for a retry', async () => {
    rbac.createRoleBinding = async () => {
      throw apiError(503, 'etcdserver: leader changed');
    };
    const [want] = desiredBindings(grant, EXPIRES);
    await assert.rejects(
      provider.grant(grant, want!),
      (err: unknown) => err instanceof ApiException && !(err instanceof TerminalError),
    );
  });
});
