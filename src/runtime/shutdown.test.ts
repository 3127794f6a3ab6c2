import assert from 'node:assert/strict';
import { createLogger } from '../log/logger.ts';
import { FakeClock } from './clock.ts';
import { SETTLE_MS, stopInSteps, within } from './shutdown.ts';

/** Lets pending promise callbacks run, so a step that has been reached has started. */
const settle = () => new Promise((r) => setImmediate(r));

describe('stopInSteps (the shutdown order and its deadline)', () => {
  it('stops the steps in order, each after the one before has finished', async () => {
    const clock = new FakeClock();
    const order: string[] = [];
    const step = (name: string) => ({
      name,
      stop: async () => {
        order.push(`${name} stopping`);
        await settle();
        order.push(`${name} stopped`);
      },
    });
    await stopInSteps(
      [step('operator'), step('etcd')],
      clock.now().getTime() + 1_000,
      clock,
      createLogger({ write: () => {} }),
    );
    assert.deepEqual(order, [
      'operator stopping',
      'operator stopped',
      'etcd stopping',
      'etcd stopped',
    ]);
  });

  it('gives up on a step that hangs when its share runs out, and still runs the ones after it', async () => {
    const clock = new FakeClock();
    const lines: string[] = [];
    const given: Record<string, number> = {};
    const done = stopInSteps(
      [
        // An operator waiting on an API server whose etcd is gone.
        {
          name: 'operator',
          budgetMs: 3_000,
          stop: (ms) => ((given.operator = ms), new Promise(() => {})),
        },
        { name: 'control plane', stop: (ms) => void (given['control plane'] = ms) },
      ],
      clock.now().getTime() + 6_000,
      clock,
      createLogger({ write: (l) => lines.push(l) }),
    );
    await settle();
    assert.equal(given['control plane'], undefined, 'waits for the operator first');
    clock.advance(3_000 + SETTLE_MS);
    await done;
    assert.deepEqual(given, { operator: 3_000, 'control plane': 6_000 - 3_000 - SETTLE_MS });
    assert.match(lines.join('\n'), /operator did not stop within 3000 ms; going on without it/);
  });

  it('logs a step that fails and goes on', async () => {
    const clock = new FakeClock();
    const lines: string[] = [];
    let reached = false;
    await stopInSteps(
      [
        { name: 'portal', stop: () => Promise.reject(new Error('already closed')) },
        { name: 'issuer', stop: () => void (reached = true) },
      ],
      clock.now().getTime() + 1_000,
      clock,
      createLogger({ write: (l) => lines.push(l) }),
    );
    assert.ok(reached);
    assert.match(lines.join('\n'), /"stop failed".*"part":"portal".*already closed/);
  });

  it('gives no step more than what is left of the deadline', async () => {
    const clock = new FakeClock();
    let given: number | undefined;
    await stopInSteps(
      [{ name: 'mailpit', budgetMs: 2_000, stop: (ms) => void (given = ms) }],
      clock.now().getTime() + 500,
      clock,
      createLogger({ write: () => {} }),
    );
    assert.equal(given, 500);
  });
});

describe('within', () => {
  it('says whether the work settled in time', async () => {
    const clock = new FakeClock();
    assert.equal(await within(Promise.resolve(), 10, clock), true);
    assert.equal(await within(Promise.reject(new Error('x')), 10, clock), true);
    const late = within(new Promise(() => {}), 10, clock);
    clock.advance(10);
    assert.equal(await late, false);
    assert.equal(clock.pendingTimers, 0);
  });
});
