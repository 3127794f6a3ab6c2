import assert from 'node:assert/strict';
import { createLogger } from '../log/logger.ts';
import { Lifecycle } from './lifecycle.ts';

describe('Lifecycle (ordered stop)', () => {
  it('stops parts in the reverse order they started, each after the one before has stopped', async () => {
    const life = new Lifecycle();
    const log: string[] = [];
    for (const name of ['connections', 'informers', 'webhook', 'workers']) {
      life.add(name, async () => {
        log.push(`${name} stopping`);
        await new Promise((r) => setImmediate(r));
        log.push(`${name} stopped`);
      });
    }
    assert.deepEqual(life.stopOrder, ['workers', 'webhook', 'informers', 'connections']);
    await life.stop();
    assert.deepEqual(log, [
      'workers stopping',
      'workers stopped',
      'webhook stopping',
      'webhook stopped',
      'informers stopping',
      'informers stopped',
      'connections stopping',
      'connections stopped',
    ]);
  });

  it('stops the others when one fails to, and says which', async () => {
    const lines: string[] = [];
    const life = new Lifecycle(createLogger({ write: (l) => lines.push(l) }));
    const stopped: string[] = [];
    life.add('a', () => stopped.push('a'));
    life.add('b', () => {
      throw new Error('port already closed');
    });
    life.add('c', () => stopped.push('c'));
    await life.stop();
    assert.deepEqual(stopped, ['c', 'a']);
    assert.equal(lines.length, 1);
    assert.match(lines[0]!, /stop failed.*"part":"b".*port already closed/);
  });

  it('stops once, however often asked, and stops at once what starts meanwhile', async () => {
    const life = new Lifecycle();
    let calls = 0;
    life.add('a', async () => {
      calls++;
      await new Promise((r) => setImmediate(r));
    });
    const first = life.stop();
    const second = life.stop();
    let late = false;
    life.add('late', () => (late = true));
    await Promise.all([first, second]);
    await new Promise((r) => setImmediate(r));
    assert.equal(calls, 1);
    assert.equal(late, true);
  });
});
