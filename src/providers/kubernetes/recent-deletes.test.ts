import assert from 'node:assert/strict';
import { FakeClock } from '../../runtime/clock.ts';
import { RecentDeletes } from './recent-deletes.ts';

describe('RecentDeletes', () => {
  it('remembers a deleted UID', () => {
    const d = new RecentDeletes(new FakeClock());
    d.add('a');
    d.add(undefined);
    assert.equal(d.has('a'), true);
    assert.equal(d.has(undefined), false);
    assert.equal(d.size, 1);
  });

  it('forgets UIDs older than its TTL, so a missed watch event cannot grow it forever', () => {
    const clock = new FakeClock();
    const d = new RecentDeletes(clock, 1000);
    d.add('old');
    clock.advance(600);
    d.add('young');
    clock.advance(500);
    d.add('new');
    assert.deepEqual(
      ['old', 'young', 'new'].map((u) => d.has(u)),
      [false, true, true],
    );
  });

  it('sends one DELETE when the sweeper and the grant controller race for a binding', async () => {
    const d = new RecentDeletes(new FakeClock());
    let calls = 0;
    let finish!: () => void;
    const del = () => {
      calls++;
      return new Promise<void>((r) => (finish = r));
    };
    const first = d.once('uid-1', del);
    const second = d.once('uid-1', del);
    finish();
    assert.deepEqual(await Promise.all([first, second]), [true, false]);
    assert.equal(calls, 1);
    assert.equal(await d.once('uid-1', del), false, 'deleted already: nothing to send');
    assert.equal(calls, 1);
  });

  it('shares a failed DELETE with whoever joined it, and forgets nothing it did not do', async () => {
    const d = new RecentDeletes(new FakeClock());
    let fail!: (e: Error) => void;
    const first = d.once('uid-2', () => new Promise<void>((_, reject) => (fail = reject)));
    const joined = d.once('uid-2', () => Promise.resolve());
    fail(new Error('503 from the API server'));
    await assert.rejects(first, /503/);
    await assert.rejects(joined, /503/, 'the joiner must not take it for gone');
    assert.equal(d.has('uid-2'), false);
    assert.equal(await d.once('uid-2', () => Promise.resolve()), true, 'the retry sends it');
    assert.equal(d.has('uid-2'), true);
  });
});
