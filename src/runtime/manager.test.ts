import assert from 'node:assert/strict';
import { createLogger } from '../log/logger.ts';
import { TerminalError } from '../providers/provider.ts';
import { FakeClock } from './clock.ts';
import type { LeaderCallbacks } from './leader.ts';
import { Manager, type Cache, type Elector, type Loop } from './manager.ts';
import { WorkQueue, type ReconcileResult } from './workqueue.ts';

/** A cache that records when it starts and stops, and syncs when told. */
class FakeCache implements Cache {
  hasSynced = false;
  private readonly name: string;
  private readonly events: string[];
  constructor(name: string, events: string[]) {
    this.name = name;
    this.events = events;
  }
  async start() {
    this.events.push(`${this.name} started`);
    this.hasSynced = true;
  }
  async stop() {
    this.events.push(`${this.name} stopped`);
  }
}

/** An elector the test moves by hand: lead(), lose(), as a Lease would. */
class FakeElector implements Elector {
  private cb: LeaderCallbacks | undefined;
  private abort: AbortController | undefined;
  private work: Promise<void> | undefined;
  private ended!: () => void;
  private leading = false;

  run(cb: LeaderCallbacks): Promise<void> {
    this.cb = cb;
    return new Promise((r) => (this.ended = r));
  }
  lead(): void {
    this.leading = true;
    this.abort = new AbortController();
    this.work = Promise.resolve(this.cb!.onStartedLeading(this.abort.signal));
  }
  /** The lease is gone: the work is told, drained, then the loss reported. */
  async lose(): Promise<void> {
    await this.end();
  }
  async stop(): Promise<void> {
    await this.end();
  }
  isLeader(): boolean {
    return this.leading;
  }
  private async end() {
    if (this.abort && !this.abort.signal.aborted) {
      this.leading = false;
      this.abort.abort();
      await this.work;
      this.cb!.onStoppedLeading?.();
    }
    this.ended();
  }
}

/** Resolves once `check` holds, turning the event loop between looks. */
async function until(check: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 1_000; i++) {
    if (check()) return;
    await new Promise((r) => setImmediate(r));
  }
  assert.fail(`never happened: ${what}`);
}

describe('Manager (caches, controllers, leadership, ordered stop)', () => {
  let clock: FakeClock;
  let events: string[];
  let lines: string[];
  let observed: [string, ReconcileResult][];
  let inited: string[];
  const log = () => createLogger({ write: (l) => lines.push(l), level: 'debug' });

  beforeEach(() => {
    clock = new FakeClock();
    events = [];
    lines = [];
    observed = [];
    inited = [];
  });

  const manager = (elector?: Elector, onLost?: () => void) =>
    new Manager({
      log: log(),
      clock,
      isTerminal: (e) => e instanceof TerminalError,
      observe: (loop, result) => observed.push([loop, result]),
      initLoop: (loop) => inited.push(loop),
      ...(elector ? { elector } : {}),
      ...(onLost ? { onLostLeadership: onLost } : {}),
    });

  /** A controller whose reconciles are recorded, failing as `fail` says. */
  const controller = (
    name: string,
    everyReplica = false,
    fail?: (key: string) => Error | undefined,
  ) => {
    const queue = new WorkQueue({ clock, name });
    const seen: string[] = [];
    return {
      queue,
      seen,
      registration: {
        name,
        log: log(),
        ...(everyReplica ? { everyReplica } : {}),
        loops: [
          {
            name,
            queue,
            workers: 1,
            reconcile: async (key: string) => {
              seen.push(key);
              const err = fail?.(key);
              if (err) throw err;
            },
          } as Loop,
        ],
      },
    };
  };

  it('syncs the caches before any controller runs, and stops in the reverse order', async () => {
    const mgr = manager();
    mgr.addCache(new FakeCache('grants', events), new FakeCache('bindings', events));
    const c = controller('accessgrant');
    mgr.addController(c.registration);
    mgr.addLeaderRunnable({
      name: 'notifications',
      start: () => events.push('notifications started'),
      stop: async () => events.push('notifications stopped'),
    });
    mgr.resync(60_000, () => c.queue.add('resynced'));
    assert.equal(mgr.ready(), false);
    await mgr.startCaches();
    assert.equal(mgr.ready(), true);
    mgr.add('webhook', () => events.push('webhook stopped'));
    assert.deepEqual(inited, []);
    await mgr.startControllers();
    assert.deepEqual(inited, ['accessgrant'], 'metrics start at zero before any reconcile');
    c.queue.add('payments/a');
    await until(() => c.seen.includes('payments/a'), 'the key was reconciled');
    clock.advance(60_000);
    await until(() => c.seen.includes('resynced'), 'the resync re-queued');

    assert.deepEqual(mgr.stopOrder, ['resync', 'controllers', 'webhook', 'informers']);
    await mgr.stop();
    assert.deepEqual(events, [
      'grants started',
      'bindings started',
      'notifications started',
      'notifications stopped',
      'webhook stopped',
      'grants stopped',
      'bindings stopped',
    ]);
    assert.equal(c.queue.isShuttingDown(), true);
    clock.advance(600_000);
    assert.equal(clock.pendingTimers, 0, 'no resync after stop');
  });

  it('counts a terminal error once and drops it; retries any other', async () => {
    const mgr = manager();
    const c = controller('accessgrant', false, (key) =>
      key === 'bad' ? new TerminalError('UnknownRole', 'no such role') : new Error('flaky'),
    );
    mgr.addController(c.registration);
    await mgr.startCaches();
    await mgr.startControllers();
    c.queue.add('bad');
    c.queue.add('flaky');
    await until(() => observed.length === 2, 'both reconciled');
    assert.deepEqual(observed.sort(), [
      ['accessgrant', 'error'],
      ['accessgrant', 'terminal'],
    ]);
    // The backoff's first retry is 5 ms away: only the transient one comes back.
    clock.advance(1_000);
    await until(() => observed.length === 3, 'the transient error retried');
    assert.deepEqual(
      c.seen.filter((k) => k === 'bad'),
      ['bad'],
    );
    assert.match(lines.join('\n'), /reconcile failed for good; not retrying.*"key":"bad"/);
    assert.match(lines.join('\n'), /reconcile failed; retrying.*"key":"flaky"/);
    await mgr.stop();
  });

  it('retries even a terminal error in a loop that must never give up (ending access)', async () => {
    const mgr = manager();
    const c = controller('accessgrant-revoke', false, (key) =>
      key === 'bad' ? new TerminalError('AccessDenied', 'the cloud refused the revoke') : undefined,
    );
    c.registration.loops[0] = { ...c.registration.loops[0]!, retryTerminal: true };
    mgr.addController(c.registration);
    await mgr.startCaches();
    await mgr.startControllers();
    c.queue.add('bad');
    await until(() => observed.length === 1, 'reconciled once');
    clock.advance(1_000);
    await until(() => observed.length === 2, 'retried with backoff');
    assert.deepEqual(observed, [
      ['accessgrant-revoke', 'error'],
      ['accessgrant-revoke', 'error'],
    ]);
    await mgr.stop();
  });

  it("runs every replica's controllers at once, and the leader's only while leading", async () => {
    const elector = new FakeElector();
    let lost = 0;
    const mgr = manager(elector, () => lost++);
    const sweeper = controller('binding-sweeper', true);
    const grants = controller('accessgrant');
    mgr.addController(sweeper.registration);
    mgr.addController(grants.registration);
    const notified: string[] = [];
    mgr.addLeaderRunnable({
      name: 'notifications',
      start: () => notified.push('start'),
      stop: async () => notified.push('stop'),
      queueDepths: () => ({ notifications: 7 }),
    });
    await mgr.startCaches();
    await mgr.startControllers();

    grants.queue.add('payments/a');
    sweeper.queue.add('RoleBinding/payments/x');
    // The barrier: the sweeper's worker has run, so the grant's would have too.
    await until(() => sweeper.seen.length === 1, 'the sweeper ran');
    assert.deepEqual(grants.seen, [], 'a follower reconciles no grant');
    assert.deepEqual(notified, []);
    assert.equal(mgr.isLeader(), false);
    assert.deepEqual(mgr.queueDepths(), {
      'binding-sweeper': 0,
      accessgrant: 1,
      notifications: 7,
    });

    elector.lead();
    await until(() => grants.seen.length === 1, 'the leader reconciled the waiting key');
    assert.equal(mgr.isLeader(), true);
    assert.deepEqual(notified, ['start']);

    await elector.lose();
    assert.deepEqual(
      notified,
      ['start', 'stop'],
      'leader work drained before the loss is reported',
    );
    assert.equal(grants.queue.isShuttingDown(), true);
    assert.equal(lost, 1, 'told once, so that the process restarts clean');
    assert.match(lines.join('\n'), /leadership lost; stopping/);
    // The sweeper goes on until the process ends: expired access still goes.
    sweeper.queue.add('RoleBinding/payments/y');
    await until(() => sweeper.seen.length === 2, 'the sweeper still runs');
    await mgr.stop();
    assert.equal(lost, 1);
  });

  it('gives leadership up on stop without calling it lost', async () => {
    const elector = new FakeElector();
    let lost = 0;
    const mgr = manager(elector, () => lost++);
    const grants = controller('accessgrant');
    mgr.addController(grants.registration);
    await mgr.startCaches();
    await mgr.startControllers();
    elector.lead();
    assert.deepEqual(mgr.stopOrder, ['leader-election', 'controllers', 'informers']);
    await mgr.stop();
    assert.equal(lost, 0);
    assert.equal(grants.queue.isShuttingDown(), true);
    assert.throws(() => mgr.addController(controller('late').registration), /added after start/);
  });
});
