import assert from 'node:assert/strict';
import { run } from '@bufbuild/cel';
import { timestampFromDate } from '@bufbuild/protobuf/wkt';
import {
  expiryCondition,
  timeboxExpiry,
  withMember,
  withoutExpiredTimeboxBindings,
  withoutMember,
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

  const M = 'user:alice@example.com';
  const R = 'roles/cloudsql.viewer';
  const add = (p: IamPolicy, uid: string) =>
    withMember(p, R, M, expiryCondition(uid, `payments/${uid}`, EXPIRES));

  it('adds the binding once, at policy version 3, leaving other bindings alone', () => {
    const base: IamPolicy = { version: 1, bindings: [theirs], etag: 'BwX1' };
    const twice = add(add(base, 'uid-1'), 'uid-1');
    assert.deepEqual(twice, {
      version: 3,
      bindings: [
        theirs,
        { ...mine, condition: expiryCondition('uid-1', 'payments/uid-1', EXPIRES) },
      ],
      etag: 'BwX1',
    });
    assert.deepEqual(withoutMember(twice, R, M, 'timebox-uid-1').bindings, [theirs]);
    assert.deepEqual(
      withoutMember(base, R, M, 'timebox-uid-1').bindings,
      [theirs],
      'revoking what is gone is a no-op',
    );
  });

  it('joins a binding IAM merged, and leaves its other members when revoking', () => {
    const cond = expiryCondition('uid-1', 'payments/uid-1', EXPIRES);
    const merged: IamPolicy = {
      bindings: [{ role: R, members: ['user:bob@example.com'], condition: cond }],
    };
    const joined = withMember(merged, R, M, cond);
    assert.deepEqual(joined.bindings, [
      { role: R, members: ['user:bob@example.com', M], condition: cond },
    ]);
    assert.deepEqual(withoutMember(joined, R, M, cond.title).bindings, merged.bindings);
  });

  it('moves the member when the same grant writes a new expiry', () => {
    const later = withMember(
      add({}, 'uid-1'),
      R,
      M,
      expiryCondition('uid-1', 'x', '2026-11-25T12:00:00Z'),
    );
    assert.equal(later.bindings?.length, 1);
    assert.match(later.bindings![0]!.condition!.expression, /12:00:00Z/);
  });

  it("keeps overlapping grants' bindings apart", () => {
    const both = add(add({}, 'uid-1'), 'uid-2');
    assert.deepEqual(
      withoutMember(both, R, M, 'timebox-uid-1').bindings?.map((b) => b.condition?.title),
      ['timebox-uid-2'],
    );
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
