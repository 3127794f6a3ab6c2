import assert from 'node:assert/strict';
import type { AccessActivityStatus, ActivityRequest } from '../../api/v1alpha1/activity.ts';
import { activitySection, ACTIVITY_SHOWN } from './activity.ts';

const HOSTILE = `<img src=x onerror=alert(1)>`;
const at = (i: number) => new Date(Date.UTC(2026, 10, 25, 9, 30, i)).toISOString();
const write = (i: number): ActivityRequest => ({
  at: at(i),
  provider: 'kubernetes',
  verb: 'delete',
  resource: 'pods',
  namespace: 'payments',
  name: `checkout-${i}`,
  code: 200,
});

const status: AccessActivityStatus = {
  requests: 120,
  firstUsed: '2026-11-25T09:30:00.000Z',
  lastUsed: '2026-11-25T10:45:00.000Z',
  counts: Array.from({ length: ACTIVITY_SHOWN + 2 }, (_, i) => ({
    provider: 'kubernetes' as const,
    verb: 'get',
    resource: i === 0 ? HOSTILE : `r${i}`,
    namespace: 'payments',
    count: 20 - i,
  })),
  otherRequests: 5,
  writes: Array.from({ length: ACTIVITY_SHOWN + 3 }, (_, i) => write(i)),
  writesOmitted: 7,
  denied: [
    {
      at: at(1),
      provider: 'kubernetes',
      verb: 'list',
      resource: 'secrets',
      namespace: 'kube-system',
      code: 403,
    },
  ],
  deniedOmitted: 0,
};

const text = (s: AccessActivityStatus) => activitySection({ state: 'recorded', status: s }).text;

describe('portal: the activity section of a grant page', () => {
  it('shows first and last use, the busiest requests and the rest as other', () => {
    const out = text(status);
    assert.match(out, /<h2 id="activity-title">Activity<\/h2>/);
    assert.match(out, /datetime="2026-11-25T09:30:00.000Z"/);
    assert.match(out, /datetime="2026-11-25T10:45:00.000Z"/);
    assert.equal(out.match(/<td class="num">/g)?.length, ACTIVITY_SHOWN + 1, 'top rows and other');
    // The two counts past the top (10 and 9) and the 5 beyond the record's cap.
    assert.match(out, /<td class="num">24<\/td>\s*<td colspan="3" class="muted">other/);
  });

  it('escapes what the record says', () => {
    const out = text(status);
    assert.ok(!out.includes(HOSTILE));
    assert.ok(out.includes('&lt;img src=x onerror=alert(1)&gt;'));
  });

  it('lists the writes, the first ones open, the rest folded, and says how many were not kept', () => {
    const out = text(status);
    assert.match(out, /<h3>Writes and deletes \(20\)<\/h3>/);
    assert.match(out, /<summary>3 more<\/summary>/);
    assert.match(out, /7 more, not listed: the record keeps only the earliest/);
    assert.match(out, /delete<\/code>\s*pods\/checkout-12 in payments/);
  });

  it('highlights denied attempts, as a sign of a too-small role or of probing', () => {
    const out = text(status);
    assert.match(
      out,
      /<div class="denied" id="activity-denied">\s*<h3>Denied attempts \(1\)<\/h3>/,
    );
    assert.match(out, /too small for the task, or of probing/);
    assert.match(out, /list<\/code>\s*secrets in kube-system <span class="muted">\(403\)/);
    assert.match(out, /<dt>Denied attempts<\/dt><dd class="error">1<\/dd>/);
  });

  it('shows the right-sizing hint only when the record has one', () => {
    assert.doesNotMatch(text(status), /Right-sizing/);
    const out = text({
      ...status,
      rightSizing: {
        roles: ['ClusterRole edit'],
        used: [{ resource: 'pods', verbs: ['get', 'list', 'delete'], used: ['get', 'delete'] }],
        unusedResources: ['secrets', 'configmaps'],
        omitted: 2,
        summary: 'Used 2 of 40 permissions: ClusterRole view would have done, but for delete pods.',
      },
    });
    assert.match(out, /<h3>Right-sizing<\/h3>\s*<p>Used 2 of 40 permissions/);
    assert.match(out, /pods: used get, delete\s*<span class="muted">of get, list, delete/);
    assert.match(out, /Never used: secrets, configmaps/);
    assert.match(out, /2 more entries not listed/);
  });

  it('says when nothing is recorded, or the record cannot be read, and shows nothing when hidden', () => {
    assert.match(activitySection({ state: 'none' }).text, /No requests recorded yet/);
    assert.match(text({ requests: 0 }), /No requests recorded yet/);
    assert.match(activitySection({ state: 'unavailable' }).text, /could not be read just now/);
    assert.equal(activitySection({ state: 'hidden' }).text, '');
  });
});
