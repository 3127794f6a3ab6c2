import assert from 'node:assert/strict';
import { ApiException, V1MicroTime, type V1Lease } from '@kubernetes/client-node';
import { createLogger } from '../log/logger.ts';
import { FakeClock } from './clock.ts';
import { LeaderElector, type LeasePort } from './leader.ts';

/** The Lease API as the elector uses it: a store with resource versions (a stale write is a 409). */
class FakeLeases {
  lease: V1Lease | undefined;
  /** An API server that is away: every call fails. */
  down = false;
  writes = 0;
  private rv = 0;

  private guard(): void {
    if (this.down) throw new Error('connect ECONNREFUSED');
  }
  private store(body: V1Lease): V1Lease {
    this.writes++;
    this.lease = structuredClone({
      ...body,
      metadata: { ...body.metadata, resourceVersion: String(++this.rv) },
    });
    return structuredClone(this.lease);
  }
  async readNamespacedLease(): Promise<V1Lease> {
    this.guard();
    if (!this.lease) throw new ApiException(404, 'not found', {}, {});
    return structuredClone(this.lease);
  }
  async createNamespacedLease({ body }: { body: V1Lease }): Promise<V1Lease> {
    this.guard();
    if (this.lease) throw new ApiException(409, 'exists', {}, {});
    return this.store(body);
  }
  async replaceNamespacedLease({ body }: { body: V1Lease }): Promise<V1Lease> {
    this.guard();
    if (body.metadata?.resourceVersion !== this.lease?.metadata?.resourceVersion) {
      throw new ApiException(409, 'conflict', {}, {});
    }
    return this.store(body);
  }
  /** Another replica holds it, renewed at `at`. */
  heldBy(holder: string, at: Date): void {
    this.store({
      metadata: { name: 'leader', namespace: 'ns' },
      spec: {
        holderIdentity: holder,
        leaseDurationSeconds: 15,
        renewTime: new V1MicroTime(at.getTime()),
        acquireTime: new V1MicroTime(at.getTime()),
      },
    });
  }
}

const flush = async () => {
  for (let i = 0; i < 20; i++) await new Promise((r) => setImmediate(r));
};

describe('LeaderElector (the loop, on a fake clock and a fake Lease API)', () => {
  let clock: FakeClock;
  let leases: FakeLeases;
  const elector = (identity = 'me') =>
    new LeaderElector({
      leases: leases as unknown as LeasePort,
      namespace: 'ns',
      name: 'leader',
      identity,
      clock,
      log: createLogger({ write: () => {} }),
    });
  /** Moves the clock in steps, letting the elector's promises run between them. */
  const pass = async (ms: number, step = 250) => {
    for (let t = 0; t < ms; t += step) {
      clock.advance(step);
      await flush();
    }
  };

  beforeEach(() => {
    clock = new FakeClock('2026-11-25T09:00:00Z');
    leases = new FakeLeases();
  });

  it('leads when the lease is free, renews it, and hands it over on stop', async () => {
    const e = elector();
    let signal: AbortSignal | undefined;
    let stopped = 0;
    void e.run({
      onStartedLeading: (s) => {
        signal = s;
        return new Promise<void>((r) => s.addEventListener('abort', () => r()));
      },
      onStoppedLeading: () => stopped++,
    });
    await flush();
    assert.equal(e.isLeader(), true);
    assert.equal(leases.lease?.spec?.holderIdentity, 'me');
    const before = leases.writes;
    await pass(6_000);
    assert.ok(leases.writes >= before + 2, 'renewed about every retry period');
    await e.stop();
    assert.equal(signal?.aborted, true);
    assert.equal(stopped, 1);
    assert.equal(leases.lease?.spec?.holderIdentity, '', 'released for the next leader');
  });

  it('loses the lease mid-reconcile when renewals fail past the deadline: the work is told to stop', async () => {
    const e = elector();
    let signal: AbortSignal | undefined;
    let lost = 0;
    let reconcileSawAbort = false;
    void e.run({
      onStartedLeading: async (s) => {
        signal = s;
        // A reconcile in progress when the lease is lost: it must see the abort.
        await new Promise<void>((r) => s.addEventListener('abort', () => r()));
        reconcileSawAbort = true;
      },
      onStoppedLeading: () => lost++,
    });
    await flush();
    assert.equal(e.isLeader(), true);
    leases.down = true;
    await pass(9_000);
    assert.equal(e.isLeader(), true, 'still inside the renew deadline (10 s)');
    assert.equal(signal?.aborted, false);
    await pass(2_000);
    assert.equal(e.isLeader(), false);
    assert.equal(signal?.aborted, true);
    assert.equal(reconcileSawAbort, true);
    assert.equal(lost, 1);
    // Given up before anyone else may take over: the lease lasts 15 s from its last renewal.
    const renewed = Date.parse(String(leases.lease?.spec?.renewTime));
    assert.ok(clock.now().getTime() - renewed < 15_000);
    await e.stop();
  });

  it("never takes another holder's unexpired lease, and takes it once it has expired", async () => {
    leases.heldBy('other', clock.now());
    const e = elector();
    let started = 0;
    void e.run({
      onStartedLeading: (s) => {
        started++;
        return new Promise<void>((r) => s.addEventListener('abort', () => r()));
      },
    });
    await pass(14_000);
    assert.equal(started, 0, 'the other holder renewed 14 s ago: its lease still runs');
    assert.equal(leases.lease?.spec?.holderIdentity, 'other');
    // The other replica died: nobody renews; after the full duration, we take over.
    await pass(8_000);
    assert.equal(started, 1);
    assert.equal(leases.lease?.spec?.holderIdentity, 'me');
    assert.equal(leases.lease?.spec?.leaseTransitions, 1);
    await e.stop();
  });
});
