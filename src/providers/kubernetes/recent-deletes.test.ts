import assert from 'node:assert/strict';
import { FakeClock } from '../../runtime/clock.ts';
import { RecentDeletes } from './recent-deletes.ts';

describe('RecentDeletes', () => {
  it('remembers a deleted UID until the cache shows the deletion', () => {
    const d = new RecentDeletes(new FakeClock());
    d.add('a');
    d.add(undefined);
    assert.equal(d.has('a'), true);
    assert.equal(d.has(undefined), false);
    d.forget('a');
    assert.equal(d.has('a'), false);
    assert.equal(d.size, 0);
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
});
