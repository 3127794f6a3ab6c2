import assert from 'node:assert/strict';
import { aGrant, aPolicy } from '../api/v1alpha1/testing.ts';
import { choosePolicy, precheck } from './precheck.ts';

const NOW = new Date('2026-11-27T10:00:00Z');

const policy = (name: string, roles: string[], mode: 'Auto' | 'Manual' = 'Auto') =>
  aPolicy({
    metadata: { name },
    spec: {
      access: [{ kubernetes: { clusterRoles: roles, namespaces: ['payments'] } }],
      approval:
        mode === 'Auto'
          ? { mode }
          : { mode, approvers: { groups: ['payments-leads'] }, required: 1 },
    },
  });

/** alice's request before a policy is chosen. */
const draft = (role: string, duration = '1h') =>
  aGrant({
    metadata: {
      name: 'x',
      annotations: {
        'timebox.dev/requested-by': 'alice',
        'timebox.dev/requester-groups': 'payments-oncall',
      },
    },
    spec: {
      subject: { name: 'alice' },
      policy: '',
      duration,
      reason: 'INC-1',
      access: [{ kubernetes: { clusterRole: role, namespaces: ['payments'] } }],
    },
  });

describe('precheck', () => {
  const view = policy('view-auto', ['view']);
  const edit = policy('edit-manual', ['view', 'edit'], 'Manual');

  it('picks the one policy a request fits, with the decision the controller would make', () => {
    const c = choosePolicy(precheck(draft('edit'), [view, edit], NOW));
    assert.ok(!('error' in c));
    assert.equal(c.policy, 'edit-manual');
    assert.equal(c.decision.verdict, 'Pending');
  });

  it('asks to name one when several fit', () => {
    const c = choosePolicy(precheck(draft('view'), [view, edit], NOW));
    assert.ok('error' in c);
    assert.match(c.error, /several policies allow this: view-auto, edit-manual; name one/);
  });

  it("says why none fits, in the controller's words", () => {
    const c = choosePolicy(precheck(draft('view', '6h'), [view], NOW));
    assert.ok('error' in c);
    assert.match(c.error, /view-auto: duration 6h exceeds the maxDuration 4h/);
    assert.deepEqual(choosePolicy([]), { error: 'no AccessPolicy exists' });
  });
});
