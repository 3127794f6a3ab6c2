import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  signSlackRequest,
  slackInteractionHandler,
  type SlackAction,
  type SlackCommand,
} from '../../src/notify/slack-endpoint.ts';
import { slackSender } from '../../src/notify/slack.ts';
import {
  DeliveryError,
  type Notification,
  type NotificationEvent,
} from '../../src/notify/types.ts';
import { startFakeSlack, type FakeSlack } from '../support/fake-slack.ts';
import { SAMPLE_HASH, SAMPLE_UID, sampleNotification } from '../support/notification.ts';

const CHANNEL_ID = 'C0APPROVALS';
const UID = SAMPLE_UID;
const HASH = SAMPLE_HASH;
const notification = (event: NotificationEvent, over: Partial<Notification> = {}) =>
  sampleNotification(event, over);

/** The action_ids of the buttons in a call's blocks. */
function buttonIds(args: Record<string, unknown>): string[] {
  const blocks = args.blocks as { type: string; elements?: { action_id?: string }[] }[];
  return blocks
    .filter((b) => b.type === 'actions')
    .flatMap((b) => b.elements ?? [])
    .map((e) => e.action_id ?? '');
}

async function rejection(p: Promise<unknown>): Promise<DeliveryError> {
  try {
    await p;
  } catch (err) {
    assert.ok(err instanceof DeliveryError, `expected a DeliveryError, got ${String(err)}`);
    return err;
  }
  assert.fail('expected the delivery to fail');
}

describe('Slack notifications through @slack/web-api', () => {
  let slack: FakeSlack & { token: string };

  beforeEach(async () => {
    slack = await startFakeSlack();
    slack.addChannel(CHANNEL_ID, 'approvals');
  });
  afterEach(() => slack.stop());

  it('posts one message with Approve and Deny to the channel, with the bot token', async () => {
    const sender = slackSender(
      { channel: '#approvals', token: slack.token },
      { apiUrl: slack.apiUrl },
    );
    const delivery = await sender.send(notification('Requested'));
    assert.equal(slack.calls.length, 1);
    const [call] = slack.calls;
    assert.equal(call?.method, 'chat.postMessage');
    assert.equal(call.token, slack.token);
    assert.equal(call.args.channel, '#approvals');
    assert.deepEqual(buttonIds(call.args), ['timebox_approve', 'timebox_deny']);
    assert.match(String(call.args.text), /alice asks for ClusterRole edit/);
    assert.equal(delivery.ref, `${CHANNEL_ID}/1700000000.000100`, 'the channel ID and ts');
  });

  it('updates that same message when the request is approved, without buttons', async () => {
    const sender = slackSender(
      { channel: '#approvals', token: slack.token },
      { apiUrl: slack.apiUrl },
    );
    const first = await sender.send(notification('Requested'));
    const approved = notification('Approved', { actor: { user: 'bob' } });
    const second = await sender.send(approved, first.ref);

    assert.deepEqual(
      slack.calls.map((c) => c.method),
      ['chat.postMessage', 'chat.update'],
    );
    const update = slack.calls[1]!;
    // chat.update takes the channel ID Slack answered to the post, not the name.
    assert.equal(update.args.channel, CHANNEL_ID);
    assert.equal(`${CHANNEL_ID}/${String(update.args.ts)}`, first.ref);
    assert.deepEqual(buttonIds(update.args), []);
    assert.equal(second.ref, first.ref);
    const shown = slack.messages.get(first.ref!);
    assert.match(JSON.stringify(shown?.blocks), /Approved by bob/);
    assert.equal(slack.messages.size, 1, 'still one message in the channel');
  });

  it('posts a new message when the one to update was deleted', async () => {
    const sender = slackSender(
      { channel: CHANNEL_ID, token: slack.token },
      { apiUrl: slack.apiUrl },
    );
    const first = await sender.send(notification('Requested'));
    slack.deleteMessage(CHANNEL_ID, first.ref!.split('/')[1]!);
    const second = await sender.send(notification('Activated'), first.ref);
    assert.deepEqual(
      slack.calls.map((c) => c.method),
      ['chat.postMessage', 'chat.update', 'chat.postMessage'],
    );
    assert.notEqual(second.ref, first.ref);
    assert.ok(slack.messages.has(second.ref!));
  });

  it('after a restart, updates the message in place from its ref alone', async () => {
    const before = slackSender(
      { channel: '#approvals', token: slack.token },
      { apiUrl: slack.apiUrl },
    );
    const first = await before.send(notification('Requested'));
    // A new process: it has only the ref recorded in the grant's status.
    const after = slackSender(
      { channel: '#approvals', token: slack.token },
      { apiUrl: slack.apiUrl },
    );
    await after.send(notification('Approved', { actor: { user: 'bob' } }), first.ref);
    assert.deepEqual(
      slack.calls.map((c) => [c.method, c.args.channel]),
      [
        ['chat.postMessage', '#approvals'],
        ['chat.update', CHANNEL_ID],
      ],
    );
    assert.equal(slack.messages.size, 1);
  });

  it('turns a 429 into a retryable error with Slack’s Retry-After, without retrying itself', async () => {
    const sender = slackSender(
      { channel: CHANNEL_ID, token: slack.token },
      { apiUrl: slack.apiUrl },
    );
    slack.failNext('chat.postMessage', 429, { retryAfterS: 30 });
    const started = Date.now();
    const err = await rejection(sender.send(notification('Requested')));
    assert.equal(err.retryable, true);
    assert.equal(err.retryAfterMs, 30_000);
    assert.match(err.message, /rate-limited chat\.postMessage: retry after 30 s/);
    assert.equal(slack.calls.length, 1, 'the SDK did not retry on its own');
    assert.ok(Date.now() - started < 5000, 'the SDK did not sleep for Retry-After');
  });

  it('turns a 503 into a retryable error', async () => {
    const sender = slackSender(
      { channel: CHANNEL_ID, token: slack.token },
      { apiUrl: slack.apiUrl },
    );
    slack.failNext('chat.postMessage', 503);
    const err = await rejection(sender.send(notification('Requested')));
    assert.equal(err.retryable, true);
    assert.match(err.message, /HTTP 503/);
    assert.equal(slack.calls.length, 1);
  });

  it('refuses an invalid token for good, without revealing it', async () => {
    const wrong = 'xoxb-111-222-thisIsNotTheRightToken';
    const sender = slackSender({ channel: CHANNEL_ID, token: wrong }, { apiUrl: slack.apiUrl });
    const err = await rejection(sender.send(notification('Requested')));
    assert.equal(slack.calls[0]?.token, wrong, 'the SDK sent the configured token');
    assert.equal(err.retryable, false);
    assert.match(err.message, /invalid_auth.*valid bot token/);
    assert.ok(!err.message.includes(wrong), err.message);
    assert.ok(!JSON.stringify(err).includes(wrong));
    assert.ok(!String((err.cause as Error).message).includes(wrong));
  });

  it('says to invite the app when it is not in the channel', async () => {
    slack.addChannel('C0PRIVATE', 'security', { member: false });
    const sender = slackSender(
      { channel: '#security', token: slack.token },
      { apiUrl: slack.apiUrl },
    );
    const err = await rejection(sender.send(notification('Requested')));
    assert.equal(err.retryable, false);
    assert.match(err.message, /invite the app to #security/);
  });

  it('turns an unreachable Slack into a retryable error', async () => {
    const apiUrl = slack.apiUrl;
    await slack.stop();
    const sender = slackSender({ channel: CHANNEL_ID, token: slack.token }, { apiUrl });
    const err = await rejection(sender.send(notification('Requested')));
    assert.equal(err.retryable, true);
    assert.match(err.message, /cannot reach Slack for chat\.postMessage/);
    slack = await startFakeSlack(); // for afterEach
  });
});

describe('Slack interaction endpoint', () => {
  const SECRET = 'test-signing-secret-0123456789abcdef';
  let server: Server;
  let url: string;
  let actions: SlackAction[];
  let commands: SlackCommand[];

  before(async () => {
    server = createServer(
      slackInteractionHandler({
        signingSecret: SECRET,
        onAction: async (a) => {
          actions.push(a);
          return { text: `${a.action} recorded` };
        },
        onCommand: async (c) => {
          commands.push(c);
          return { text: 'your grants: none', ephemeral: true };
        },
      }),
    );
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/slack`;
  });
  after(async () => {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });
  beforeEach(() => {
    actions = [];
    commands = [];
  });

  /** POSTs a form body as Slack does, signed at `tsS` with `secret`. */
  async function post(
    body: string,
    opts: { tsS?: number; secret?: string; signature?: string } = {},
  ): Promise<{ status: number; text: string }> {
    const tsS = opts.tsS ?? Math.floor(Date.now() / 1000);
    const res = await fetch(url, {
      method: 'POST',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        'x-slack-request-timestamp': String(tsS),
        'x-slack-signature': opts.signature ?? signSlackRequest(opts.secret ?? SECRET, tsS, body),
      },
      body,
    });
    return { status: res.status, text: await res.text() };
  }

  function clickBody(actionId: string, value?: string, nonce = 'a'): string {
    const payload = {
      type: 'block_actions',
      user: { id: 'U0BOB', username: 'bob', team_id: 'T0TIMEBOX' },
      team: { id: 'T0TIMEBOX', domain: 'timebox' },
      container: {
        type: 'message',
        message_ts: '1700000000.000100',
        channel_id: 'C0APPROVALS',
      },
      channel: { id: 'C0APPROVALS', name: 'approvals' },
      message: { ts: '1700000000.000100', text: 'alice asks…' },
      response_url: 'https://hooks.slack.com/actions/T0TIMEBOX/1/abc',
      trigger_id: `trigger-${nonce}`,
      actions: [
        {
          type: 'button',
          action_id: actionId,
          block_id: 'timebox_decision',
          value:
            value ??
            JSON.stringify({ ns: 'payments', name: 'alice-debug', uid: UID, specHash: HASH }),
          action_ts: '1700000001.000200',
        },
      ],
    };
    return new URLSearchParams({ payload: JSON.stringify(payload) }).toString();
  }

  it('passes a signed Approve click on with the grant version it names', async () => {
    const res = await post(clickBody('timebox_approve'));
    assert.equal(res.status, 200, res.text);
    assert.deepEqual(JSON.parse(res.text), {
      response_type: 'ephemeral',
      text: 'approve recorded',
    });
    assert.deepEqual(actions, [
      {
        slackUserId: 'U0BOB',
        slackTeamId: 'T0TIMEBOX',
        action: 'approve',
        grant: { namespace: 'payments', name: 'alice-debug', uid: UID, specHash: HASH },
        responseUrl: 'https://hooks.slack.com/actions/T0TIMEBOX/1/abc',
        channelId: 'C0APPROVALS',
        messageTs: '1700000000.000100',
        triggerId: 'trigger-a',
      },
    ]);
  });

  it('refuses a forged click (wrong signature) with 401 and never acts on it', async () => {
    const res = await post(clickBody('timebox_approve', undefined, 'forged'), {
      secret: 'attackers-guess',
    });
    assert.equal(res.status, 401);
    assert.match(res.text, /signature does not match/);
    assert.equal(actions.length, 0);
  });

  it('refuses a click signed 6 minutes ago with 401', async () => {
    const res = await post(clickBody('timebox_deny', undefined, 'stale'), {
      tsS: Math.floor(Date.now() / 1000) - 360,
    });
    assert.equal(res.status, 401);
    assert.match(res.text, /more than 300 s/);
    assert.equal(actions.length, 0);
  });

  it('acts on a click once: its replay gets 401', async () => {
    const body = clickBody('timebox_deny', undefined, 'replayed');
    const tsS = Math.floor(Date.now() / 1000);
    const signature = signSlackRequest(SECRET, tsS, body);
    const first = await post(body, { tsS, signature });
    const replayed = await post(body, { tsS, signature });
    assert.equal(first.status, 200);
    assert.equal(replayed.status, 401);
    assert.match(replayed.text, /replay/);
    assert.equal(actions.length, 1);
    assert.equal(actions[0]?.action, 'deny');
  });

  it('answers 400 to an action or button value Timebox did not render', async () => {
    const unknown = await post(clickBody('delete_everything', undefined, 'x1'));
    const malformed = await post(clickBody('timebox_approve', '{"ns":"payments"}', 'x2'));
    assert.equal(unknown.status, 400);
    assert.match(unknown.text, /unknown action/);
    assert.equal(malformed.status, 400);
    assert.match(malformed.text, /no valid name/);
    assert.equal(actions.length, 0);
  });

  it('answers 413 to a body over 64 KiB without acting on it', async () => {
    const res = await post(clickBody('timebox_approve', undefined, 'x'.repeat(70 * 1024)));
    assert.equal(res.status, 413);
    assert.equal(actions.length, 0);
  });

  it('passes `/timebox ls` on with its arguments', async () => {
    const body = new URLSearchParams({
      command: '/timebox',
      text: ' ls  --all ',
      user_id: 'U0ALICE',
      team_id: 'T0TIMEBOX',
      response_url: 'https://hooks.slack.com/commands/T0TIMEBOX/2/def',
    }).toString();
    const res = await post(body);
    assert.equal(res.status, 200, res.text);
    assert.deepEqual(JSON.parse(res.text), {
      response_type: 'ephemeral',
      text: 'your grants: none',
    });
    assert.deepEqual(commands, [
      {
        slackUserId: 'U0ALICE',
        slackTeamId: 'T0TIMEBOX',
        text: 'ls  --all',
        args: ['ls', '--all'],
        responseUrl: 'https://hooks.slack.com/commands/T0TIMEBOX/2/def',
      },
    ]);
  });

  it('answers an unknown sub-command with help, without a callback', async () => {
    const body = new URLSearchParams({
      command: '/timebox',
      text: 'sudo make me admin',
      user_id: 'U0ALICE',
    }).toString();
    const res = await post(body);
    assert.equal(res.status, 200);
    const reply = JSON.parse(res.text) as { response_type: string; text: string };
    assert.equal(reply.response_type, 'ephemeral');
    assert.match(reply.text, /Usage: `\/timebox <command>`/);
    assert.equal(commands.length, 0);
  });
});
