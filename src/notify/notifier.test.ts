import assert from 'node:assert/strict';
import { ApiException } from '@kubernetes/client-node';
import { aGrant, aPolicy } from '../api/v1alpha1/testing.ts';
import type { AccessGrant, AccessGrantStatus } from '../api/v1alpha1/types.ts';
import { createLogger } from '../log/logger.ts';
import { FakeClock } from '../runtime/clock.ts';
import { ChannelError } from './channels.ts';
import { ChannelHealth, type ChannelState } from './health.ts';
import { BROKEN_CHANNEL_RETRY_MS, Notifier, NotifyRetry, type NotifierDeps } from './notifier.ts';
import { DeliveryError, type Notification, type Sender } from './types.ts';

const KEY = 'payments/alice-debug';
const NOW = '2026-11-27T10:00:00.000Z';

const policy = aPolicy({
  metadata: { name: 'payments' },
  spec: {
    approval: { mode: 'Manual', approvers: { users: ['bob'] } },
    notify: [{ channel: 'leads' }, { channel: 'chat' }],
  },
});

/** The grant as the API server holds it: merge-patched status with compare-and-swap. */
class FakeGrants {
  grant: AccessGrant = aGrant({
    metadata: { name: 'alice-debug', namespace: 'payments', uid: 'uid-1', resourceVersion: '1' },
    spec: {
      subject: { name: 'alice' },
      policy: 'payments',
      reason: 'INC-1',
      access: [{ kubernetes: { clusterRole: 'edit', namespaces: ['payments'] } }],
    },
    status: {
      phase: 'Pending',
      requestedBy: 'alice',
      conditions: [
        {
          type: 'Ready',
          status: 'False',
          reason: 'AwaitingApproval',
          message: 'waiting for 1 approval',
          lastTransitionTime: NOW,
        },
      ],
    },
  });
  failWrites = 0;
  conflictOnce = false;
  async patchStatus(g: AccessGrant, status: AccessGrantStatus): Promise<AccessGrant> {
    if (this.failWrites > 0) {
      this.failWrites--;
      throw new Error('connection reset');
    }
    if (this.conflictOnce || g.metadata.resourceVersion !== this.grant.metadata.resourceVersion) {
      this.conflictOnce = false;
      this.bump();
      throw new ApiException(409, 'Conflict', '{}', {});
    }
    this.grant = { ...this.grant, status: { ...this.grant.status, ...status } };
    this.bump();
    return structuredClone(this.grant);
  }
  async get(): Promise<AccessGrant> {
    return structuredClone(this.grant);
  }
  bump(): void {
    this.grant.metadata.resourceVersion = String(Number(this.grant.metadata.resourceVersion) + 1);
  }
}

class FakeSender implements Sender {
  readonly kind = 'webhook' as const;
  sent: { n: Notification; previous: string | undefined }[] = [];
  fail: Error | undefined;
  async send(n: Notification, previous?: string) {
    if (this.fail) throw this.fail;
    this.sent.push({ n, previous });
    return { ref: `ts-${this.sent.length}` };
  }
}

describe('Notifier', () => {
  let api: FakeGrants;
  let senders: Record<string, FakeSender>;
  let changes: [string, ChannelState][];
  let health: ChannelHealth;
  const clock = new FakeClock(NOW);

  const notifier = (over: Partial<NotifierDeps> = {}) =>
    new Notifier({
      grants: { get: () => structuredClone(api.grant) },
      policies: { get: (n) => (n === 'payments' ? policy : undefined) },
      channels: {
        sender: async (name) => {
          const s = senders[name];
          if (!s)
            throw new ChannelError(
              'ChannelNotFound',
              `NotificationChannel '${name}' does not exist`,
            );
          return s;
        },
      },
      writer: api,
      heldUntil: () => undefined,
      health,
      act: { cli: 'timebox' },
      clock,
      log: createLogger({ write: () => {} }),
      ...over,
    });
  const sentTo = (c: string) => senders[c]!.sent.map((s) => s.n.event);

  beforeEach(() => {
    api = new FakeGrants();
    senders = { leads: new FakeSender(), chat: new FakeSender() };
    changes = [];
    health = new ChannelHealth((c, s) => changes.push([c, s]));
  });

  it('delivers a waiting request to every channel once, and records it', async () => {
    const n = notifier();
    await n.reconcile(KEY);
    await n.reconcile(KEY);
    assert.deepEqual(sentTo('leads'), ['Requested']);
    assert.deepEqual(sentTo('chat'), ['Requested']);
    assert.deepEqual(
      api.grant.status?.notifications?.map((r) => `${r.channel}/${r.event}/${r.ref}`),
      ['leads/Requested/ts-1', 'chat/Requested/ts-1'],
    );
    const sent = senders.leads!.sent[0]!.n;
    assert.match(
      sent.act?.approveCommand ?? '',
      /^timebox approve alice-debug -n payments --spec-hash [0-9a-f]{64}$/,
    );
    assert.equal(sent.id, 'uid-1.requested');
  });

  it('after a crash before the record, a new process delivers (at least once)', async () => {
    api.failWrites = 1;
    await assert.rejects(notifier().reconcile(KEY), /connection reset/);
    // The process dies here: what it sent is not recorded.
    await notifier().reconcile(KEY);
    assert.deepEqual(sentTo('leads'), ['Requested', 'Requested']);
    assert.equal(api.grant.status?.notifications?.length, 2);
  });

  it('a running notifier whose record write failed does not send again, and records later', async () => {
    const n = notifier();
    api.failWrites = 1;
    await assert.rejects(n.reconcile(KEY));
    await n.reconcile(KEY);
    assert.deepEqual(sentTo('leads'), ['Requested']);
    assert.equal(api.grant.status?.notifications?.length, 2);
  });

  it('records on the fresh object when another write got in first (409)', async () => {
    api.conflictOnce = true;
    await notifier().reconcile(KEY);
    assert.equal(api.grant.status?.notifications?.length, 2);
  });

  it('updates the message of the request in place when the grant moves on', async () => {
    const n = notifier();
    await n.reconcile(KEY);
    api.grant.status = {
      ...api.grant.status,
      phase: 'Active',
      approvals: [{ approver: 'bob', decision: 'Approve', at: NOW, specHash: 'x' }],
      activatedAt: NOW,
      expiresAt: '2026-11-27T11:00:00.000Z',
      history: [{ phase: 'Active', at: NOW, reason: 'Granted' }],
    };
    await n.reconcile(KEY);
    assert.deepEqual(
      senders.chat!.sent.map((s) => [s.n.event, s.previous]),
      [
        ['Requested', undefined],
        ['Approved', 'ts-1'],
        ['Activated', 'ts-2'],
      ],
    );
    assert.equal(senders.chat!.sent[1]!.n.actor?.user, 'bob');
  });

  it('keeps delivering to the channels that work when one fails, and retries the failed one', async () => {
    senders.chat!.fail = new DeliveryError('HTTP 503', { retryable: true, retryAfterMs: 7000 });
    const r = await notifier().reconcile(KEY);
    assert.equal(r.requeueAfterMs, 7000, 'the receiver said when');
    assert.deepEqual(sentTo('leads'), ['Requested']);
    assert.deepEqual(
      api.grant.status?.notifications?.map((r) => r.channel),
      ['leads'],
    );
    senders.chat!.fail = undefined;
    await notifier().reconcile(KEY);
    assert.deepEqual(sentTo('chat'), ['Requested']);
    assert.deepEqual(sentTo('leads'), ['Requested'], 'not sent twice to the channel that worked');
  });

  it('marks a channel not ready at once when it cannot work, and ready again after a delivery', async () => {
    delete senders.chat;
    const r = await notifier().reconcile(KEY);
    assert.equal(r.requeueAfterMs, BROKEN_CHANNEL_RETRY_MS, 'a broken channel is retried rarely');
    assert.deepEqual(
      changes.map(([c, s]) => [c, s.ready, s.reason]),
      [
        ['leads', true, 'Delivering'],
        ['chat', false, 'ChannelNotFound'],
      ],
    );
    senders.chat = new FakeSender();
    await notifier().reconcile(KEY);
    assert.deepEqual(changes.at(-1)?.slice(0, 1), ['chat']);
    assert.equal(changes.at(-1)?.[1].ready, true);
  });

  it('sends nothing for a policy without notify, or a grant that is gone', async () => {
    const quiet = notifier({ grants: { get: () => undefined } });
    assert.deepEqual(await quiet.reconcile(KEY), {});
    assert.deepEqual(sentTo('leads'), []);
  });

  it('backs off on a failure with no word on when to retry', async () => {
    senders.chat!.fail = new DeliveryError('connection reset', { retryable: true });
    await assert.rejects(notifier().reconcile(KEY), NotifyRetry);
  });

  it('never drops as stale an event that was on time when first seen, however long delivery fails', async () => {
    const n = notifier();
    senders.chat!.fail = new DeliveryError('HTTP 503', { retryable: true, retryAfterMs: 1000 });
    api.grant.status = {
      ...api.grant.status,
      phase: 'Expired',
      endedAt: NOW,
      conditions: [],
    };
    await n.reconcile(KEY);
    clock.advance(2 * 3600_000);
    senders.chat!.fail = undefined;
    await n.reconcile(KEY);
    assert.deepEqual(sentTo('chat'), ['Ended'], 'delivered two hours late, not dropped');
    clock.advance(-2 * 3600_000);
  });

  it('does not write one grant’s records into another made under its name', async () => {
    const n = notifier();
    api.failWrites = 1;
    await assert.rejects(n.reconcile(KEY));
    // Deleted and created again: same name, new UID, nothing told yet.
    api.grant = { ...api.grant, metadata: { ...api.grant.metadata, uid: 'uid-2' } };
    await n.reconcile(KEY);
    assert.deepEqual(sentTo('leads'), ['Requested', 'Requested'], 'the new grant is told too');
    assert.ok(api.grant.status?.notifications?.every((r) => r.ref === 'ts-2'));
  });

  it('does not send again from a cache that has not caught up with its own record', async () => {
    // The informer's copy, one write behind: the next reconcile runs from it.
    const stale = structuredClone(api.grant);
    const n = notifier({ grants: { get: () => structuredClone(stale) } });
    await n.reconcile(KEY);
    await n.reconcile(KEY);
    assert.deepEqual(sentTo('leads'), ['Requested']);
    assert.deepEqual(sentTo('chat'), ['Requested']);
  });
});
