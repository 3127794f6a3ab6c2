import assert from 'node:assert/strict';
import { ApiException } from '@kubernetes/client-node';
import { aGrant, anApproval } from '../api/v1alpha1/testing.ts';
import type { AccessApproval, AccessGrant, Phase } from '../api/v1alpha1/types.ts';
import { createLogger } from '../log/logger.ts';
import { FakeClock } from '../runtime/clock.ts';
import { WorkQueue } from '../runtime/workqueue.ts';
import {
  ANNOTATION_RETAIN,
  RetentionController,
  retentionDecision,
  type RetentionDeleter,
} from './retention.ts';
import { setupRetention } from './retention-setup.ts';

const HOUR_MS = 60 * 60_000;
const NOW = new Date('2026-11-25T12:00:00Z');

/** A grant that ended at `endedAt`, its one binding revoked. */
function ended(endedAt: string, phase: Phase = 'Expired', extra: Partial<AccessGrant> = {}) {
  return aGrant({
    metadata: { resourceVersion: '7', finalizers: ['timebox.dev/revoke-access'] },
    status: {
      phase,
      endedAt,
      targets: [
        {
          provider: 'kubernetes',
          ref: 'RoleBinding payments/timebox-alice-debug',
          state: 'Revoked',
          failSafe: false,
        },
      ],
    },
    ...extra,
  });
}

describe('retentionDecision (when an ended grant may go)', () => {
  it('never deletes a grant that has not ended, however old', () => {
    for (const phase of ['Pending', 'Active'] as const) {
      const g = aGrant({ status: { phase, endedAt: '2020-01-01T00:00:00Z' } });
      assert.deepEqual(retentionDecision(g, NOW, HOUR_MS, false), {
        action: 'keep',
        reason: 'not ended',
      });
    }
    assert.equal(retentionDecision(aGrant(), NOW, HOUR_MS, false).action, 'keep');
  });

  it('waits until endedAt + retention, to the millisecond, then deletes', () => {
    const g = ended('2026-11-25T11:30:00Z');
    assert.deepEqual(retentionDecision(g, NOW, HOUR_MS, false), {
      action: 'wait',
      afterMs: 30 * 60_000,
    });
    assert.deepEqual(retentionDecision(g, new Date('2026-11-25T12:30:00Z'), HOUR_MS, false), {
      action: 'delete',
      endedAt: '2026-11-25T11:30:00Z',
    });
  });

  it('deletes every terminal phase', () => {
    for (const phase of ['Expired', 'Revoked', 'Denied', 'Failed'] as const)
      assert.equal(
        retentionDecision(ended('2026-11-25T10:00:00Z', phase), NOW, HOUR_MS, false).action,
        'delete',
      );
  });

  it('keeps a grant whose access is not fully revoked', () => {
    const live = ended('2026-11-25T10:00:00Z');
    live.status!.targets![0]!.state = 'Active';
    assert.match(
      (retentionDecision(live, NOW, HOUR_MS, false) as { reason: string }).reason,
      /access not revoked yet: RoleBinding payments\/timebox-alice-debug/,
    );
    assert.deepEqual(retentionDecision(ended('2026-11-25T10:00:00Z'), NOW, HOUR_MS, true), {
      action: 'keep',
      reason: 'a binding of the grant is still there',
    });
    const failing = ended('2026-11-25T10:00:00Z');
    failing.status!.conditions = [
      {
        type: 'Synced',
        status: 'False',
        reason: 'RevocationFailing',
        message: 'AccessDenied',
        lastTransitionTime: '2026-11-25T10:00:00Z',
      },
    ];
    assert.equal(retentionDecision(failing, NOW, HOUR_MS, false).action, 'keep');
  });

  it(`keeps a grant annotated ${ANNOTATION_RETAIN}: "true", or one already being deleted`, () => {
    const kept = ended('2026-11-25T10:00:00Z');
    kept.metadata.annotations = { [ANNOTATION_RETAIN]: 'true' };
    assert.equal(retentionDecision(kept, NOW, HOUR_MS, false).action, 'keep');
    const deleting = ended('2026-11-25T10:00:00Z');
    deleting.metadata.deletionTimestamp = NOW;
    assert.equal(retentionDecision(deleting, NOW, HOUR_MS, false).action, 'keep');
  });

  it('takes when it entered its terminal phase when there is no endedAt', () => {
    const denied = aGrant({
      status: {
        phase: 'Denied',
        history: [
          { phase: 'Pending', at: '2026-11-25T09:00:00Z', reason: 'AwaitingApproval' },
          { phase: 'Denied', at: '2026-11-25T11:00:00Z', reason: 'PendingTimeout' },
        ],
      },
    });
    assert.deepEqual(retentionDecision(denied, NOW, 2 * HOUR_MS, false), {
      action: 'wait',
      afterMs: HOUR_MS,
    });
    const nothing = aGrant({ status: { phase: 'Denied' } });
    assert.deepEqual(retentionDecision(nothing, NOW, HOUR_MS, false), {
      action: 'keep',
      reason: 'no end time',
    });
  });
});

describe('RetentionController', () => {
  function fixture(grant: AccessGrant, approvals: AccessApproval[] = []) {
    const clock = new FakeClock('2026-11-25T11:00:00Z');
    const store = new Map([[`${grant.metadata.namespace}/${grant.metadata.name}`, grant]]);
    const calls: string[] = [];
    const events: string[] = [];
    const lines: string[] = [];
    const counted: string[] = [];
    const deleter: RetentionDeleter = {
      deleteGrant: async (g) => {
        const key = `${g.metadata.namespace}/${g.metadata.name}`;
        calls.push(`grant ${key} uid=${g.metadata.uid} rv=${g.metadata.resourceVersion}`);
        if (!store.delete(key)) throw new ApiException(404, 'not found', {}, {});
      },
      deleteApproval: async (a) => void calls.push(`approval ${a.metadata.name}`),
    };
    const controller = new RetentionController({
      grants: { get: (name, ns) => store.get(`${ns}/${name}`) },
      approvals: { list: () => approvals },
      bindingsLeft: () => false,
      deleter,
      recorder: {
        record: (_o, type, reason, message) => events.push(`${type} ${reason}: ${message}`),
      },
      clock,
      log: createLogger({ write: (l) => lines.push(l) }),
      retentionMs: HOUR_MS,
      deleted: { inc: ({ phase }) => void counted.push(phase) },
    });
    return { clock, store, calls, events, lines, counted, controller };
  }

  it('deletes an ended grant on a timer at endedAt + retention, its approvals first, and leaves an audit trail', async () => {
    const grant = ended('2026-11-25T10:30:00Z', 'Revoked');
    const mine = anApproval({ metadata: { name: 'bob-ok' } });
    // A newer grant of the same name (another UID) keeps its approval.
    const newer = anApproval({
      metadata: { name: 'bob-ok-2' },
      spec: { grantRef: { uid: 'uid-of-a-newer-grant' } },
    });
    const f = fixture(grant, [mine, newer]);

    assert.deepEqual(await f.controller.reconcile('payments/alice-debug'), {
      requeueAfterMs: 30 * 60_000,
    });
    assert.deepEqual(f.calls, [], 'nothing deleted before its time');

    f.clock.advance(30 * 60_000);
    assert.deepEqual(await f.controller.reconcile('payments/alice-debug'), {});
    assert.deepEqual(f.calls, [
      'approval bob-ok',
      'grant payments/alice-debug uid=uid-alice-debug rv=7',
    ]);
    assert.deepEqual(f.counted, ['Revoked']);
    assert.deepEqual(f.events, [
      'Normal Deleted: deleting the grant: it ended (Revoked) at 2026-11-25T10:30:00Z, more than 1h ago (--ended-grant-retention)',
    ]);
    const audit = JSON.parse(f.lines.find((l) => l.includes('deleted ended grant'))!) as Record<
      string,
      unknown
    >;
    assert.deepEqual(
      {
        grant: audit.grant,
        uid: audit.uid,
        subject: audit.subject,
        phase: audit.phase,
        endedAt: audit.endedAt,
        approvals: audit.approvals,
      },
      {
        grant: 'payments/alice-debug',
        uid: 'uid-alice-debug',
        subject: 'User alice@example.com',
        phase: 'Revoked',
        endedAt: '2026-11-25T10:30:00Z',
        approvals: 1,
      },
    );
  });

  it('counts nothing when the grant was already gone', async () => {
    const f = fixture(ended('2026-11-25T09:00:00Z'));
    const grant = f.store.get('payments/alice-debug')!;
    const controller = new RetentionController({
      grants: { get: () => grant },
      approvals: { list: () => [] },
      bindingsLeft: () => false,
      deleter: {
        deleteGrant: () => Promise.reject(new ApiException(404, 'gone', {}, {})),
        deleteApproval: async () => {},
      },
      recorder: { record: () => {} },
      clock: f.clock,
      log: createLogger({ write: () => {} }),
      retentionMs: HOUR_MS,
      deleted: { inc: ({ phase }) => void f.counted.push(phase) },
    });
    assert.deepEqual(await controller.reconcile('payments/alice-debug'), {});
    assert.deepEqual(f.counted, []);
  });

  it('never touches an active grant, nor its approvals', async () => {
    const active = aGrant({ status: { phase: 'Active', expiresAt: '2026-11-25T11:30:00Z' } });
    const f = fixture(active, [anApproval()]);
    f.clock.advance(1_000 * HOUR_MS);
    assert.deepEqual(await f.controller.reconcile('payments/alice-debug'), {});
    assert.deepEqual(f.calls, []);
  });
});

describe('setupRetention', () => {
  it('runs on the leader only, and queues a grant on every change and when one of its bindings goes', () => {
    const handlers: Record<string, ((o: unknown) => void)[]> = {};
    const source = (kind: string) => ({
      on: (verb: string, h: (o: never) => void) =>
        void (handlers[`${kind} ${verb}`] ??= []).push(h as (o: unknown) => void),
    });
    const c = setupRetention({
      retention: { reconcile: async () => ({}) },
      grants: source('grant'),
      bindings: [source('binding')],
      clock: new FakeClock(),
      log: createLogger({ write: () => {} }),
    });
    assert.equal(c.everyReplica, undefined, 'deleting is a decision, made by the leader');
    const queue: WorkQueue = c.loops[0]!.queue;
    handlers['grant update']![0]!(aGrant());
    handlers['binding delete']![0]!({
      metadata: {
        name: 'timebox-alice-debug',
        namespace: 'payments',
        labels: { 'timebox.dev/grant-uid': 'uid-alice-debug' },
        annotations: { 'timebox.dev/grant': 'payments/other' },
      },
    });
    assert.equal(queue.len(), 2);
  });
});
