import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from '../log/logger.ts';
import {
  APPROVE_ACTION_ID,
  DENY_ACTION_ID,
  decodeButtonValue,
  type ButtonValue,
} from './slack-render.ts';
import { ReplayGuard, SlackVerificationError, verifySlackRequest } from './slack-signature.ts';

/**
 * The HTTP endpoint Slack calls: button clicks on Timebox messages (the app's
 * Interactivity Request URL) and the `/timebox` slash command (the command's
 * Request URL). Every request is verified (signature, age, replay) before any
 * of it is parsed, and a refused request never reaches a callback.
 *
 * Slack waits 3 seconds for the answer and then shows the user an error, so
 * `onAction` and `onCommand` must be quick: record the decision (e.g. create an
 * AccessApproval) and answer; post anything slow later to `responseUrl`.
 */

export { signSlackRequest } from './slack-signature.ts';

/** A click on Approve or Deny, for exactly the grant version shown in the message. */
export interface SlackAction {
  slackUserId: string;
  slackTeamId?: string;
  action: 'approve' | 'deny';
  grant: { namespace: string; name: string; uid: string; specHash: string };
  responseUrl?: string;
  channelId?: string;
  messageTs?: string;
  /** Slack's id of this one click: the same in a replay of it. */
  triggerId?: string;
}

export const SLACK_COMMAND = '/timebox';
export const SLACK_SUBCOMMANDS = ['request', 'ls', 'approve', 'deny', 'revoke', 'help'] as const;
export type SlackSubcommand = (typeof SLACK_SUBCOMMANDS)[number];

/** `/timebox <text>`; `args[0]` is one of SLACK_SUBCOMMANDS. */
export interface SlackCommand {
  slackUserId: string;
  slackTeamId?: string;
  text: string;
  args: string[];
  responseUrl?: string;
  /** Slack's id of this one command: the same in a replay of it. */
  triggerId?: string;
}

/**
 * The answer shown to the user; ephemeral (only they see it) unless
 * `ephemeral: false`. Slack shows it for slash commands; for button clicks it
 * only acknowledges the click (Slack ignores the body of that answer), so a
 * visible reply to a click goes to `responseUrl`.
 */
export interface SlackReply {
  text: string;
  ephemeral?: boolean;
  /** Block Kit blocks to show instead of the text (which stays the fallback). */
  blocks?: unknown[];
}

export const SLACK_HELP_TEXT = [
  'Usage: `/timebox <command>`',
  '• `request <cluster role> in <namespace> for <duration> [under <policy>] because <reason>`: ask for access',
  '• `ls`: your grants and the requests waiting for you',
  '• `approve <namespace>/<grant>` or `deny <namespace>/<grant>`: review a request, then decide with its buttons',
  '• `revoke <namespace>/<grant>`: end access now',
  '• `help`: this text',
].join('\n');

/** Slack's payloads are a few KiB; anything much larger is not from Slack. */
export const SLACK_BODY_LIMIT_BYTES = 64 * 1024;

export interface SlackHandlerOptions {
  /** The app's signing secret (Basic Information → App Credentials). */
  signingSecret: string;
  /** The clock, in ms since the epoch (tests inject one). */
  nowMs?: () => number;
  onAction(a: SlackAction): Promise<SlackReply>;
  onCommand(c: SlackCommand): Promise<SlackReply>;
  /** Where failures of the callbacks are logged (they are not shown to users). */
  log?: Logger;
}

/** A request answered with a status and a short text, and never passed on. */
class Refusal extends Error {
  readonly status: number;

  constructor(status: number, message: string) {
    super(message);
    this.status = status;
  }
}

function header(req: IncomingMessage, name: string): string | undefined {
  const v = req.headers[name];
  return typeof v === 'string' ? v : undefined;
}

/** The body as received (the HMAC covers these exact bytes), or a 413 Refusal past the limit. */
function readBody(req: IncomingMessage, limitBytes: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const declared = Number(req.headers['content-length']);
    if (declared > limitBytes) {
      req.resume();
      reject(new Refusal(413, `body larger than ${limitBytes} bytes`));
      return;
    }
    const chunks: Buffer[] = [];
    let bytes = 0;
    const onData = (chunk: Buffer): void => {
      bytes += chunk.length;
      if (bytes > limitBytes) {
        // Stop keeping it; drain the rest so the 413 reaches the client.
        req.off('data', onData);
        req.resume();
        reject(new Refusal(413, `body larger than ${limitBytes} bytes`));
        return;
      }
      chunks.push(chunk);
    };
    req.on('data', onData);
    req.once('end', () => resolve(Buffer.concat(chunks)));
    req.once('error', reject);
  });
}

function sendText(res: ServerResponse, status: number, text: string): void {
  const headers: Record<string, string> = { 'content-type': 'text/plain; charset=utf-8' };
  // After a refused oversized body, do not keep reading from this connection.
  if (status === 413) headers.connection = 'close';
  res.writeHead(status, headers).end(`${text}\n`);
}

function sendReply(res: ServerResponse, reply: SlackReply): void {
  const body = JSON.stringify({
    response_type: reply.ephemeral === false ? 'in_channel' : 'ephemeral',
    text: reply.text,
    ...(reply.blocks ? { blocks: reply.blocks } : {}),
  });
  res.writeHead(200, { 'content-type': 'application/json; charset=utf-8' }).end(body);
}

function str(v: unknown): string | undefined {
  return typeof v === 'string' && v !== '' ? v : undefined;
}

function obj(v: unknown): Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v)
    ? (v as Record<string, unknown>)
    : {};
}

/** A `block_actions` payload as a SlackAction; Refusal(400) for anything Timebox did not render. */
function parseBlockActions(payloadJson: string): SlackAction {
  let payload: Record<string, unknown>;
  try {
    payload = obj(JSON.parse(payloadJson));
  } catch {
    throw new Refusal(400, 'payload is not JSON');
  }
  if (payload.type !== 'block_actions') {
    throw new Refusal(400, `unsupported interaction type ${JSON.stringify(payload.type)}`);
  }
  const actions = payload.actions;
  // Slack sends one action per block_actions payload: the element clicked.
  const first = Array.isArray(actions) ? obj(actions[0]) : {};
  const actionId = first.action_id;
  const action =
    actionId === APPROVE_ACTION_ID ? 'approve' : actionId === DENY_ACTION_ID ? 'deny' : undefined;
  if (!action) throw new Refusal(400, `unknown action ${JSON.stringify(actionId)}`);
  let value: ButtonValue;
  try {
    value = decodeButtonValue(str(first.value) ?? '');
  } catch (err) {
    throw new Refusal(400, (err as Error).message);
  }
  const user = obj(payload.user);
  const slackUserId = str(user.id);
  if (!slackUserId) throw new Refusal(400, 'payload has no user.id');
  const container = obj(payload.container);
  const a: SlackAction = {
    slackUserId,
    action,
    grant: { namespace: value.ns, name: value.name, uid: value.uid, specHash: value.specHash },
  };
  const teamId = str(user.team_id) ?? str(obj(payload.team).id);
  const responseUrl = str(payload.response_url);
  const channelId = str(obj(payload.channel).id) ?? str(container.channel_id);
  const messageTs = str(obj(payload.message).ts) ?? str(container.message_ts);
  if (teamId) a.slackTeamId = teamId;
  if (responseUrl) a.responseUrl = responseUrl;
  if (channelId) a.channelId = channelId;
  if (messageTs) a.messageTs = messageTs;
  const triggerId = str(payload.trigger_id);
  if (triggerId) a.triggerId = triggerId;
  return a;
}

/** A slash command's form as a SlackCommand; undefined when help is the answer. */
function parseSlashCommand(form: URLSearchParams): SlackCommand | undefined {
  const command = form.get('command');
  if (command !== SLACK_COMMAND) {
    throw new Refusal(400, `unknown command ${JSON.stringify(command)}; expected ${SLACK_COMMAND}`);
  }
  const slackUserId = str(form.get('user_id'));
  if (!slackUserId) throw new Refusal(400, 'command has no user_id');
  const text = (form.get('text') ?? '').trim();
  const args = text.split(/\s+/).filter((a) => a !== '');
  if (!(SLACK_SUBCOMMANDS as readonly string[]).includes(args[0] ?? '')) return undefined;
  const c: SlackCommand = { slackUserId, text, args };
  const teamId = str(form.get('team_id'));
  const responseUrl = str(form.get('response_url'));
  if (teamId) c.slackTeamId = teamId;
  if (responseUrl) c.responseUrl = responseUrl;
  const triggerId = str(form.get('trigger_id'));
  if (triggerId) c.triggerId = triggerId;
  return c;
}

/**
 * A `node:http` request listener for Slack's requests. Answers 401 to anything
 * not signed by Slack within the last 5 minutes or seen before, 413 to bodies
 * over 64 KiB, 400 to payloads Timebox did not render, and otherwise 200 with
 * the callback's reply as `{ response_type, text }`.
 */
export function slackInteractionHandler(
  opts: SlackHandlerOptions,
): (req: IncomingMessage, res: ServerResponse) => void {
  const nowMs = opts.nowMs ?? Date.now;
  const replay = new ReplayGuard({ nowMs });

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (req.method !== 'POST') {
      res.setHeader('allow', 'POST');
      throw new Refusal(405, 'use POST');
    }
    const rawBody = await readBody(req, SLACK_BODY_LIMIT_BYTES);
    try {
      verifySlackRequest({
        signingSecret: opts.signingSecret,
        timestamp: header(req, 'x-slack-request-timestamp'),
        signature: header(req, 'x-slack-signature'),
        rawBody,
        nowMs: nowMs(),
        replay,
      });
    } catch (err) {
      if (err instanceof SlackVerificationError) throw new Refusal(401, err.message);
      // The replay guard is full: not the client's fault, and retrying later works.
      throw new Refusal(503, (err as Error).message);
    }
    // Verified: from here on the body is Slack's.
    const type = header(req, 'content-type') ?? '';
    if (!type.startsWith('application/x-www-form-urlencoded')) {
      throw new Refusal(415, 'expected application/x-www-form-urlencoded');
    }
    const form = new URLSearchParams(rawBody.toString('utf8'));
    const payload = form.get('payload');
    if (payload !== null) {
      const action = parseBlockActions(payload);
      sendReply(res, await opts.onAction(action));
      return;
    }
    if (form.has('command')) {
      const command = parseSlashCommand(form);
      sendReply(res, command ? await opts.onCommand(command) : { text: SLACK_HELP_TEXT });
      return;
    }
    throw new Refusal(400, 'neither an interaction payload nor a slash command');
  }

  return (req, res) => {
    handle(req, res).catch((err: unknown) => {
      if (res.headersSent) return;
      if (err instanceof Refusal) {
        sendText(res, err.status, err.message);
        return;
      }
      // A callback failed: tell the user briefly, keep the details in the log.
      opts.log?.error('Slack request failed', { err });
      sendReply(res, {
        text: 'Timebox could not handle this request; the operator log has details.',
      });
    });
  };
}
