import assert from 'node:assert/strict';
import { AuditIntake, type IntakeResult } from './intake.ts';
import { anEvent } from './fixtures.ts';

function counters() {
  const n: Record<IntakeResult, number> = {
    received: 0,
    attributed: 0,
    unattributed: 0,
    dropped: 0,
    lost: 0,
  };
  return { n, inc: (r: IntakeResult, k: number) => (n[r] += k) };
}

describe('audit intake', () => {
  it('never processes in the caller: offer returns at once, work runs later in slices', () => {
    const c = counters();
    const later: (() => void)[] = [];
    let processed = 0;
    const intake = new AuditIntake({
      capacity: 100,
      batch: 10,
      counters: c,
      process: () => (processed++, true),
      defer: (fn) => later.push(fn),
    });
    assert.equal(
      intake.offer(
        Array.from({ length: 25 }, () => anEvent()),
        0,
      ),
      0,
    );
    assert.equal(processed, 0);
    later.shift()!();
    assert.equal(processed, 10, 'one slice, then it yields');
    while (later.length) later.shift()!();
    assert.equal(processed, 25);
    assert.deepEqual(c.n, { received: 25, attributed: 25, unattributed: 0, dropped: 0, lost: 0 });
  });

  it('drops and counts a flood beyond its capacity instead of growing', () => {
    const c = counters();
    const later: (() => void)[] = [];
    const intake = new AuditIntake({
      capacity: 1000,
      counters: c,
      process: () => false,
      defer: (fn) => later.push(fn),
    });
    let dropped = 0;
    for (let i = 0; i < 100; i++)
      dropped += intake.offer(
        Array.from({ length: 100 }, () => anEvent()),
        i,
      );
    assert.equal(intake.depth, 1000);
    assert.equal(dropped, 9000);
    assert.equal(c.n.dropped, 9000);
    assert.equal(c.n.received, 10_000);
    while (later.length) later.shift()!();
    assert.equal(intake.depth, 0);
    assert.equal(c.n.unattributed, 1000);
  });

  it('a malformed event that throws is counted unattributed and does not stop the queue', () => {
    const c = counters();
    const later: (() => void)[] = [];
    let n = 0;
    const intake = new AuditIntake({
      capacity: 10,
      counters: c,
      process: () => {
        if (n++ === 0) throw new Error('bad');
        return true;
      },
      defer: (fn) => later.push(fn),
    });
    intake.offer([anEvent(), anEvent()], 0);
    while (later.length) later.shift()!();
    assert.deepEqual(c.n, { received: 2, attributed: 1, unattributed: 1, dropped: 0, lost: 0 });
  });
});
