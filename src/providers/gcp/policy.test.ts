import assert from 'node:assert/strict';
import { run } from '@bufbuild/cel';
import { timestampFromDate } from '@bufbuild/protobuf/wkt';
import {
  expiryCondition,
  timeboxExpiry,
  withGrantBinding,
  withoutExpiredTimeboxBindings,
  withoutGrantBinding,
  type IamPolicy,
} from './policy.ts';

const EXPIRES = '2026-11-25T11:00:00.000Z';
const mine = {
  role: 'roles/cloudsql.viewer',
  members: ['user:alice@example.com'],
  condition: expiryCondition('uid-1', 'payments/alice', EXPIRES),
};
const theirs = { role: 'roles/viewer', members: ['group:sre@example.com'] };

/** Evaluates the condition with an independent CEL implementation, as IAM would at `at`. */
function conditionHolds(expression: string, at: string): unknown {
  return run(expression, { request: new Map([['time', timestampFromDate(new Date(at))]]) });
}

describe('GCP conditional binding with fail-safe expiry', () => {
  it('is true before expiresAt and false from it on, by an independent CEL evaluator', () => {
    assert.equal(mine.condition.expression, 'request.time < timestamp("2026-11-25T11:00:00Z")');
    assert.equal(conditionHolds(mine.condition.expression, '2026-11-25T10:59:59Z'), true);
    assert.equal(conditionHolds(mine.condition.expression, '2026-11-25T11:00:00Z'), false);
    assert.equal(conditionHolds(mine.condition.expression, '2026-12-01T00:00:00Z'), false);
  });

  it('adds the binding once, at policy version 3, leaving other bindings alone', () => {
    const base: IamPolicy = { version: 1, bindings: [theirs], etag: 'BwX1' };
    const once = withGrantBinding(base, 'uid-1', mine);
    const twice = withGrantBinding(once, 'uid-1', mine);
    assert.deepEqual(twice, { version: 3, bindings: [theirs, mine], etag: 'BwX1' });
    assert.deepEqual(withoutGrantBinding(twice, 'uid-1').bindings, [theirs]);
    assert.deepEqual(
      withoutGrantBinding(base, 'uid-1').bindings,
      [theirs],
      'revoking what is gone is a no-op',
    );
  });

  it("keeps overlapping grants' bindings apart", () => {
    const other = { ...mine, condition: expiryCondition('uid-2', 'payments/alice-2', EXPIRES) };
    const both = withGrantBinding(withGrantBinding({}, 'uid-1', mine), 'uid-2', other);
    assert.deepEqual(withoutGrantBinding(both, 'uid-1').bindings, [other]);
  });

  it('cleans up only expired bindings that Timebox owns', () => {
    const someoneElses = {
      ...theirs,
      condition: {
        title: 'office-hours',
        expression: 'request.time < timestamp("2020-01-01T00:00:00Z")',
      },
    };
    const policy: IamPolicy = { bindings: [mine, someoneElses, theirs] };
    assert.deepEqual(
      withoutExpiredTimeboxBindings(policy, new Date('2026-11-25T10:00:00Z')).bindings,
      [mine, someoneElses, theirs],
    );
    assert.deepEqual(
      withoutExpiredTimeboxBindings(policy, new Date('2026-11-25T11:00:00Z')).bindings,
      [someoneElses, theirs],
    );
    assert.equal(timeboxExpiry(mine)?.toISOString(), EXPIRES);
  });
});
