import assert from 'node:assert/strict';
import { describeTarget } from '../api/v1alpha1/describe.ts';
import type { AccessTarget } from '../api/v1alpha1/types.ts';
import { escapeHtml, renderEmail } from './email-render.ts';
import type { Notification } from './types.ts';
import {
  SAMPLE_APPROVE,
  SAMPLE_DENY,
  sampleNotification,
} from '../../test/support/notification.ts';

const APPROVE = SAMPLE_APPROVE;
const DENY = SAMPLE_DENY;
/** A Requested notification, with `over` applied. */
const requested = (over: Partial<Notification> = {}) => sampleNotification('Requested', over);

describe('email rendering', () => {
  it('makes a one-line subject from the event, the summary and the grant', () => {
    const { subject } = renderEmail(requested({ summary: 'alice asks\r\nfor edit' }));
    assert.equal(subject, '[Timebox] Requested: alice asks for edit (payments/alice-debug)');
  });

  it('says who, what, where, how long and why in both parts', () => {
    const { text, html } = renderEmail(requested());
    for (const part of [text, html]) {
      assert.match(part, /User alice/);
      assert.match(part, /ClusterRole edit in namespaces payments/);
      assert.match(part, /1h, from activation/);
      assert.match(part, /INC-42: payments API returns 500/);
      assert.match(part, /Pending/);
      assert.match(part, /payments-oncall/);
    }
  });

  it('gives an approver of a request the exact commands and the portal link', () => {
    const { text, html } = renderEmail(requested());
    assert.ok(text.includes(`  ${APPROVE}\n`), text);
    assert.ok(text.includes(`  ${DENY}\n`), text);
    assert.match(text, /portal: https:\/\/timebox\.example\/g\/1/);
    assert.ok(html.includes(escapeHtml(APPROVE)));
    assert.ok(html.includes('&lt;why&gt;'), 'the deny command is escaped in HTML');
    assert.match(html, /<a href="https:\/\/timebox\.example\/g\/1">/);
  });

  it('asks no one to act on a grant that has ended', () => {
    const ended = renderEmail(
      requested({
        id: '6c1f0e2a-uid.ended',
        event: 'Ended',
        summary: 'access of alice in payments ended',
        actor: { user: 'bob', comment: 'done' },
      }),
    );
    for (const part of [ended.text, ended.html]) {
      assert.ok(!part.includes(APPROVE), 'no approve command');
      assert.ok(!part.includes('timebox.example'), 'no portal link');
      assert.match(part, /Ended by/);
      assert.match(part, /bob: (&quot;|")done/);
    }
  });

  it('escapes every user-written value in the HTML part', () => {
    const n = requested({
      event: 'Denied',
      summary: 'alice <b>asks</b>',
      actor: { user: 'bob', comment: '<img src=x onerror=alert(1)>' },
    });
    n.grant.reason = '<script>alert("pwned")</script> & more';
    n.grant.name = 'x"><svg>';
    const { html, text } = renderEmail(n);
    assert.ok(!html.includes('<script>'), html);
    assert.ok(!html.includes('<img'), html);
    assert.ok(!html.includes('<svg>'), html);
    assert.ok(!html.includes('<b>asks'), html);
    assert.ok(html.includes('&lt;script&gt;alert(&quot;pwned&quot;)&lt;/script&gt; &amp; more'));
    assert.ok(html.includes('&lt;img src=x onerror=alert(1)&gt;'));
    // Plain text needs no escaping: the reader sees what was written.
    assert.ok(text.includes('<script>alert("pwned")</script> & more'));
  });

  it('never turns a portal link that is not http(s) into a link', () => {
    const { html } = renderEmail(
      requested({ act: { approveCommand: APPROVE, denyCommand: DENY, portalUrl: 'javascript:x' } }),
    );
    assert.ok(!html.includes('href="javascript:'), html);
  });

  it('keeps a multi-line reason under its label in the text part', () => {
    const n = requested();
    n.grant.reason = 'first line\nsecond line';
    const { text } = renderEmail(n);
    assert.match(text, /^Reason: +first line\n +second line$/m);
  });

  it('shows when access started and ends once it is active', () => {
    const n = requested({ event: 'Activated', id: 'u.activated', act: undefined });
    n.grant.phase = 'Active';
    n.grant.activatedAt = '2026-11-25T09:01:00Z';
    n.grant.expiresAt = '2026-11-25T10:01:00Z';
    const { text } = renderEmail(n);
    assert.match(text, /^Active since: +2026-11-25T09:01:00Z$/m);
    assert.match(text, /^Expires at: +2026-11-25T10:01:00Z$/m);
    assert.match(text, /^Phase: +Active$/m);
  });

  it('lists every access entry, cluster-wide, AWS and GCP, in both parts', () => {
    const access: AccessTarget[] = [
      { kubernetes: { role: 'debug', namespaces: ['a', 'b'] } },
      { kubernetes: { clusterRole: 'admin', clusterWide: true } },
      {
        aws: {
          principalArn: 'arn:aws:iam::1:role/alice',
          policyArn: 'arn:aws:iam::aws:policy/ReadOnlyAccess',
        },
      },
      { gcp: { resource: 'projects/p', role: 'roles/viewer', member: 'user:a@example.com' } },
    ];
    const n = requested();
    n.grant.access = access;
    const { text, html } = renderEmail(n);
    // The same words as `timebox approve` and Slack show (describe.ts).
    for (const t of access) {
      assert.ok(text.includes(`  - ${describeTarget(t)}\n`), text);
      assert.ok(html.includes(`<li>${escapeHtml(describeTarget(t))}</li>`), html);
    }
    assert.match(text, /CLUSTER-WIDE/);
    assert.match(text, /arn:aws:iam::aws:policy\/ReadOnlyAccess/);
    assert.match(text, /roles\/viewer on projects\/p/);
  });

  it('makes an overdue revocation impossible to miss', () => {
    const { text, html } = renderEmail(
      requested({ event: 'RevocationOverdue', id: 'u.revocationoverdue', act: undefined }),
    );
    assert.match(text.split('\n')[0] ?? '', /^ACTION NEEDED/);
    assert.match(html, /<h2>ACTION NEEDED/);
  });

  it('keeps every line of a reason indented under it, whatever the line break', () => {
    const { text } = renderEmail(
      requested({
        grant: {
          ...requested().grant,
          reason: 'fix\rApproved by: security-team\u2028Policy: none',
        },
      }),
    );
    for (const forged of ['Approved by: security-team', 'Policy: none']) {
      const line = text.split('\n').find((l) => l.includes(forged));
      assert.ok(line?.startsWith(' '), `"${forged}" stays indented under Reason: ${line}`);
    }
  });
});
