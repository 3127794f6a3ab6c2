import assert from 'node:assert/strict';
import { aGrant } from '../api/v1alpha1/testing.ts';
import type { AccessGrant, AccessGrantStatus } from '../api/v1alpha1/types.ts';
import {
  KeyedMutex,
  laneOf,
  laneOfTimer,
  RECORD_PRIORITY,
  REVOKE_PRIORITY,
  revokePriority,
} from './lanes.ts';

const NOW = new Date('2026-11-27T10:00:00Z');
const grant = (
  status?: AccessGrantStatus,
  spec: Partial<AccessGrant['spec']> = {},
  deleting = false,
) => aGrant({ metadata: { deletionTimestamp: deleting ? NOW : undefined }, spec, status });

describe('lanes', () => {
  it('sends whatever ends access to the revoke lane, and the rest to the grant lane', () => {
    const cases: [AccessGrant | undefined, string][] = [
      [undefined, 'revoke'],
      [grant(), 'grant'],
      [grant({ phase: 'Pending' }), 'grant'],
      [grant({ phase: 'Active', expiresAt: '2026-11-27T11:00:00Z' }), 'grant'],
      [grant({ phase: 'Active', expiresAt: '2026-11-27T10:00:00Z' }), 'revoke'],
      [grant({ phase: 'Pending', expiresAt: '2026-11-27T09:00:00Z' }), 'revoke'],
      [grant({ phase: 'Active' }, { revoked: true }), 'revoke'],
      [grant({ phase: 'Active' }, {}, true), 'revoke'],
      [grant({ phase: 'Expired' }), 'revoke'],
      [grant({ phase: 'Denied' }), 'revoke'],
    ];
    for (const [g, lane] of cases) assert.equal(laneOf(g, NOW), lane, JSON.stringify(g?.status));
  });

  it('fires an expiry timer into the revoke lane, a start timer into the grant lane', () => {
    assert.equal(
      laneOfTimer(grant({ phase: 'Active', expiresAt: '2026-11-27T11:00:00Z' })),
      'revoke',
    );
    assert.equal(
      laneOfTimer(grant({ phase: 'Pending' }, { startAt: '2026-11-28T00:00:00Z' })),
      'grant',
    );
  });

  it('revokes before it records: known-gone access waits behind access that may remain', () => {
    const none = { awaitsRecord: false, bindingsLeft: false };
    const expired = grant({ phase: 'Active', expiresAt: '2026-11-27T10:00:00Z' });
    const cases: [AccessGrant | undefined, typeof none, number][] = [
      [expired, none, REVOKE_PRIORITY],
      [grant({ phase: 'Active' }, { revoked: true }), none, REVOKE_PRIORITY],
      [grant({ phase: 'Active' }, {}, true), none, REVOKE_PRIORITY],
      [expired, { awaitsRecord: true, bindingsLeft: false }, RECORD_PRIORITY],
      [grant({ phase: 'Expired' }), none, RECORD_PRIORITY],
      // A terminal grant whose binding is still there (a crash, a lagging delete): urgent.
      [grant({ phase: 'Expired' }), { awaitsRecord: false, bindingsLeft: true }, REVOKE_PRIORITY],
      [undefined, none, RECORD_PRIORITY],
    ];
    for (const [g, known, want] of cases) {
      assert.equal(
        revokePriority(g, known),
        want,
        `${JSON.stringify(g?.status)} ${JSON.stringify(known)}`,
      );
    }
    assert.ok(REVOKE_PRIORITY > RECORD_PRIORITY);
  });

  it('runs one reconcile per key at a time, in arrival order, and others in parallel', async () => {
    const mutex = new KeyedMutex();
    const log: string[] = [];
    let releaseFirst!: () => void;
    const first = mutex.run('a', async () => {
      log.push('a1 start');
      await new Promise<void>((r) => (releaseFirst = r));
      log.push('a1 end');
    });
    const second = mutex.run('a', async () => void log.push('a2'));
    await mutex.run('b', async () => void log.push('b'));
    assert.deepEqual(log, ['a1 start', 'b'], 'b did not wait for a; a2 did');
    releaseFirst();
    await Promise.all([first, second]);
    assert.deepEqual(log, ['a1 start', 'b', 'a1 end', 'a2']);
    assert.equal(mutex.size, 0);
  });
});
