import assert from 'node:assert/strict';
import { createLogger } from '../log/logger.ts';
import { FakeClock } from '../runtime/clock.ts';
import type { AuditEvent } from './audit-event.ts';
import {
  CloudWatchAuditSource,
  OVERLAP_MS,
  type LogEvent,
  type LogEventsPort,
} from './cloudwatch.ts';
import { anEvent } from './fixtures.ts';

const STREAM = 'kube-apiserver-audit-0123456789abcdef';
const msg = (id: string) => JSON.stringify({ kind: 'Event', ...anEvent({ auditID: id }) });

/**
 * FilterLogEvents over a list, as the service answers: events of the streams
 * with the prefix, from startTime, by timestamp, a page of `limit` at a time.
 * `honourPrefix: false` plays a service that returns every stream.
 */
class FakeLogs implements LogEventsPort {
  events: LogEvent[] = [];
  calls: { startTime: number; nextToken?: string }[] = [];
  fail: Error | undefined;
  honourPrefix = true;
  private seq = 0;

  put(timestamp: number, message: string, logStreamName = STREAM): void {
    this.events.push({ eventId: `e${this.seq++}`, timestamp, logStreamName, message });
  }

  filter(req: Parameters<LogEventsPort['filter']>[0]) {
    this.calls.push({
      startTime: req.startTime,
      ...(req.nextToken ? { nextToken: req.nextToken } : {}),
    });
    if (this.fail) return Promise.reject(this.fail);
    const all = this.events
      .filter(
        (e) =>
          e.timestamp >= req.startTime &&
          (!this.honourPrefix || e.logStreamName.startsWith(req.logStreamNamePrefix)),
      )
      .sort((a, b) => a.timestamp - b.timestamp);
    const from = Number(req.nextToken ?? 0);
    const limit = req.limit ?? 10_000;
    const events = all.slice(from, from + limit);
    return Promise.resolve({
      events,
      ...(from + limit < all.length ? { nextToken: String(from + limit) } : {}),
    });
  }
}

/** Lets the promise chain a fired timer started run to its end. */
const settle = () => new Promise((r) => setImmediate(r));

describe('CloudWatch Logs audit source', () => {
  const log = createLogger({ level: 'error' });

  /** A source on fake logs and the fake clock, started, with what it hands on. */
  const started = async (opts: { pageLimit?: number } = {}) => {
    const clock = new FakeClock();
    const t0 = clock.now().getTime();
    const logs = new FakeLogs();
    const got: AuditEvent[] = [];
    const src = new CloudWatchAuditSource({ logGroup: 'g', port: logs, clock, log, ...opts });
    await src.start((e) => got.push(...e));
    return { clock, t0, logs, got, src };
  };

  it('hands on each new event once, across overlapping polls and late arrivals', async () => {
    const clock = new FakeClock();
    const t0 = clock.now().getTime();
    const logs = new FakeLogs();
    logs.put(t0 - 1000, msg('before-start'));
    const got: AuditEvent[] = [];
    const src = new CloudWatchAuditSource({
      logGroup: '/aws/eks/prod/cluster',
      port: logs,
      clock,
      log,
    });
    await src.start((e) => got.push(...e));
    logs.put(t0 + 1000, msg('a1'));
    logs.put(t0 + 2000, msg('a2'));
    await src.poll();
    logs.put(t0 + 3000, msg('a3'));
    await src.poll();
    // Arrives after a3 was read, stamped before it: inside the overlap window.
    logs.put(t0 + 1500, msg('late'));
    await src.poll();
    await src.poll();
    assert.deepEqual(
      got.map((e) => e.auditID),
      ['a1', 'a2', 'a3', 'late'],
      'before the first start is history; nothing twice',
    );
    assert.equal(logs.calls[1]!.startTime, t0, 'asks again from the overlap, not before start');
    await src.stop();
  });

  it('never counts another stream of the group, even if the service returned it', async () => {
    const clock = new FakeClock();
    const t0 = clock.now().getTime();
    const logs = new FakeLogs();
    logs.honourPrefix = false;
    const got: AuditEvent[] = [];
    const src = new CloudWatchAuditSource({ logGroup: 'g', port: logs, clock, log });
    await src.start((e) => got.push(...e));
    logs.put(t0 + 1, msg('forged'), 'authenticator-0123');
    logs.put(t0 + 2, msg('real'));
    await src.poll();
    assert.deepEqual(
      got.map((e) => e.auditID),
      ['real'],
    );
    await src.stop();
  });

  it('counts and skips log events that are not audit events', async () => {
    const { t0, logs, got, src } = await started();
    logs.put(t0 + 1, '{"kind":"Event"'); // torn
    logs.put(t0 + 2, '{"kind":"Status"}'); // JSON, not an event
    logs.put(t0 + 3, msg('ok'));
    await src.poll();
    await src.poll();
    assert.deepEqual(
      got.map((e) => e.auditID),
      ['ok'],
    );
    assert.equal(src.malformed, 2, 'each counted once, though read again in the overlap');
    await src.stop();
  });

  it('reads every page, and forgets the IDs the window no longer reaches', async () => {
    const { t0, logs, got, src } = await started({ pageLimit: 2 });
    for (let i = 0; i < 5; i++) logs.put(t0 + i, msg(`p${i}`));
    assert.equal(await src.poll(), 5);
    assert.deepEqual(
      logs.calls.map((c) => c.nextToken),
      [undefined, '2', '4'],
    );
    // Far later: the old IDs fall out of the window, and its start moves on.
    logs.put(t0 + OVERLAP_MS * 3, msg('later'));
    await src.poll();
    logs.calls = [];
    await src.poll();
    assert.equal(logs.calls[0]!.startTime, t0 + OVERLAP_MS * 2);
    assert.deepEqual(
      got.map((e) => e.auditID),
      ['p0', 'p1', 'p2', 'p3', 'p4', 'later'],
    );
    await src.stop();
  });

  it('backs off while throttled, doubling up to a bound, and polls at its interval again after', async () => {
    const clock = new FakeClock();
    const logs = new FakeLogs();
    const src = new CloudWatchAuditSource({ logGroup: 'g', port: logs, clock, log, pollMs: 1000 });
    const throttled = Object.assign(new Error('Rate exceeded'), { name: 'ThrottlingException' });
    logs.fail = throttled;
    await src.start(() => {});
    clock.advance(0);
    await settle();
    assert.equal(logs.calls.length, 1);
    assert.equal(src.nextDelayMs(), 2000);
    clock.advance(1999);
    assert.equal(logs.calls.length, 1, 'not before the backoff');
    clock.advance(1);
    await settle();
    assert.equal(logs.calls.length, 2);
    assert.equal(src.nextDelayMs(), 4000);
    for (let i = 0; i < 20; i++) {
      clock.advance(src.nextDelayMs());
      await settle();
    }
    assert.equal(src.nextDelayMs(), 5 * 60_000, 'bounded');
    logs.fail = undefined;
    clock.advance(src.nextDelayMs());
    await settle();
    assert.equal(src.nextDelayMs(), 1000, 'back to the interval once a poll succeeds');
    await src.stop();
    assert.equal(clock.pendingTimers, 0, 'stopped: nothing scheduled');
  });

  it('after a stop, starts again where it left off', async () => {
    const { clock, t0, logs, got, src } = await started();
    logs.put(t0 + 1, msg('a1'));
    await src.poll();
    await src.stop();
    logs.put(t0 + 2, msg('while-stopped'));
    clock.advance(60_000);
    await src.start((e) => got.push(...e));
    await src.poll();
    assert.deepEqual(
      got.map((e) => e.auditID),
      ['a1', 'while-stopped'],
    );
    await src.stop();
  });
});
