import assert from 'node:assert/strict';
import { aGrant, anApproval, aPolicy } from '../api/v1alpha1/testing.ts';
import {
  type AccessApproval,
  type AccessGrant,
  type AccessGrantStatus,
} from '../api/v1alpha1/types.ts';
import type { EventRecorder } from '../kube/events.ts';
import { createLogger } from '../log/logger.ts';
import { specHash } from '../policy/evaluate.ts';
import type { BindingBody } from '../providers/kubernetes/bindings.ts';
import {
  AUTH_WARMUP_RETRY_MS,
  TerminalError,
  type Artefact,
  type ProviderDriver,
} from '../providers/provider.ts';
import { FakeClock } from '../runtime/clock.ts';
import { AccessGrantController, type AccessGrantControllerDeps } from './accessgrant.ts';
import type { GrantWriter } from './grants.ts';

const NS = 'payments';
const NAME = 'alice-debug';
const KEY = `${NS}/${NAME}`;

const POLICY = aPolicy({
  spec: { approval: { mode: 'Manual', approvers: { users: ['bob'] }, required: 1 } },
});

function newGrant(): AccessGrant {
  return aGrant({
    metadata: {
      name: NAME,
      namespace: NS,
      uid: 'uid-1',
      resourceVersion: '1',
      generation: 1,
      creationTimestamp: '2026-11-25T08:59:00Z' as unknown as Date,
      annotations: {
        'timebox.dev/requested-by': 'alice',
        'timebox.dev/requester-groups': 'payments-oncall',
      },
    },
    spec: { subject: { name: 'alice' }, policy: POLICY.metadata.name! },
  });
}

function approvalOf(g: AccessGrant): AccessApproval {
  return anApproval({
    metadata: { creationTimestamp: '2026-11-25T08:59:30Z' as unknown as Date },
    spec: {
      grantRef: { name: NAME, uid: g.metadata.uid!, specHash: specHash(g.spec) },
      approver: 'bob',
    },
  });
}

/**
 * The API server as far as the controller writes to it: a store with resource
 * versions (a stale write fails with 409, as the real merge patch does), and a
 * hook that runs after each write, where a test plays the attacker or the crash.
 */
class FakeApi implements GrantWriter {
  grant: AccessGrant | undefined = newGrant();
  writes: string[] = [];
  afterWrite?: (what: 'commit' | 'status' | 'finalizers') => void;
  private rv = 1;

  private store(g: AccessGrant): AccessGrant {
    this.grant = structuredClone({
      ...g,
      metadata: { ...g.metadata, resourceVersion: String(++this.rv) },
    });
    return structuredClone(this.grant);
  }
  private check(g: AccessGrant): void {
    if (g.metadata.resourceVersion !== this.grant?.metadata.resourceVersion) {
      throw new Error('409 Conflict: the object has been modified');
    }
  }
  async patchStatus(g: AccessGrant, status: AccessGrantStatus): Promise<AccessGrant> {
    this.check(g);
    const what = status.expiresAt && !this.grant!.status?.expiresAt ? 'commit' : 'status';
    this.writes.push(`${what} ${status.phase}`);
    const out = this.store({ ...this.grant!, status: { ...this.grant!.status, ...status } });
    this.afterWrite?.(what);
    return out;
  }
  async setFinalizers(g: AccessGrant, finalizers: string[]): Promise<AccessGrant> {
    this.check(g);
    this.writes.push('finalizers');
    const out = this.store({ ...this.grant!, metadata: { ...this.grant!.metadata, finalizers } });
    this.afterWrite?.('finalizers');
    return out;
  }
  async get(): Promise<AccessGrant> {
    return structuredClone(this.grant!);
  }
  /** A write by someone else: admission bypassed or misconfigured. */
  tamper(spec: Partial<AccessGrant['spec']>): void {
    this.store({ ...this.grant!, spec: { ...this.grant!.spec, ...spec } });
  }
}

/** An access system that records what it holds; `failNext` fails one grant call. */
class FakeProvider implements ProviderDriver {
  readonly name = 'kubernetes' as const;
  held = new Map<string, Artefact>();
  everGranted: Artefact[] = [];
  failNext = false;
  /** An API server that just restarted: refuses with this until told otherwise. */
  refuseWith: Error | undefined;
  async observe(): Promise<Artefact[]> {
    return [...this.held.values()];
  }
  async grant(_g: AccessGrant, a: Artefact): Promise<void> {
    if (this.refuseWith) throw this.refuseWith;
    if (this.failNext) {
      this.failNext = false;
      throw new Error('connection reset (the process dies here)');
    }
    this.held.set(a.ref, a);
    this.everGranted.push(a);
  }
  /** A target that refuses to revoke (an outage), until told otherwise. */
  failRevoke: Error | undefined;
  async revoke(_g: AccessGrant, a: Artefact): Promise<void> {
    if (this.failRevoke) throw this.failRevoke;
    this.held.delete(a.ref);
  }
}

const silent = createLogger({ write: () => {} });

describe('AccessGrantController (the applier)', () => {
  let clock: FakeClock;
  let api: FakeApi;
  let provider: FakeProvider;
  let approvals: AccessApproval[];
  let events: string[];

  /** A controller as a freshly started process has it: nothing in memory. */
  const controller = (metrics?: AccessGrantControllerDeps['metrics']) =>
    new AccessGrantController({
      ...(metrics ? { metrics } : {}),
      grants: { get: () => (api.grant ? structuredClone(api.grant) : undefined) },
      policies: { get: (n: string) => (n === POLICY.metadata.name ? POLICY : undefined) },
      approvals: { list: () => approvals },
      writer: api,
      providers: [provider],
      recorder: {
        record: (_o, _t, reason, message) => events.push(`${reason}: ${message}`),
        flush: async () => {},
      } satisfies EventRecorder,
      clock,
      log: silent,
    });

  const roles = (as: Artefact[]) =>
    as.map((a) => (a.body as { roleRef?: { name?: string } }).roleRef?.name);
  const expiresAtOf = (a: Artefact) => (a.body as BindingBody).expiresAt;

  beforeEach(() => {
    clock = new FakeClock('2026-11-25T09:00:00Z');
    api = new FakeApi();
    provider = new FakeProvider();
    approvals = [approvalOf(api.grant!)];
    events = [];
  });

  it('commits expiresAt before granting anything, then goes Active', async () => {
    await controller().reconcile(KEY);
    assert.deepEqual(api.writes, ['finalizers', 'commit Pending', 'status Active']);
    assert.equal(api.grant?.status?.phase, 'Active');
    assert.equal(api.grant?.status?.expiresAt, '2026-11-25T10:00:00.000Z');
    assert.deepEqual(roles([...provider.held.values()]), ['view']);
    assert.ok(
      events.some((e) => e.startsWith(`Approved: approved by bob for spec sha256:`)),
      `an Event names the approver and the spec: ${events.join(' | ')}`,
    );
  });

  it('after a crash between commit and grant, a new process grants only until the committed expiry', async () => {
    provider.failNext = true;
    await assert.rejects(controller().reconcile(KEY), /connection reset/);
    assert.equal(api.grant?.status?.phase, 'Pending');
    assert.equal(provider.held.size, 0);
    const committed = api.grant?.status?.expiresAt;

    clock.advance(10 * 60_000);
    await controller().reconcile(KEY);
    assert.equal(api.grant?.status?.phase, 'Active');
    assert.equal(api.grant?.status?.expiresAt, committed, 'the restart did not extend access');
    assert.deepEqual([...provider.held.values()].map(expiresAtOf), [committed]);
  });

  it('after a crash between commit and grant, a restart past the expiry grants nothing', async () => {
    provider.failNext = true;
    await assert.rejects(controller().reconcile(KEY));
    clock.advance(2 * 3600_000);
    await controller().reconcile(KEY);
    assert.equal(api.grant?.status?.phase, 'Expired');
    assert.deepEqual(provider.everGranted, []);
  });

  it('after a 409 on the write that follows the commit, the retry finishes without extending access', async () => {
    // Someone else's write (a label, a notification record) lands right after the
    // commit: the controller's next write carries a stale resource version.
    api.afterWrite = (what) => {
      if (what !== 'commit') return;
      api.afterWrite = undefined;
      api.tamper({});
    };
    await assert.rejects(controller().reconcile(KEY), /409/);
    const committed = api.grant?.status?.expiresAt;
    assert.ok(committed, 'the commit stands');
    for (const a of provider.held.values()) assert.equal(expiresAtOf(a), committed);

    clock.advance(60_000);
    await controller().reconcile(KEY);
    assert.equal(api.grant?.status?.phase, 'Active');
    assert.equal(api.grant?.status?.expiresAt, committed, 'the retry did not extend access');
    assert.deepEqual([...provider.held.values()].map(expiresAtOf), [committed]);
  });

  it('grants nothing when the spec changed between commit and grant', async () => {
    // The attacker's write lands right after the commit, and the commit's answer
    // already carries it (the strongest form of the activation race).
    api.afterWrite = (what) => {
      if (what !== 'commit') return;
      api.tamper({ access: [{ kubernetes: { clusterRole: 'cluster-admin', clusterWide: true } }] });
      api.afterWrite = undefined;
    };
    const realPatch = api.patchStatus.bind(api);
    api.patchStatus = async (g, s) => {
      await realPatch(g, s);
      return structuredClone(api.grant!);
    };
    await controller().reconcile(KEY);
    assert.deepEqual(provider.everGranted, [], 'nothing at all was granted');
    assert.equal(api.grant?.status?.phase, 'Revoked');
    assert.equal(
      api.grant?.status?.conditions?.find((c) => c.type === 'Ready')?.reason,
      'SpecChanged',
    );
  });

  it('revokes what it granted when the spec is swapped after activation, never granting the swap', async () => {
    await controller().reconcile(KEY);
    assert.deepEqual(roles(provider.everGranted), ['view']);
    api.tamper({ access: [{ kubernetes: { clusterRole: 'edit', namespaces: [NS] } }] });
    await controller().reconcile(KEY);
    assert.equal(api.grant?.status?.phase, 'Revoked');
    assert.equal(provider.held.size, 0);
    assert.deepEqual(roles(provider.everGranted), ['view'], 'edit was never granted');
  });

  it('grants nothing when the approval is withdrawn between commit and grant', async () => {
    api.afterWrite = (what) => {
      if (what === 'commit') approvals = [];
    };
    await controller().reconcile(KEY);
    assert.deepEqual(provider.everGranted, []);
    assert.equal(api.grant?.status?.phase, 'Revoked');
    assert.equal(
      api.grant?.status?.conditions?.find((c) => c.type === 'Ready')?.reason,
      'NoLongerApproved',
    );
  });

  it('ends an active grant on a Revoke from an approver of its policy, and records it', async () => {
    await controller().reconcile(KEY);
    approvals.push({
      metadata: { name: 'bob-revoke', namespace: NS, creationTimestamp: clock.now() },
      spec: {
        grantRef: { name: NAME, uid: 'uid-1' },
        decision: 'Revoke',
        approver: 'bob',
        comment: 'done',
      },
    });
    await controller().reconcile(KEY);
    assert.equal(api.grant?.status?.phase, 'Revoked');
    assert.equal(provider.held.size, 0);
    assert.deepEqual(
      api.grant?.status?.approvals?.map((a) => [a.approver, a.decision]),
      [
        ['bob', 'Approve'],
        ['bob', 'Revoke'],
      ],
    );
  });

  it('in the revoke lane, ends access first and leaves the record for a later reconcile', async () => {
    const lags: number[] = [];
    const c = controller({
      revocationLag: { observe: (v: number) => lags.push(v) },
      providerErrors: { inc: () => {} },
    } as unknown as AccessGrantControllerDeps['metrics']);
    await c.reconcile(KEY);
    const written = api.writes.length;
    clock.advance(3600_000 + 200);
    assert.deepEqual(await c.reconcile(KEY, 'revoke'), { recordLater: true });
    assert.equal(provider.held.size, 0, 'access is gone');
    assert.equal(api.writes.length, written, 'and nothing else was written yet');
    assert.equal(api.grant?.status?.phase, 'Active');
    assert.equal(c.awaitsRecord(KEY), true);

    clock.advance(5_000);
    assert.deepEqual(await c.reconcile(KEY, 'revoke'), {});
    assert.equal(api.grant?.status?.phase, 'Expired');
    assert.deepEqual(lags, [0.2], 'the lag runs to when access ended, not to the record');
    assert.equal(c.awaitsRecord(KEY), false);
    assert.ok(
      events.some((e) => e.startsWith('Expired: access expired')),
      events.join(' | '),
    );
  });

  it('outside the revoke lane, revokes and records in one reconcile', async () => {
    await controller().reconcile(KEY);
    clock.advance(3600_000);
    assert.deepEqual(await controller().reconcile(KEY), {});
    assert.equal(provider.held.size, 0);
    assert.equal(api.grant?.status?.phase, 'Expired');
  });

  it('says on the grant, and in a Warning Event, when a revocation keeps failing, and when it is over', async () => {
    const c = controller();
    await c.reconcile(KEY);
    clock.advance(3600_000);
    provider.failRevoke = new Error('IAM: service unavailable');
    const synced = () => api.grant?.status?.conditions?.find((x) => x.type === 'Synced');
    for (let i = 1; i <= 3; i++) {
      await assert.rejects(c.reconcile(KEY, 'revoke'), /service unavailable/);
      assert.equal(synced()?.status === 'False', i >= 3, `after ${i} failures`);
    }
    assert.equal(synced()?.reason, 'RevocationFailing');
    assert.match(synced()?.message ?? '', /3 attempts in a row failed.*IAM: service unavailable/);
    assert.equal(events.filter((e) => e.startsWith('RevocationFailing:')).length, 1, 'once');
    await assert.rejects(c.reconcile(KEY, 'revoke'));
    assert.equal(events.filter((e) => e.startsWith('RevocationFailing:')).length, 1, 'not again');

    provider.failRevoke = undefined;
    await c.reconcile(KEY, 'revoke');
    assert.equal(provider.held.size, 0);
    assert.deepEqual([synced()?.status, synced()?.reason], ['True', 'Synced']);
  });

  describe('a 403 from an API server warming up', () => {
    const warming = () =>
      new TerminalError('Forbidden', 'creating RoleBinding payments/x: forbidden', {
        retryForMs: AUTH_WARMUP_RETRY_MS,
      });
    const synced = () => api.grant?.status?.conditions?.find((c) => c.type === 'Synced');

    it('is retried, the grant saying so, and ends Active once the server answers', async () => {
      provider.refuseWith = warming();
      await assert.rejects(controller().reconcile(KEY), /retrying for up to 30s/);
      assert.equal(api.grant?.status?.phase, 'Pending');
      assert.deepEqual([synced()?.status, synced()?.reason], ['False', 'Retrying']);
      clock.advance(5_000);
      provider.refuseWith = undefined;
      await controller().reconcile(KEY);
      assert.equal(api.grant?.status?.phase, 'Active');
      assert.equal(synced()?.status, 'True');
    });

    it('fails the grant for good once the window is over, granting nothing', async () => {
      provider.refuseWith = warming();
      const c = controller();
      await assert.rejects(c.reconcile(KEY));
      clock.advance(AUTH_WARMUP_RETRY_MS);
      await c.reconcile(KEY);
      assert.equal(api.grant?.status?.phase, 'Failed');
      assert.equal(
        api.grant?.status?.conditions?.find((c) => c.type === 'Ready')?.reason,
        'Forbidden',
      );
      assert.deepEqual(provider.everGranted, []);
    });
  });
});
