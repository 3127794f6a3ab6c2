import assert from 'node:assert/strict';
import { parseRequest, parseSlackUsers } from './slack-approvals.ts';

describe('Slack commands and mapping', () => {
  it('reads a request in words', () => {
    assert.deepEqual(parseRequest('edit in payments for 1h because INC-42 is on fire'.split(' ')), {
      role: 'edit',
      namespace: 'payments',
      duration: '1h',
      reason: 'INC-42 is on fire',
    });
    assert.deepEqual(
      parseRequest('view in payments for 30m under payments-oncall because audit'.split(' ')),
      {
        role: 'view',
        namespace: 'payments',
        duration: '30m',
        policy: 'payments-oncall',
        reason: 'audit',
      },
    );
    assert.equal(parseRequest(['edit', 'payments']), 'Could not read that request');
    assert.match(String(parseRequest('edit in payments for soon because x'.split(' '))), /90m, 2h/);
  });

  it('maps Slack users to exactly the identities listed, and refuses system: ones', () => {
    const m = parseSlackUsers('U0BOB: { user: bob@example.com, groups: [payments-leads] }');
    assert.deepEqual(m.get('U0BOB'), { user: 'bob@example.com', groups: ['payments-leads'] });
    assert.equal(m.get('U0EVE'), undefined);
    assert.throws(() => parseSlackUsers('U0X: { user: system:admin }'), /not system:/);
    assert.throws(
      () => parseSlackUsers('U0X: { user: a, groups: [system:masters] }'),
      /none system:/,
    );
    assert.throws(() => parseSlackUsers('bob: { user: bob }'), /not a Slack user ID/);
  });
});
