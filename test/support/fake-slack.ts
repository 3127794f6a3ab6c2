import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A local stand-in for Slack's Web API (https://slack.com/api/), which cannot be
 * reached from the test machine. Tests use the official `@slack/web-api`
 * WebClient with `slackApiUrl` pointed here, so what is tested is the SDK's real
 * requests and the SDK's real handling of Slack's answers.
 *
 * It answers the way Slack does for the methods Timebox uses: POST bodies form-
 * encoded (what the SDK sends, with `blocks` as a JSON string) or JSON; the token
 * as `Authorization: Bearer` (or a `token` form field); HTTP 200 with `ok: true`
 * or `ok: false` and an error code (`not_authed`, `invalid_auth`,
 * `channel_not_found`, `not_in_channel`, `message_not_found`…); message `ts`
 * values like `1700000000.000100`, increasing. Channels exist only once added;
 * chat.postMessage accepts an ID or a name, chat.update only an ID, as Slack.
 */

export interface FakeSlackCall {
  method: string;
  /** The token the call carried ('' when none). */
  token: string;
  /** The arguments, with JSON-encoded `blocks` and `attachments` decoded. */
  args: Record<string, unknown>;
}

export interface FakeSlack {
  /** The Web API base URL, ending with `/api/`: the WebClient's `slackApiUrl`. */
  apiUrl: string;
  /** Every call received, in order, including refused and failed ones. */
  calls: FakeSlackCall[];
  /** Answers the next call of `method` with this HTTP status instead (429 with `Retry-After`). */
  failNext(method: string, status: number, opts?: { retryAfterS?: number }): void;
  /** A channel the bot can see; `member: false` makes posts fail with not_in_channel. */
  addChannel(id: string, name: string, opts?: { member?: boolean }): void;
  /** A user users.info knows, with this email in their profile. */
  addUser(id: string, email: string): void;
  /** Forgets a posted message, as when someone deletes it in Slack. */
  deleteMessage(channelId: string, ts: string): void;
  /** Where a click's response_url points; what is posted there lands in `responses`. */
  responseUrl: string;
  responses: Record<string, unknown>[];
  /** The current state of each message, by `<channel id>/<ts>`. */
  messages: Map<string, { text: unknown; blocks: unknown }>;
  stop(): Promise<void>;
}

export const FAKE_SLACK_TEAM_ID = 'T0TIMEBOX';
export const FAKE_SLACK_BOT_USER_ID = 'U0TIMEBOT';

const JSON_ARGS = ['blocks', 'attachments', 'metadata'];

function readAll(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

function parseArgs(contentType: string, body: string): Record<string, unknown> {
  if (contentType.startsWith('application/json')) {
    return body ? (JSON.parse(body) as Record<string, unknown>) : {};
  }
  const args: Record<string, unknown> = {};
  for (const [k, v] of new URLSearchParams(body)) {
    // Form-encoded calls carry structured arguments as JSON strings, which
    // Slack decodes; so does this fake.
    args[k] = JSON_ARGS.includes(k) && /^[[{]/.test(v) ? JSON.parse(v) : v;
  }
  return args;
}

export async function startFakeSlack(
  opts: { token?: string } = {},
): Promise<FakeSlack & { token: string }> {
  const token = opts.token ?? 'xoxb-fake-slack-bot-token';
  const calls: FakeSlackCall[] = [];
  const failures = new Map<string, { status: number; retryAfterS?: number }[]>();
  const channels = new Map<string, { name: string; member: boolean }>();
  const users = new Map<string, string>();
  const messages = new Map<string, { text: unknown; blocks: unknown }>();
  const responses: Record<string, unknown>[] = [];
  let seq = 0;

  const nextTs = (): string => {
    seq++;
    const micros = seq * 100;
    return `${1_700_000_000 + Math.floor(micros / 1e6)}.${String(micros % 1e6).padStart(6, '0')}`;
  };

  /** Slack's channel argument: an ID, or a name with or without `#` (not for updates). */
  const findChannel = (
    arg: unknown,
    allowName: boolean,
  ): { id: string; member: boolean } | undefined => {
    if (typeof arg !== 'string') return undefined;
    const byId = channels.get(arg);
    if (byId) return { id: arg, member: byId.member };
    if (!allowName) return undefined;
    const name = arg.replace(/^#/, '');
    for (const [id, c] of channels) if (c.name === name) return { id, member: c.member };
    return undefined;
  };

  const methods: Record<string, (args: Record<string, unknown>) => Record<string, unknown>> = {
    'auth.test': () => ({
      ok: true,
      url: 'https://timebox-test.slack.com/',
      team: 'Timebox test',
      user: 'timebox',
      team_id: FAKE_SLACK_TEAM_ID,
      user_id: FAKE_SLACK_BOT_USER_ID,
      bot_id: 'B0TIMEBOT',
    }),
    'users.info': (args) => {
      const email = typeof args.user === 'string' ? users.get(args.user) : undefined;
      if (email === undefined) return { ok: false, error: 'user_not_found' };
      const name = email.split('@')[0];
      return {
        ok: true,
        user: { id: args.user, team_id: FAKE_SLACK_TEAM_ID, name, profile: { email } },
      };
    },
    'chat.postMessage': (args) => {
      const ch = findChannel(args.channel, true);
      if (!ch) return { ok: false, error: 'channel_not_found' };
      if (!ch.member) return { ok: false, error: 'not_in_channel' };
      if (args.text === undefined && args.blocks === undefined) {
        return { ok: false, error: 'no_text' };
      }
      const ts = nextTs();
      messages.set(`${ch.id}/${ts}`, { text: args.text, blocks: args.blocks });
      return {
        ok: true,
        channel: ch.id,
        ts,
        message: { type: 'message', user: FAKE_SLACK_BOT_USER_ID, ts, text: args.text },
      };
    },
    'chat.update': (args) => {
      const ch = findChannel(args.channel, false);
      if (!ch) return { ok: false, error: 'channel_not_found' };
      const key = `${ch.id}/${String(args.ts)}`;
      if (!messages.has(key)) return { ok: false, error: 'message_not_found' };
      messages.set(key, { text: args.text, blocks: args.blocks });
      return { ok: true, channel: ch.id, ts: args.ts, text: args.text };
    },
    'chat.postEphemeral': (args) => {
      const ch = findChannel(args.channel, true);
      if (!ch) return { ok: false, error: 'channel_not_found' };
      if (!ch.member) return { ok: false, error: 'not_in_channel' };
      if (typeof args.user !== 'string') return { ok: false, error: 'user_not_found' };
      return { ok: true, message_ts: nextTs() };
    },
  };

  const answer = (res: ServerResponse, status: number, body: unknown): void => {
    res.writeHead(status, { 'content-type': 'application/json; charset=utf-8' });
    res.end(JSON.stringify(body));
  };

  const server = createServer((req, res) => {
    void (async () => {
      const url = new URL(req.url ?? '/', 'http://fake-slack');
      // A click's response_url: Slack shows what is posted there to the clicker.
      if (req.method === 'POST' && url.pathname.startsWith('/actions/')) {
        responses.push(JSON.parse(await readAll(req)) as Record<string, unknown>);
        res.writeHead(200, { 'content-type': 'text/plain' }).end('ok');
        return;
      }
      const m = /^\/api\/([A-Za-z.]+)$/.exec(url.pathname);
      if (req.method !== 'POST' || !m) {
        answer(res, 404, { ok: false, error: 'unknown_method' });
        return;
      }
      const method = m[1]!;
      const args = parseArgs(req.headers['content-type'] ?? '', await readAll(req));
      const auth = /^Bearer (.+)$/.exec(req.headers.authorization ?? '');
      const given = auth?.[1] ?? (typeof args.token === 'string' ? args.token : '');
      delete args.token;
      calls.push({ method, token: given, args });

      const failure = failures.get(method)?.shift();
      if (failure) {
        const headers: Record<string, string> = { 'content-type': 'application/json' };
        if (failure.retryAfterS !== undefined) headers['retry-after'] = String(failure.retryAfterS);
        res.writeHead(failure.status, headers);
        res.end(
          JSON.stringify({
            ok: false,
            error: failure.status === 429 ? 'ratelimited' : 'fatal_error',
          }),
        );
        return;
      }
      if (!given) return answer(res, 200, { ok: false, error: 'not_authed' });
      if (given !== token) return answer(res, 200, { ok: false, error: 'invalid_auth' });
      const handler = methods[method];
      if (!handler) return answer(res, 200, { ok: false, error: 'unknown_method' });
      answer(res, 200, handler(args));
    })().catch((err: unknown) => answer(res, 500, { ok: false, error: String(err) }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;

  return {
    apiUrl: `http://127.0.0.1:${port}/api/`,
    responseUrl: `http://127.0.0.1:${port}/actions/${FAKE_SLACK_TEAM_ID}/1/abc`,
    responses,
    token,
    calls,
    messages,
    failNext(method, status, o = {}) {
      const queue = failures.get(method) ?? [];
      queue.push(o.retryAfterS === undefined ? { status } : { status, retryAfterS: o.retryAfterS });
      failures.set(method, queue);
    },
    addChannel(id, name, o = {}) {
      channels.set(id, { name: name.replace(/^#/, ''), member: o.member ?? true });
    },
    addUser(id, email) {
      users.set(id, email);
    },
    deleteMessage(channelId, ts) {
      messages.delete(`${channelId}/${ts}`);
    },
    async stop() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
