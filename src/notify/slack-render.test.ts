import assert from 'node:assert/strict';
import {
  APPROVE_ACTION_ID,
  DENY_ACTION_ID,
  decodeButtonValue,
  escapeAndFit,
  renderSlackMessage,
  type ButtonElement,
  type SlackMessage,
} from './slack-render.ts';
import { NOTIFICATION_EVENTS, type Notification, type NotificationEvent } from './types.ts';

const HASH = `sha256:${'ab'.repeat(32)}`;

function notification(
  event: NotificationEvent,
  over: Partial<Notification['grant']> = {},
): Notification {
  return {
    id: `4f9c1d2e-0000-4000-8000-000000000001.${event.toLowerCase()}`,
    event,
    time: '2026-11-25T09:00:00Z',
    summary: 'alice asks for ClusterRole edit in payments for 1h',
    grant: {
      namespace: 'payments',
      name: 'alice-debug',
      uid: '4f9c1d2e-0000-4000-8000-000000000001',
      phase: 'Pending',
      requestedBy: 'alice',
      subject: { kind: 'User', name: 'alice' },
      policy: 'oncall',
      duration: '1h',
      reason: 'INC-42: payments are failing',
      access: [{ kubernetes: { clusterRole: 'edit', namespaces: ['payments', 'billing'] } }],
      specHash: HASH,
      ...over,
    },
    act: {
      approveCommand: 'timebox approve payments/alice-debug',
      denyCommand: 'timebox deny payments/alice-debug',
    },
  };
}

function buttons(m: SlackMessage): ButtonElement[] {
  return m.blocks.flatMap((b) => (b.type === 'actions' ? b.elements : []));
}

/** Every piece of text Slack would parse as mrkdwn, plus the fallback. */
function allText(m: SlackMessage): string {
  const parts = [m.text];
  for (const b of m.blocks) {
    if (b.type === 'section') {
      if (b.text) parts.push(b.text.text);
      for (const f of b.fields ?? []) parts.push(f.text);
    } else if (b.type === 'context') {
      for (const e of b.elements) parts.push(e.text);
    }
  }
  return parts.join('\n');
}

describe('Slack message rendering', () => {
  it('shows Approve (primary) and Deny (danger) buttons for a request', () => {
    const m = renderSlackMessage(notification('Requested'));
    assert.deepEqual(
      buttons(m).map((b) => [b.action_id, b.style, b.text.text]),
      [
        [APPROVE_ACTION_ID, 'primary', 'Approve'],
        [DENY_ACTION_ID, 'danger', 'Deny'],
      ],
    );
  });

  it('has no buttons for any later event of the grant', () => {
    for (const event of NOTIFICATION_EVENTS.filter((e) => e !== 'Requested')) {
      const m = renderSlackMessage(notification(event));
      assert.deepEqual(buttons(m), [], `${event} must not offer Approve/Deny`);
    }
  });

  it('names who decided and the new state once approved', () => {
    const n = notification('Approved', { phase: 'Pending' });
    n.summary = "bob approved alice's request for ClusterRole edit in payments for 1h";
    n.actor = { user: 'bob', comment: 'go ahead' };
    const text = allText(renderSlackMessage(n));
    assert.match(text, /Approved by bob: “go ahead”/);
    assert.match(text, /bob approved alice's request/);
  });

  it('encodes in each button exactly the grant version shown, and it decodes back', () => {
    const m = renderSlackMessage(notification('Requested'));
    const [approve, deny] = buttons(m);
    assert.ok(approve && deny);
    assert.equal(approve.value, deny.value);
    assert.ok(approve.value.length <= 2000, "within Slack's 2000-character limit");
    assert.deepEqual(decodeButtonValue(approve.value), {
      ns: 'payments',
      name: 'alice-debug',
      uid: '4f9c1d2e-0000-4000-8000-000000000001',
      specHash: HASH,
    });
  });

  it('refuses button values it did not write', () => {
    const good = { ns: 'payments', name: 'a', uid: '4f9c1d2e', specHash: HASH };
    assert.throws(() => decodeButtonValue('not json'), /not JSON/);
    assert.throws(() => decodeButtonValue('[1]'), /not a JSON object/);
    assert.throws(
      () => decodeButtonValue(JSON.stringify({ ...good, specHash: undefined })),
      /no valid specHash/,
    );
    assert.throws(
      () => decodeButtonValue(JSON.stringify({ ...good, ns: '../kube-system' })),
      /no valid ns/,
    );
  });

  it('shows the fields an approver needs', () => {
    const text = allText(renderSlackMessage(notification('Requested')));
    for (const expected of [
      '*Subject*\nUser alice',
      '*Requested by*\nalice',
      '*Access*\nkubernetes: ClusterRole edit in namespaces payments, billing',
      '*Namespaces*\npayments, billing',
      '*Duration*\n1h',
      '*Reason*\nINC-42: payments are failing',
      '*Phase*\nPending',
    ]) {
      assert.ok(text.includes(expected), `missing ${JSON.stringify(expected)} in:\n${text}`);
    }
  });

  it('shows expiry as a Slack date, in each reader’s time zone', () => {
    const n = notification('Activated', { phase: 'Active', expiresAt: '2026-11-25T10:00:00Z' });
    const text = allText(renderSlackMessage(n));
    assert.ok(
      text.includes('<!date^1795600800^{date_short_pretty} {time}|2026-11-25T10:00:00Z>'),
      text,
    );
  });

  it('does not let a reason ping the channel or hide a link', () => {
    const n = notification('Requested', {
      reason: '<!channel> urgent, see <https://evil.example|the runbook> & more',
      requestedBy: '<@U0ADMIN>',
    });
    n.summary = '<!here> asks';
    const m = renderSlackMessage(n);
    const text = allText(m);
    assert.ok(!text.includes('<!channel>'), 'a reason must not ping the channel');
    assert.ok(!text.includes('<!here>'), 'a summary must not ping the channel');
    assert.ok(!text.includes('<https://evil'), 'a link must not hide behind other words');
    assert.ok(!text.includes('<@U0ADMIN>'), 'a value must not mention a user');
    assert.ok(
      text.includes(
        '&lt;!channel&gt; urgent, see &lt;https://evil.example|the runbook&gt; &amp; more',
      ),
      text,
    );
    // The fallback text (push notifications) is escaped as well.
    assert.ok(m.text.startsWith('&lt;!here&gt; asks'), m.text);
    // No text is auto-parsed by Slack either (verbatim).
    for (const b of m.blocks) {
      if (b.type === 'section' && b.text) assert.equal(b.text.verbatim, true);
    }
  });

  it('cuts a very long reason to fit a field without splitting an escape', () => {
    const n = notification('Requested', { reason: '&'.repeat(5000) });
    const m = renderSlackMessage(n);
    const fields = m.blocks.flatMap((b) => (b.type === 'section' ? (b.fields ?? []) : []));
    const reason = fields.find((f) => f.text.startsWith('*Reason*'));
    assert.ok(reason);
    assert.ok(reason.text.length <= 2000, `${reason.text.length} characters`);
    assert.match(reason.text, /(&amp;)+…$/);
    assert.equal(escapeAndFit('a&b', 4), 'a…');
    assert.deepEqual(buttons(m), [], 'what is cut was not seen: no buttons');
  });

  it('offers no buttons for a request padded past what a message shows', () => {
    // Fifteen harmless entries, then the one that matters: cut from the Access field.
    const padded = [
      ...Array.from({ length: 15 }, () => ({
        kubernetes: {
          clusterRole: 'view',
          namespaces: Array.from({ length: 12 }, (_, i) => `payments-team-${i}`),
        },
      })),
      { kubernetes: { clusterRole: 'admin', namespaces: ['payments'] } },
    ];
    const m = renderSlackMessage(notification('Requested', { access: padded }));
    assert.ok(!JSON.stringify(m.blocks).includes('ClusterRole admin'), 'admin is not on screen');
    assert.deepEqual(buttons(m), [], 'so nothing can approve it from here');
    assert.match(
      JSON.stringify(m.blocks),
      /too long to show in full here.*timebox describe alice-debug -n payments/,
    );
    assert.deepEqual(
      buttons(renderSlackMessage(notification('Requested'))).map((b) => b.action_id),
      [APPROVE_ACTION_ID, DENY_ACTION_ID],
      'a request shown whole keeps them',
    );
  });
});
