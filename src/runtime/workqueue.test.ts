import assert from 'node:assert/strict';
import { FakeClock, MAX_TIMER_MS, timerDelay } from './clock.ts';
import { ExponentialRateLimiter, WorkQueue, runWorkers } from './workqueue.ts';

// Lets pending promise callbacks run; setImmediate fires only after the
// microtask queue is empty, however long the await chains are.
const flush = () => new Promise<void>((resolve) => setImmediate(resolve));

function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

describe('ExponentialRateLimiter', () => {
  it('doubles from 5 ms per key and forgets', () => {
    const rl = new ExponentialRateLimiter();
    assert.deepEqual([rl.when('a'), rl.when('a'), rl.when('a'), rl.when('a')], [5, 10, 20, 40]);
    assert.equal(rl.when('b'), 5);
    assert.equal(rl.retries('a'), 4);
    rl.forget('a');
    assert.equal(rl.retries('a'), 0);
    assert.equal(rl.when('a'), 5);
  });

  it('caps at the maximum, 1000 s by default', () => {
    const rl = new ExponentialRateLimiter({ baseDelayMs: 1000, maxDelayMs: 3000 });
    assert.deepEqual(
      [rl.when('a'), rl.when('a'), rl.when('a'), rl.when('a')],
      [1000, 2000, 3000, 3000],
    );

    const def = new ExponentialRateLimiter();
    for (let i = 0; i < 2000; i++) def.when('a');
    assert.equal(def.when('a'), 1_000_000);
  });

  it('rejects a base above the maximum', () => {
    assert.throws(() => new ExponentialRateLimiter({ baseDelayMs: 10, maxDelayMs: 5 }), RangeError);
  });
});

describe('WorkQueue', () => {
  let clock: FakeClock;
  let q: WorkQueue;

  beforeEach(() => {
    clock = new FakeClock();
    q = new WorkQueue({ clock, name: 'test' });
  });

  it('hands out keys in FIFO order without duplicates', async () => {
    q.add('a');
    q.add('b');
    q.add('a');
    assert.equal(q.len(), 2);
    assert.equal(await q.get(), 'a');
    assert.equal(await q.get(), 'b');
    assert.equal(q.len(), 0);
  });

  it('makes get wait for an add', async () => {
    let got: string | undefined;
    void q.get().then((k) => (got = k));
    await flush();
    assert.equal(got, undefined);
    q.add('a');
    await flush();
    assert.equal(got, 'a');
    assert.equal(q.len(), 0);
  });

  it('holds a key re-added while processing until done', async () => {
    q.add('a');
    assert.equal(await q.get(), 'a');
    q.add('a');
    q.add('a');
    assert.equal(q.len(), 0, 'not queued while being processed');

    let second: string | undefined;
    void q.get().then((k) => (second = k));
    await flush();
    assert.equal(second, undefined, 'a second getter must not receive it');

    q.done('a');
    await flush();
    assert.equal(second, 'a');
    q.done('a');
    assert.equal(q.len(), 0, 'processed once more, not once per add');
  });

  it('does not requeue a key that was not re-added', async () => {
    q.add('a');
    assert.equal(await q.get(), 'a');
    q.done('a');
    assert.equal(q.len(), 0);
  });

  describe('priorities', () => {
    const drain = async (): Promise<string[]> => {
      const out: string[] = [];
      while (q.len() > 0) {
        const k = (await q.get())!;
        out.push(k);
        q.done(k);
      }
      return out;
    };

    it('hands out every key of a higher priority first, FIFO within one', async () => {
      q.add('low1', { priority: -1 });
      q.add('a');
      q.add('low2', { priority: -1 });
      q.add('urgent', { priority: 5 });
      q.add('b');
      assert.equal(q.len(), 5);
      assert.deepEqual(await drain(), ['urgent', 'a', 'b', 'low1', 'low2']);
    });

    it('moves a queued key up when it is added at a higher priority, never down', async () => {
      q.add('a', { priority: -1 });
      q.add('b', { priority: -1 });
      q.add('b');
      q.add('a', { priority: -5 });
      assert.equal(q.len(), 2, 'still one entry per key');
      assert.deepEqual(await drain(), ['b', 'a']);
      assert.equal(q.len(), 0);
    });

    it('requeues a key re-added while processing at the highest priority asked for', async () => {
      q.add('a');
      assert.equal(await q.get(), 'a');
      q.add('a', { priority: -1 });
      q.add('b');
      q.add('a', { priority: 3 });
      q.done('a');
      assert.deepEqual(await drain(), ['a', 'b']);
    });

    it('hands a key out once even after moving up and being added again', async () => {
      q.add('a', { priority: -1 });
      q.add('a', { priority: 1 });
      assert.equal(await q.get(), 'a');
      q.done('a');
      q.add('a', { priority: -1 });
      q.add('z', { priority: -1 });
      assert.deepEqual(await drain(), ['a', 'z']);
    });

    it('fires a delayed key at the higher of the priorities asked for', async () => {
      q.addAfter('a', 100, { priority: -1 });
      q.addAfter('a', 200, { priority: 2 });
      q.add('b', { priority: 1 });
      clock.advance(100);
      assert.deepEqual(await drain(), ['a', 'b']);
    });
  });

  describe('addAfter', () => {
    it('adds only once the clock reaches the deadline', () => {
      q.addAfter('a', 100);
      assert.equal(q.len(), 0);
      clock.advance(99);
      assert.equal(q.len(), 0);
      clock.advance(1);
      assert.equal(q.len(), 1);
    });

    it('adds at once for a delay of zero or less', () => {
      q.addAfter('a', 0);
      q.addAfter('b', -5);
      assert.equal(q.len(), 2);
      assert.equal(clock.pendingTimers, 0);
    });

    it('keeps the earlier deadline when a later one is asked for', async () => {
      q.addAfter('a', 50);
      q.addAfter('a', 100);
      assert.equal(clock.pendingTimers, 1);
      clock.advance(50);
      assert.equal(q.len(), 1);
      assert.equal(await q.get(), 'a');
      q.done('a');
      clock.advance(100);
      assert.equal(q.len(), 0, 'the later request was dropped');
    });

    it('wakes a key due beyond the timer limit after 24 days, so its owner re-plans', () => {
      const day = 24 * 3600 * 1000;
      q.addAfter('far', 30 * day); // e.g. a startAt a month ahead
      clock.advance(MAX_TIMER_MS - 1);
      assert.equal(q.len(), 0, 'not woken early');
      clock.advance(1);
      assert.equal(q.len(), 1, 'woken at the limit');
      assert.equal(clock.pendingTimers, 0, 'one wake-up, not a storm');
    });

    it('never hands setTimeout a delay it would overflow', () => {
      // setTimeout fires after 1 ms when given more than 2^31-1 ms: the system
      // clock clamps every delay below that.
      assert.ok(MAX_TIMER_MS < 2 ** 31 - 1);
      assert.equal(timerDelay(40 * 24 * 3600 * 1000), MAX_TIMER_MS);
      assert.equal(timerDelay(-5), 0);
      assert.equal(timerDelay(1500), 1500);
    });

    it('moves the deadline forward when an earlier one is asked for', () => {
      q.addAfter('a', 100);
      q.addAfter('a', 50);
      assert.equal(clock.pendingTimers, 1);
      clock.advance(50);
      assert.equal(q.len(), 1);
      clock.advance(100);
      assert.equal(q.len(), 1);
      assert.equal(clock.pendingTimers, 0);
    });
  });

  it('backs off rate-limited adds exponentially until forgotten', async () => {
    const retryAfter = async (ms: number) => {
      q.addRateLimited('a');
      clock.advance(ms - 1);
      assert.equal(q.len(), 0, `not before ${ms} ms`);
      clock.advance(1);
      assert.equal(q.len(), 1, `at ${ms} ms`);
      assert.equal(await q.get(), 'a');
      q.done('a');
    };
    await retryAfter(5);
    await retryAfter(10);
    await retryAfter(20);
    assert.equal(q.numRequeues('a'), 3);
    q.forget('a');
    assert.equal(q.numRequeues('a'), 0);
    await retryAfter(5);
  });

  it('wakes waiting getters on shutDown and stops handing out keys', async () => {
    const getters = [q.get(), q.get()];
    q.addAfter('later', 100);
    q.shutDown();
    assert.deepEqual(await Promise.all(getters), [undefined, undefined]);
    assert.equal(clock.pendingTimers, 0, 'delayed adds cancelled');

    q.add('a');
    assert.equal(q.len(), 0);
    assert.equal(await q.get(), undefined);
    assert.equal(q.isShuttingDown(), true);
  });
});

describe('runWorkers', () => {
  let clock: FakeClock;
  let q: WorkQueue;

  beforeEach(() => {
    clock = new FakeClock();
    q = new WorkQueue({ clock });
  });

  it('never processes one key on two workers at once', async () => {
    const active = new Set<string>();
    const gates: (() => void)[] = [];
    const seen: string[] = [];
    let overlaps = 0;

    const done = runWorkers(q, 2, async (key) => {
      if (active.has(key)) overlaps++;
      active.add(key);
      seen.push(key);
      const gate = deferred();
      gates.push(gate.resolve);
      await gate.promise;
      active.delete(key);
    });

    q.add('a');
    await flush();
    assert.deepEqual(seen, ['a']);
    q.add('a');
    await flush();
    assert.deepEqual(seen, ['a'], 'the idle worker left the busy key alone');
    assert.equal(q.len(), 0);

    gates.shift()!();
    await flush();
    assert.deepEqual(seen, ['a', 'a'], 'processed again after done');

    gates.shift()!();
    await flush();
    assert.deepEqual(seen, ['a', 'a']);
    assert.equal(overlaps, 0);

    q.shutDown();
    await done;
  });

  it('lets the event loop in between keys, so probes are answered during a storm', async () => {
    // Handlers that find everything in a cache never wait for I/O: a restart
    // queues every grant at once, and /readyz must still be answered meanwhile.
    const n = 1000;
    let processed = 0;
    for (let i = 0; i < n; i++) q.add(`k${i}`);
    const done = runWorkers(q, 4, async () => {
      processed++;
      if (processed === n) q.shutDown();
    });
    const seenByAProbe = await new Promise<number>((resolve) =>
      setImmediate(() => resolve(processed)),
    );
    assert.ok(seenByAProbe < 20, `a probe waited for ${seenByAProbe} of ${n} keys`);
    await done;
    assert.equal(processed, n);
  });

  it('processes different keys in parallel', async () => {
    let running = 0;
    let peak = 0;
    const gates: (() => void)[] = [];
    const done = runWorkers(q, 2, async () => {
      peak = Math.max(peak, ++running);
      const gate = deferred();
      gates.push(gate.resolve);
      await gate.promise;
      running--;
    });
    q.add('a');
    q.add('b');
    await flush();
    assert.equal(peak, 2);
    for (const open of gates) open();
    q.shutDown();
    await done;
  });

  it('counts a terminal error and drops the key, never retrying it', async () => {
    const seen: [string, boolean][] = [];
    const results: string[] = [];
    let calls = 0;
    class Terminal extends Error {}
    const done = runWorkers(
      q,
      1,
      async (key) => {
        calls++;
        if (key === 'bad') throw new Terminal('cannot ever work');
        if (key === 'flaky' && calls < 3) throw new Error('try again');
      },
      {
        isTerminal: (err) => err instanceof Terminal,
        onError: (key, _err, terminal) => seen.push([key, terminal]),
        observe: (result, seconds) => {
          assert.ok(seconds >= 0);
          results.push(result);
        },
      },
    );
    q.add('bad');
    await flush();
    assert.deepEqual(seen, [['bad', true]]);
    assert.equal(q.numRequeues('bad'), 0, 'forgotten, not backed off');
    clock.advance(60_000);
    await flush();
    assert.equal(calls, 1, 'never retried');
    // An ordinary error is still retried; the loop reports each outcome.
    q.add('flaky');
    await flush();
    clock.advance(5);
    await flush();
    assert.deepEqual(results, ['terminal', 'error', 'success']);
    q.shutDown();
    await done;
  });

  it('retries a failing key with backoff, reports it, and forgets on success', async () => {
    const errors: [string, unknown][] = [];
    let calls = 0;
    const boom = new Error('boom');
    const done = runWorkers(
      q,
      1,
      async () => {
        if (++calls <= 2) throw boom;
      },
      (key, err) => errors.push([key, err]),
    );

    q.add('a');
    await flush();
    assert.equal(calls, 1);
    assert.deepEqual(errors, [['a', boom]]);
    assert.equal(q.numRequeues('a'), 1);

    clock.advance(4);
    await flush();
    assert.equal(calls, 1, 'not before the 5 ms backoff');
    clock.advance(1);
    await flush();
    assert.equal(calls, 2);
    assert.equal(q.numRequeues('a'), 2);

    clock.advance(9);
    await flush();
    assert.equal(calls, 2, 'not before the 10 ms backoff');
    clock.advance(1);
    await flush();
    assert.equal(calls, 3);
    assert.equal(q.numRequeues('a'), 0, 'success resets the backoff');
    assert.equal(errors.length, 2);
    assert.equal(clock.pendingTimers, 0);

    q.shutDown();
    await done;
  });

  it('keeps working when onError throws', async () => {
    let calls = 0;
    const done = runWorkers(
      q,
      1,
      async () => {
        if (++calls === 1) throw new Error('boom');
      },
      () => {
        throw new Error('reporter broke');
      },
    );
    q.add('a');
    await flush();
    clock.advance(5);
    await flush();
    assert.equal(calls, 2);
    q.shutDown();
    await done;
  });

  it('requeues after requeueAfterMs', async () => {
    let calls = 0;
    const done = runWorkers(q, 1, async () => {
      calls++;
      return calls === 1 ? { requeueAfterMs: 1000 } : undefined;
    });

    q.add('a');
    await flush();
    assert.equal(calls, 1);
    clock.advance(999);
    await flush();
    assert.equal(calls, 1);
    clock.advance(1);
    await flush();
    assert.equal(calls, 2);
    clock.advance(10_000);
    await flush();
    assert.equal(calls, 2, 'no requeue without requeueAfterMs');
    assert.equal(q.numRequeues('a'), 0);

    q.shutDown();
    await done;
  });

  it('resolves only after the busy workers finish, once shut down', async () => {
    const gate = deferred();
    let finished = false;
    const done = runWorkers(q, 3, () => gate.promise).then(() => (finished = true));
    q.add('a');
    await flush();
    q.shutDown();
    await flush();
    assert.equal(finished, false, 'a worker is still in the handler');
    gate.resolve();
    await done;
    assert.equal(finished, true);
  });

  it('rejects a worker count below one', async () => {
    await assert.rejects(
      runWorkers(q, 0, async () => {}),
      RangeError,
    );
  });
});
