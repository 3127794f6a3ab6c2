import assert from 'node:assert/strict';
import { BLIND_RECHECK_MS, idleVerdict } from './idle.ts';

const MIN = 60_000;
const base = { timeoutMs: 30 * MIN, timeout: '30m', activatedAtMs: 0, watchedSinceMs: 0 };

describe('idle verdict', () => {
  it('is idle once neither activation nor last use is within the timeout', () => {
    assert.deepEqual(idleVerdict({ ...base, lastUsedMs: undefined, nowMs: 29 * MIN }), {
      idle: false,
      recheckAfterMs: MIN,
    });
    const v = idleVerdict({ ...base, lastUsedMs: undefined, nowMs: 30 * MIN });
    assert.equal(v.idle, true);
    assert.match(v.idle ? v.message : '', /idle for 30m .*not used since activation/);
  });

  it('a use restarts the clock', () => {
    assert.deepEqual(idleVerdict({ ...base, lastUsedMs: 20 * MIN, nowMs: 40 * MIN }), {
      idle: false,
      recheckAfterMs: 10 * MIN,
    });
    assert.equal(idleVerdict({ ...base, lastUsedMs: 20 * MIN, nowMs: 50 * MIN }).idle, true);
  });

  it('never revokes while the audit intake is not receiving', () => {
    assert.deepEqual(
      idleVerdict({
        ...base,
        watchedSinceMs: undefined,
        lastUsedMs: undefined,
        nowMs: 10 * 60 * MIN,
      }),
      { idle: false, recheckAfterMs: BLIND_RECHECK_MS },
    );
  });

  it('counts idleness only from when the intake started to see (after an outage)', () => {
    const v = idleVerdict({
      ...base,
      watchedSinceMs: 100 * MIN,
      lastUsedMs: undefined,
      nowMs: 110 * MIN,
    });
    assert.deepEqual(v, { idle: false, recheckAfterMs: 20 * MIN });
  });
});
