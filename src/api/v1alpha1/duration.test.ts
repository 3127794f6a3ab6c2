import assert from 'node:assert/strict';
import { formatDuration, parseDuration } from './duration.ts';

describe('parseDuration', () => {
  const cases: [string, number][] = [
    ['45s', 45_000],
    ['90m', 5_400_000],
    ['2h', 7_200_000],
    ['1h30m', 5_400_000],
    ['1h0m5s', 3_605_000],
  ];
  for (const [text, ms] of cases) {
    it(`reads ${text}`, () => assert.equal(parseDuration(text), ms));
  }

  for (const bad of ['', '2d', '1.5h', '30m1h', 'h', '-5m', '10']) {
    it(`rejects '${bad}' with a hint`, () =>
      assert.throws(() => parseDuration(bad), /e\.g\. 90m, 2h or 1h30m/));
  }

  it('formats back to the same syntax', () => {
    assert.equal(formatDuration(5_400_000), '1h30m');
    assert.equal(formatDuration(2_000), '2s');
    assert.equal(formatDuration(0), '0s');
  });
});
