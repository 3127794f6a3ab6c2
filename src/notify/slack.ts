import type { WebClient } from '@slack/web-api';
import { renderSlackMessage } from './slack-render.ts';
import { DeliveryError, type Delivery, type Notification, type Sender } from './types.ts';

export interface SlackChannelConfig {
  /**
   * Where to post: a channel ID (`C0123ABCD`, preferred) or a name (`#approvals`).
   * chat.update only accepts IDs; with a name, the ID Slack answers to the first
   * post is used for updates.
   */
  channel: string;
  /** The app's bot token (`xoxb-…`) with the `chat:write` scope. */
  token: string;
}

type SlackSdk = typeof import('@slack/web-api');
let sdkLoading: Promise<SlackSdk> | undefined;
/** Slack's SDK, loaded with the first message: an operator without Slack never needs it. */
const slackSdk = (): Promise<SlackSdk> => (sdkLoading ??= import('@slack/web-api'));

/** How long one Slack call may take before it counts as a (retryable) network failure. */
const CALL_TIMEOUT_MS = 10_000;

/** Slack error codes that retrying cannot fix, and what to do about each. */
function fixFor(code: string, channel: string): string | undefined {
  switch (code) {
    case 'invalid_auth':
    case 'not_authed':
    case 'account_inactive':
    case 'token_revoked':
    case 'token_expired':
      return `Slack refused the bot token (${code}): put a valid bot token (xoxb-…) of an installed app in the channel's Secret`;
    case 'channel_not_found':
      return `Slack channel ${channel} not found (channel_not_found): check the channel ID; for a private channel, invite the app to it`;
    case 'not_in_channel':
      return `the Slack app is not a member of ${channel} (not_in_channel): invite the app to ${channel} (/invite @app)`;
    case 'is_archived':
      return `Slack channel ${channel} is archived (is_archived): unarchive it or configure another channel`;
    case 'missing_scope':
      return `the Slack app lacks a scope (missing_scope): add chat:write to the app's bot token scopes and reinstall it`;
    default:
      return undefined;
  }
}

// Slack's own failures, answered with ok:false; worth retrying.
const TRANSIENT_CODES = new Set([
  'internal_error',
  'fatal_error',
  'service_unavailable',
  'request_timeout',
  'ratelimited',
]);

/**
 * A Slack SDK error as a DeliveryError that says what to do. The token is never
 * in an SDK error (the SDK sends it in a header and errors carry the URL,
 * status and response only), and is scrubbed from messages anyway in case a
 * proxy or future SDK echoes it.
 */
function toDeliveryError(
  sdk: SlackSdk,
  err: unknown,
  method: string,
  config: SlackChannelConfig,
): DeliveryError {
  const { WebAPIHTTPError, WebAPIPlatformError, WebAPIRateLimitedError, WebAPIRequestError } = sdk;
  const scrub = (s: string): string => (config.token ? s.split(config.token).join('[token]') : s);
  const fail = (message: string, retryable: boolean, retryAfterMs?: number): DeliveryError => {
    const opts: { retryable: boolean; retryAfterMs?: number; cause?: unknown } = {
      retryable,
      cause: err,
    };
    if (retryAfterMs !== undefined) opts.retryAfterMs = retryAfterMs;
    return new DeliveryError(scrub(message), opts);
  };
  if (err instanceof WebAPIRateLimitedError) {
    return fail(
      `Slack rate-limited ${method}: retry after ${err.retryAfter} s`,
      true,
      err.retryAfter * 1000,
    );
  }
  if (err instanceof WebAPIPlatformError) {
    const code = err.data.error;
    const fix = fixFor(code, config.channel);
    if (fix) return fail(fix, false);
    if (TRANSIENT_CODES.has(code)) return fail(`Slack failed ${method} (${code})`, true);
    // invalid_blocks, msg_too_long...: the message Timebox rendered is wrong.
    return fail(
      `Slack refused ${method} (${code}): the message Timebox rendered is not valid; please report this`,
      false,
    );
  }
  if (err instanceof WebAPIHTTPError) {
    return fail(
      `Slack answered HTTP ${err.statusCode} to ${method}`,
      err.statusCode >= 500 || err.statusCode === 408,
    );
  }
  if (err instanceof WebAPIRequestError) {
    return fail(`cannot reach Slack for ${method}: ${err.original.message}`, true);
  }
  // E.g. a 429 without a Retry-After header, which the SDK reports as a plain
  // Error: retry with the caller's own backoff.
  return fail(`Slack ${method} failed: ${err instanceof Error ? err.message : String(err)}`, true);
}

// Updating a message that is gone, or not ours, cannot succeed: post anew.
const REPOST_CODES = new Set(['message_not_found']);

/**
 * A Sender that keeps ONE Slack message per grant request: the first
 * notification posts it (returning `<channel ID>/<ts>` as `ref`), later ones,
 * given that as `previous`, update it in place (chat.update), so the channel shows
 * each request once, in its current state.
 *
 * The SDK neither retries nor sleeps on a 429: a failed call fails at once with
 * a DeliveryError, and the caller retries with its own backoff (honouring
 * `retryAfterMs`), so one slow channel cannot hold a delivery worker for the
 * SDK's default half hour of retries.
 */
export function slackSender(config: SlackChannelConfig, opts: { apiUrl?: string } = {}): Sender {
  let made: Promise<WebClient> | undefined;
  const slack = () =>
    (made ??= slackSdk().then(
      (sdk) =>
        new sdk.WebClient(config.token, {
          // Tests point this at a local fake; defaults to https://slack.com/api/.
          ...(opts.apiUrl ? { slackApiUrl: opts.apiUrl } : {}),
          retryConfig: { retries: 0 },
          rejectRateLimitedCalls: true,
          timeout: CALL_TIMEOUT_MS,
          // Failures are returned as DeliveryErrors; the SDK's own logging (to stdout)
          // would only repeat them outside the operator's structured log.
          logLevel: sdk.LogLevel.ERROR,
        }),
    ));
  // Slack answers every post with the channel's ID; chat.update needs it.
  let channelId: string | undefined;

  async function post(n: Notification): Promise<Delivery> {
    const msg = renderSlackMessage(n);
    const [sdk, client] = await Promise.all([slackSdk(), slack()]);
    let res;
    try {
      res = await client.chat.postMessage({
        channel: config.channel,
        text: msg.text,
        blocks: msg.blocks,
        // User-provided values are escaped; additionally, nothing is auto-linked
        // and no link in a reason is unfurled into a preview.
        parse: 'none',
        link_names: false,
        unfurl_links: false,
        unfurl_media: false,
      });
    } catch (err) {
      throw toDeliveryError(sdk, err, 'chat.postMessage', config);
    }
    if (res.channel) channelId = res.channel;
    if (!res.ts) {
      throw new DeliveryError('Slack accepted chat.postMessage but returned no ts', {
        retryable: false,
      });
    }
    // The ref carries the channel's ID too: chat.update refuses a channel name,
    // and the ref is what a restarted operator has to update the message with.
    return { ref: res.channel ? `${res.channel}/${res.ts}` : res.ts };
  }

  async function update(n: Notification, ref: string): Promise<Delivery> {
    const msg = renderSlackMessage(n);
    const [inRef, ts] = ref.includes('/')
      ? (ref.split('/', 2) as [string, string])
      : [undefined, ref];
    const channel = inRef ?? channelId ?? config.channel;
    const [sdk, client] = await Promise.all([slackSdk(), slack()]);
    try {
      const res = await client.chat.update({
        channel,
        ts,
        text: msg.text,
        blocks: msg.blocks,
        // chat.update parses text the way clients do unless told not to.
        parse: 'none',
        link_names: false,
      });
      if (res.channel) channelId = res.channel;
      return { ref: `${res.channel ?? channel}/${res.ts ?? ts}` };
    } catch (err) {
      const code = err instanceof sdk.WebAPIPlatformError ? err.data.error : undefined;
      if (code !== undefined && REPOST_CODES.has(code)) return post(n);
      // A channel name (after a restart, before any post told us the ID) is
      // refused by chat.update; posting resolves the name and reports the ID.
      if (code === 'channel_not_found' && inRef === undefined && channelId === undefined) {
        return post(n);
      }
      throw toDeliveryError(sdk, err, 'chat.update', config);
    }
  }

  return {
    kind: 'slack',
    send: (n, previous) => (previous ? update(n, previous) : post(n)),
  };
}
