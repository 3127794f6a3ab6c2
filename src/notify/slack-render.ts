import { describeTarget } from '../api/v1alpha1/describe.ts';
import type { Notification, NotificationEvent } from './types.ts';

/**
 * A Notification as a Slack message: Block Kit blocks and the plain `text` that
 * Slack shows in push notifications and to clients that cannot draw blocks.
 * Pure: no I/O, so what a grant looks like in Slack is tested without Slack.
 */

export const APPROVE_ACTION_ID = 'timebox_approve';
export const DENY_ACTION_ID = 'timebox_deny';

// The few Block Kit shapes used here, written out so that rendering does not
// depend on the SDK; tsc still checks them against @slack/web-api's types where
// slack.ts hands them over.
export interface MrkdwnText {
  type: 'mrkdwn';
  text: string;
  /** true: Slack does not auto-link URLs, #channels or @mentions typed as plain words. */
  verbatim: true;
}
export interface PlainText {
  type: 'plain_text';
  text: string;
  emoji?: boolean;
}
export interface ButtonElement {
  type: 'button';
  action_id: string;
  text: PlainText;
  value: string;
  style: 'primary' | 'danger';
}
export type SlackBlock =
  | { type: 'section'; text?: MrkdwnText; fields?: MrkdwnText[] }
  | { type: 'context'; elements: MrkdwnText[] }
  | { type: 'actions'; block_id: string; elements: ButtonElement[] };

export interface SlackMessage {
  /** Fallback text (notifications, screen readers); mrkdwn, escaped like the blocks. */
  text: string;
  blocks: SlackBlock[];
}

/** The grant version a button approves or denies: exactly the spec that was shown. */
export interface ButtonValue {
  ns: string;
  name: string;
  uid: string;
  specHash: string;
}

// Slack's documented limits: a button value, a section's field, a section's or
// context element's text.
const BUTTON_VALUE_MAX = 2000;
const FIELD_MAX = 2000;
const TEXT_MAX = 3000;
// Slack truncates long fallback text itself; keep notifications short.
const FALLBACK_MAX = 3000;

/**
 * Escapes the three characters Slack's mrkdwn treats as control characters, so a
 * value like `<!channel>` or `<https://evil|click>` is shown as typed instead of
 * pinging a channel or hiding a link behind friendly words.
 */
export function escapeMrkdwn(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/**
 * Escapes `raw` and keeps the result within `max` characters, ending with `…`
 * when cut. Escaping can grow a value fivefold, so the cut is made after
 * escaping, never inside an entity like `&amp;`.
 */
export function escapeAndFit(raw: string, max: number): string {
  const escaped = escapeMrkdwn(raw);
  if (escaped.length <= max) return escaped;
  let cut = escaped.slice(0, max - 1);
  const amp = cut.lastIndexOf('&');
  if (amp >= 0 && !cut.slice(amp).includes(';')) cut = cut.slice(0, amp);
  return `${cut}…`;
}

/** The button value for a grant: JSON of its identity and spec hash. */
export function encodeButtonValue(v: ButtonValue): string {
  const value = JSON.stringify({ ns: v.ns, name: v.name, uid: v.uid, specHash: v.specHash });
  // Kubernetes bounds names (253), namespaces (63), uids (36) and the hash (71),
  // so this cannot happen with a real grant; refuse rather than send a button
  // Slack would reject or truncate.
  if (value.length > BUTTON_VALUE_MAX) {
    throw new Error(
      `button value is ${value.length} characters, more than Slack's ${BUTTON_VALUE_MAX}`,
    );
  }
  return value;
}

// Kubernetes names (RFC 1123 subdomain), UIDs, and spec hashes with or without
// the `sha256:` prefix (status.specHash is bare hex; older grants 16 digits).
const NAME_RE = /^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/;
const UID_RE = /^[0-9a-fA-F-]{1,64}$/;
const HASH_RE = /^(sha256:)?[0-9a-f]{16,64}$/;

/**
 * Parses a button value back into the grant version it names. Throws when it is
 * not one this module wrote: a click is only ever trusted for a grant identity
 * and a spec hash in the exact shape Timebox renders.
 */
export function decodeButtonValue(value: string): ButtonValue {
  let parsed: unknown;
  try {
    parsed = JSON.parse(value);
  } catch {
    throw new Error('button value is not JSON');
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new Error('button value is not a JSON object');
  }
  const o = parsed as Record<string, unknown>;
  const field = (key: keyof ButtonValue, re: RegExp): string => {
    const v = o[key];
    if (typeof v !== 'string' || !re.test(v)) throw new Error(`button value has no valid ${key}`);
    return v;
  };
  return {
    ns: field('ns', NAME_RE),
    name: field('name', NAME_RE),
    uid: field('uid', UID_RE),
    specHash: field('specHash', HASH_RE),
  };
}

type Grant = Notification['grant'];

function namespacesOf(g: Grant): string | undefined {
  const names = new Set<string>();
  let clusterWide = false;
  for (const t of g.access) {
    if (t.kubernetes?.clusterWide) clusterWide = true;
    for (const ns of t.kubernetes?.namespaces ?? []) names.add(ns);
  }
  const all = [...names];
  if (clusterWide) all.unshift('cluster-wide');
  return all.length ? all.join(', ') : undefined;
}

function subjectOf(g: Grant): string {
  const s = g.subject;
  return s.kind === 'ServiceAccount' && s.namespace
    ? `ServiceAccount ${s.namespace}/${s.name}`
    : `${s.kind} ${s.name}`;
}

/**
 * A time as Slack's date token, which each reader sees in their own time zone;
 * the fallback after `|` is the RFC 3339 text. Raw text when it does not parse.
 */
function slackTime(rfc3339: string): string {
  const ms = Date.parse(rfc3339);
  if (Number.isNaN(ms)) return escapeMrkdwn(rfc3339);
  const s = Math.floor(ms / 1000);
  return `<!date^${s}^{date_short_pretty} {time}|${escapeMrkdwn(rfc3339)}>`;
}

const STATE: Record<NotificationEvent, string> = {
  Requested: ':hourglass_flowing_sand: Waiting for approval',
  Approved: ':white_check_mark: Approved',
  Denied: ':no_entry: Denied',
  Activated: ':unlock: Active',
  ExpiringSoon: ':alarm_clock: Expiring soon',
  Ended: ':lock: Ended',
  Failed: ':x: Failed',
  RevocationOverdue: ':rotating_light: Access outlived its grant',
};

/** The state line: what happened and who decided, e.g. "Approved by bob: “ok”". */
function stateLine(n: Notification): string {
  // Bounded parts (user names are short), so the line stays within TEXT_MAX.
  let line = STATE[n.event];
  if (n.actor) {
    line += ` by ${escapeAndFit(n.actor.user, 256)}`;
    if (n.actor.comment) line += `: “${escapeAndFit(n.actor.comment, 1000)}”`;
  }
  if (n.detail) line += ` — ${escapeAndFit(n.detail, 1000)}`;
  return line;
}

function mrkdwn(text: string, max: number = TEXT_MAX): MrkdwnText {
  // Callers escape values before composing; only an over-long result is cut here.
  return {
    type: 'mrkdwn',
    text: text.length <= max ? text : `${text.slice(0, max - 1)}…`,
    verbatim: true,
  };
}

/** Whether `raw` is shown whole in a field (not cut to Slack's limits). */
function fitsField(label: string, raw: string | undefined): boolean {
  return raw === undefined || escapeMrkdwn(raw).length <= FIELD_MAX - `*${label}*\n`.length;
}

function field(label: string, rawValue: string | undefined): MrkdwnText | undefined {
  if (rawValue === undefined || rawValue === '') return undefined;
  const head = `*${label}*\n`;
  return mrkdwn(head + escapeAndFit(rawValue, FIELD_MAX - head.length), FIELD_MAX);
}

function timeField(label: string, rfc3339: string | undefined): MrkdwnText | undefined {
  return rfc3339 ? mrkdwn(`*${label}*\n${slackTime(rfc3339)}`, FIELD_MAX) : undefined;
}

/**
 * The message for a notification. Every event of a grant renders a complete
 * message, so an update in place (chat.update) replaces the previous one
 * entirely: only `Requested` has Approve and Deny buttons, and later events show
 * the new state and who decided instead.
 */
export function renderSlackMessage(n: Notification): SlackMessage {
  const g = n.grant;
  const shown: [string, string | undefined][] = [
    ['Subject', subjectOf(g)],
    ['Requested by', g.requestedBy],
    ['Access', g.access.map(describeTarget).join('\n')],
    ['Namespaces', namespacesOf(g)],
    ['Duration', g.duration],
    ['Reason', g.reason],
    ['Phase', g.phase],
  ];
  const fields = [
    ...shown.map(([label, value]) => field(label, value)),
    timeField('Starts', g.startAt),
    timeField('Expires', g.expiresAt),
  ].filter((f): f is MrkdwnText => f !== undefined);
  // A button approves the whole spec (its hash): it is offered only when the whole
  // request is on screen. A request padded past Slack's limits (say, fifteen view
  // entries hiding an admin one) is decided where it can be read in full.
  const whole =
    shown.every(([label, value]) => fitsField(label, value)) &&
    escapeMrkdwn(n.summary).length <= TEXT_MAX - 2;

  const blocks: SlackBlock[] = [
    { type: 'section', text: mrkdwn(`*${escapeAndFit(n.summary, TEXT_MAX - 2)}*`) },
    // Slack allows at most 10 fields per section; there are 9 at most.
    { type: 'section', fields },
    { type: 'context', elements: [mrkdwn(stateLine(n))] },
  ];

  if (n.event === 'Requested' && !whole) {
    blocks.push({
      type: 'context',
      elements: [
        mrkdwn(
          `:warning: This request is too long to show in full here, so it cannot be decided from Slack. Review it whole with \`timebox describe ${escapeMrkdwn(g.name)} -n ${escapeMrkdwn(g.namespace)}\`, then approve or deny with the CLI.`,
        ),
      ],
    });
  }
  if (n.event === 'Requested' && whole) {
    const value = encodeButtonValue({
      ns: g.namespace,
      name: g.name,
      uid: g.uid,
      specHash: g.specHash,
    });
    blocks.push({
      type: 'actions',
      block_id: 'timebox_decision',
      elements: [
        {
          type: 'button',
          action_id: APPROVE_ACTION_ID,
          text: { type: 'plain_text', text: 'Approve' },
          style: 'primary',
          value,
        },
        {
          type: 'button',
          action_id: DENY_ACTION_ID,
          text: { type: 'plain_text', text: 'Deny' },
          style: 'danger',
          value,
        },
      ],
    });
    if (n.act) {
      // The CLI alternative, for people who decide from a terminal.
      let how = `Or: \`${escapeMrkdwn(n.act.approveCommand)}\` / \`${escapeMrkdwn(n.act.denyCommand)}\``;
      if (n.act.portalUrl) how += ` · <${escapeMrkdwn(n.act.portalUrl)}|Open in the portal>`;
      blocks.push({ type: 'context', elements: [mrkdwn(how)] });
    }
  }

  const text = escapeAndFit(`${n.summary} (${stripEmoji(STATE[n.event])})`, FALLBACK_MAX);
  return { text, blocks };
}

/** The state words without their leading `:emoji:`, for the fallback text. */
function stripEmoji(s: string): string {
  return s.replace(/^:[a-z_]+: /, '');
}
