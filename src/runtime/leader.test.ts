import assert from 'node:assert/strict';
import { V1MicroTime, type V1LeaseSpec } from '@kubernetes/client-node';
import { canAcquireLease, heldLeaseSpec, releasedLeaseSpec } from './leader.ts';

describe('leader election decisions', () => {
  const now = new Date('2026-11-25T09:00:00Z');
  const ago = (ms: number) => new Date(now.getTime() - ms);
  const heldBy = (holder: string, renewedMsAgo: number, seconds = 15): V1LeaseSpec => ({
    holderIdentity: holder,
    leaseDurationSeconds: seconds,
    renewTime: new V1MicroTime(ago(renewedMsAgo).getTime()),
  });

  describe('canAcquireLease', () => {
    it('does not believe a lease that claims to last longer than ours', () => {
      const now = new Date('2026-11-27T10:00:00Z');
      const hijacked = {
        holderIdentity: 'mallory',
        leaseDurationSeconds: 10_000_000,
        renewTime: new Date('2026-11-27T09:59:40Z') as never,
      };
      assert.equal(canAcquireLease(hijacked, 'a', now), false, 'as the lease says');
      assert.equal(canAcquireLease(hijacked, 'a', now, undefined, 15_000), true, 'capped at 15 s');
    });

    it('takes a lease nobody holds', () => {
      assert.equal(canAcquireLease(undefined, 'a', now), true);
      assert.equal(canAcquireLease({}, 'a', now), true);
      // The release form: just renewed, but with no holder.
      assert.equal(canAcquireLease({ ...heldBy('', 0), leaseDurationSeconds: 1 }, 'a', now), true);
    });

    it('renews its own lease at any time', () => {
      assert.equal(canAcquireLease(heldBy('a', 0), 'a', now), true);
      assert.equal(canAcquireLease(heldBy('a', 60_000), 'a', now), true);
    });

    it("never takes another holder's unexpired lease", () => {
      assert.equal(canAcquireLease(heldBy('b', 0), 'a', now), false);
      assert.equal(canAcquireLease(heldBy('b', 14_999), 'a', now), false);
    });

    it('takes another holder’s lease once renewTime + leaseDurationSeconds has passed', () => {
      assert.equal(canAcquireLease(heldBy('b', 15_000), 'a', now), true);
      assert.equal(canAcquireLease(heldBy('b', 60_000), 'a', now), true);
      assert.equal(canAcquireLease(heldBy('b', 2_000, 2), 'a', now), true);
      assert.equal(canAcquireLease(heldBy('b', 1_999, 2), 'a', now), false);
    });

    it('reads MicroTime strings as the client returns them', () => {
      const wire = (renew: string) =>
        ({ holderIdentity: 'b', leaseDurationSeconds: 15, renewTime: renew }) as never;
      assert.equal(canAcquireLease(wire('2026-11-25T08:59:50.000000Z'), 'a', now), false);
      assert.equal(canAcquireLease(wire('2026-11-25T08:59:44.999999Z'), 'a', now), true);
    });

    it('falls back to acquireTime, and treats a lease with no times as expired', () => {
      const acquired = { holderIdentity: 'b', leaseDurationSeconds: 15, acquireTime: ago(1000) };
      assert.equal(canAcquireLease(acquired as V1LeaseSpec, 'a', now), false);
      assert.equal(
        canAcquireLease({ holderIdentity: 'b', leaseDurationSeconds: 15 }, 'a', now),
        true,
      );
    });

    it('waits a full duration after last seeing the lease change, whatever renewTime says', () => {
      // A holder whose clock lags ours writes renewTimes that look stale but keeps renewing.
      const skewed = heldBy('b', 20_000);
      assert.equal(canAcquireLease(skewed, 'a', now, ago(1000)), false);
      assert.equal(canAcquireLease(skewed, 'a', now, ago(15_000)), true);
    });
  });

  describe('lease specs', () => {
    const earlier = new Date('2026-11-25T08:00:00Z');

    it('creates a lease with no transitions', () => {
      const spec = heldLeaseSpec(undefined, 'a', now, 15);
      assert.equal(spec.holderIdentity, 'a');
      assert.equal(spec.leaseDurationSeconds, 15);
      assert.equal(spec.leaseTransitions, 0);
      assert.ok(spec.renewTime instanceof Date);
      assert.equal(spec.renewTime.toISOString(), '2026-11-25T09:00:00.000000Z');
      assert.equal(spec.acquireTime?.getTime(), now.getTime());
    });

    it('keeps acquireTime and transitions when renewing', () => {
      const observed = {
        holderIdentity: 'a',
        leaseDurationSeconds: 15,
        leaseTransitions: 3,
        acquireTime: '2026-11-25T08:00:00.000000Z',
        renewTime: '2026-11-25T08:59:58.000000Z',
      } as unknown as V1LeaseSpec;
      const spec = heldLeaseSpec(observed, 'a', now, 15);
      assert.equal(spec.leaseTransitions, 3);
      assert.equal(spec.acquireTime?.getTime(), earlier.getTime());
      assert.equal(spec.renewTime?.getTime(), now.getTime());
    });

    it('counts a transition when taking over, from another holder or a released lease', () => {
      for (const holder of ['b', '']) {
        const observed: V1LeaseSpec = { ...heldBy(holder, 30_000), leaseTransitions: 3 };
        const spec = heldLeaseSpec(observed, 'a', now, 15);
        assert.equal(spec.holderIdentity, 'a');
        assert.equal(spec.leaseTransitions, 4);
        assert.equal(spec.acquireTime?.getTime(), now.getTime());
      }
    });

    it('releases in client-go’s form, keeping the transition count', () => {
      const spec = releasedLeaseSpec({ ...heldBy('a', 1000), leaseTransitions: 4 }, now);
      assert.equal(spec.holderIdentity, '');
      assert.equal(spec.leaseDurationSeconds, 1);
      assert.equal(spec.leaseTransitions, 4);
      assert.equal(spec.renewTime?.getTime(), now.getTime());
      assert.equal(canAcquireLease(spec, 'b', now), true);
    });
  });
});
