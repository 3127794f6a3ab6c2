import { describeTarget } from '../api/v1alpha1/describe.ts';
import type { Subject } from '../api/v1alpha1/types.ts';
import type { Notification, NotificationEvent } from './types.ts';

/** One email, ready to send: a subject line and the same content as text and as HTML. */
export interface RenderedEmail {
  subject: string;
  text: string;
  html: string;
}

/** What happened, as the first line a reader sees. */
const HEADLINES: Record<NotificationEvent, string> = {
  Requested: 'Access requested: an approver must decide',
  Approved: 'Request approved',
  Denied: 'Request denied',
  Activated: 'Access granted',
  ExpiringSoon: 'Access ends soon',
  Ended: 'Access ended',
  Failed: 'Grant failed',
  RevocationOverdue: 'ACTION NEEDED: access outlived its grant and is still in place',
};

/** Escapes text for HTML element content and quoted attribute values. */
export function escapeHtml(s: string): string {
  return s
    .replaceAll('&', '&amp;')
    .replaceAll('<', '&lt;')
    .replaceAll('>', '&gt;')
    .replaceAll('"', '&quot;')
    .replaceAll("'", '&#39;');
}

/** One line for a header: a reason or summary with line breaks must not split the subject. */
function oneLine(s: string): string {
  // eslint-disable-next-line no-control-regex
  return s.replace(/[\s\u0000-\u001f\u007f]+/g, ' ').trim();
}

function describeSubject(s: Subject): string {
  return `${s.kind} ${s.namespace ? `${s.namespace}/` : ''}${s.name}`;
}

function actorLabel(event: NotificationEvent): string {
  switch (event) {
    case 'Approved':
      return 'Approved by';
    case 'Denied':
      return 'Denied by';
    case 'Ended':
      return 'Ended by';
    default:
      return 'By';
  }
}

/** The facts of the notification as label/value rows, shared by the text and HTML parts. */
function facts(n: Notification): Array<[string, string]> {
  const g = n.grant;
  const rows: Array<[string, string]> = [
    ['Grant', `${g.namespace}/${g.name}`],
    ['Phase', g.phase ?? 'Pending'],
    ['For', describeSubject(g.subject)],
  ];
  if (g.requestedBy) rows.push(['Requested by', g.requestedBy]);
  rows.push([
    'Duration',
    `${g.duration}, ${g.startAt ? `from ${g.startAt}` : 'from activation (after approval)'}`,
  ]);
  if (g.activatedAt) rows.push(['Active since', g.activatedAt]);
  if (g.expiresAt) rows.push(['Expires at', g.expiresAt]);
  rows.push(['Reason', g.reason?.trim() || '(none given)']);
  if (n.actor) {
    const comment = n.actor.comment?.trim();
    rows.push([actorLabel(n.event), comment ? `${n.actor.user}: "${comment}"` : n.actor.user]);
  }
  if (n.detail) rows.push(['Detail', n.detail]);
  rows.push(['Policy', g.policy]);
  rows.push(['Spec hash', g.specHash]);
  rows.push(['Event', `${n.event} at ${n.time}`]);
  rows.push(['Grant uid', g.uid]);
  return rows;
}

/** How to act on a request; only a Requested notification asks anyone to act. */
function action(n: Notification): Notification['act'] {
  return n.event === 'Requested' ? n.act : undefined;
}

/** A portal link becomes a link only when it is http(s): never a `javascript:` href. */
function isWebUrl(url: string): boolean {
  return /^https?:\/\//i.test(url);
}

function renderText(n: Notification): string {
  const rows = facts(n);
  const width = Math.max(...rows.map(([label]) => label.length)) + 2;
  // Continuation lines of a multi-line value (a long reason) stay under the value.
  // Every kind of line break counts, so a reason cannot start a line of its own.
  const value = (v: string) => v.replace(/\r\n|[\r\n\u2028\u2029]/g, `\n${' '.repeat(width)}`);
  const lines = [
    HEADLINES[n.event],
    '',
    n.summary,
    '',
    ...rows.map(([label, v]) => `${`${label}:`.padEnd(width)}${value(v)}`),
    '',
    'Access:',
    ...n.grant.access.map((t) => `  - ${describeTarget(t)}`),
  ];
  const act = action(n);
  if (act) {
    lines.push(
      '',
      `To approve (your approval binds to ${n.grant.specHash}):`,
      `  ${act.approveCommand}`,
      '',
      'To deny:',
      `  ${act.denyCommand}`,
    );
    if (act.portalUrl) lines.push('', `Or review it in the portal: ${act.portalUrl}`);
  }
  lines.push('', '--', `Sent by Timebox. Notification ${n.id}`);
  return `${lines.join('\n')}\n`;
}

function renderHtml(n: Notification): string {
  const e = escapeHtml;
  const cell = 'padding:2px 12px 2px 0;vertical-align:top';
  const rows = facts(n)
    .map(
      ([label, v]) =>
        `<tr><th align="left" style="${cell}">${e(label)}</th><td style="${cell};white-space:pre-wrap">${e(v)}</td></tr>`,
    )
    .join('\n');
  const access = n.grant.access.map((t) => `<li>${e(describeTarget(t))}</li>`).join('\n');
  const parts = [
    '<!doctype html>',
    '<html><body style="font-family:sans-serif;font-size:14px">',
    `<h2>${e(HEADLINES[n.event])}</h2>`,
    `<p><strong>${e(n.summary)}</strong></p>`,
    `<table>\n${rows}\n</table>`,
    `<h3>Access</h3>\n<ul>\n${access}\n</ul>`,
  ];
  const act = action(n);
  if (act) {
    const pre = 'style="background:#f4f4f4;padding:8px"';
    parts.push(
      `<h3>To approve</h3>\n<p>Your approval binds to <code>${e(n.grant.specHash)}</code>.</p>`,
      `<pre ${pre}><code>${e(act.approveCommand)}</code></pre>`,
      `<h3>To deny</h3>\n<pre ${pre}><code>${e(act.denyCommand)}</code></pre>`,
    );
    if (act.portalUrl) {
      const url = e(act.portalUrl);
      parts.push(
        isWebUrl(act.portalUrl)
          ? `<p><a href="${url}">Review it in the portal</a></p>`
          : `<p>Review it in the portal: ${url}</p>`,
      );
    }
  }
  parts.push(
    `<p style="color:#666;font-size:12px">Sent by Timebox. Notification ${e(n.id)}</p>`,
    '</body></html>',
  );
  return `${parts.join('\n')}\n`;
}

/**
 * Pure: the email for a notification. Every value that came from a user (names,
 * reasons, comments) is escaped in the HTML part; the subject is one line.
 */
export function renderEmail(n: Notification): RenderedEmail {
  return {
    subject: oneLine(`[Timebox] ${n.event}: ${n.summary} (${n.grant.namespace}/${n.grant.name})`),
    text: renderText(n),
    html: renderHtml(n),
  };
}
