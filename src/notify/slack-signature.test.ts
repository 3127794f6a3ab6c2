import assert from 'node:assert/strict';
import {
  ReplayGuard,
  SlackVerificationError,
  signSlackRequest,
  verifySlackRequest,
} from './slack-signature.ts';

const SECRET = '8f742231b10e8888abcd99yyyzzz85a5';
const NOW_MS = Date.parse('2026-11-25T09:00:00Z');
const NOW_S = NOW_MS / 1000;
const BODY = 'command=%2Ftimebox&text=ls&user_id=U0ALICE&team_id=T0TIMEBOX';

describe('Slack request verification', () => {
  let clockMs: number;
  let replay: ReplayGuard;

  beforeEach(() => {
    clockMs = NOW_MS;
    replay = new ReplayGuard({ nowMs: () => clockMs });
  });

  /** A request as Slack signs it at `tsS`, verified at the current clock. */
  function verify(over: {
    tsS?: number;
    secret?: string;
    body?: string;
    timestamp?: string | undefined;
    signature?: string | undefined;
  }): void {
    const tsS = over.tsS ?? NOW_S;
    const body = over.body ?? BODY;
    const signature = signSlackRequest(over.secret ?? SECRET, tsS, BODY);
    verifySlackRequest({
      signingSecret: SECRET,
      timestamp: 'timestamp' in over ? over.timestamp : String(tsS),
      signature: 'signature' in over ? over.signature : signature,
      rawBody: body,
      nowMs: clockMs,
      replay,
    });
  }

  function refused(fn: () => void, message: RegExp): void {
    assert.throws(fn, (err: unknown) => {
      assert.ok(
        err instanceof SlackVerificationError,
        `not a SlackVerificationError: ${String(err)}`,
      );
      assert.match(err.message, message);
      return true;
    });
  }

  it('accepts a request signed with the signing secret', () => {
    verify({});
    verify({ tsS: NOW_S - 60, body: BODY }); // another request, a minute old
    assert.equal(replay.size, 2);
  });

  it('matches the signature in Slack’s documentation', () => {
    // https://api.slack.com/authentication/verifying-requests-from-slack
    const body =
      'token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c';
    assert.equal(
      signSlackRequest('8f742231b10e8888abcd99yyyzzz85a5', 1531420618, body),
      'v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503',
    );
  });

  it('refuses a request signed with another secret', () => {
    refused(() => verify({ secret: 'not-the-apps-secret' }), /signature does not match/);
  });

  it('refuses a body altered after signing', () => {
    refused(
      () => verify({ body: BODY.replace('text=ls', 'text=approve') }),
      /signature does not match: the body was altered/,
    );
  });

  it('refuses a request signed 6 minutes ago', () => {
    refused(() => verify({ tsS: NOW_S - 360 }), /360 s old, more than 300 s/);
  });

  it('refuses a request dated 6 minutes ahead', () => {
    refused(() => verify({ tsS: NOW_S + 360 }), /360 s in the future.*check this host's clock/);
  });

  it('refuses missing or malformed headers', () => {
    refused(() => verify({ timestamp: undefined }), /missing X-Slack-Request-Timestamp/);
    refused(() => verify({ timestamp: 'yesterday' }), /not a number of seconds/);
    refused(() => verify({ signature: undefined }), /missing X-Slack-Signature/);
    refused(() => verify({ signature: 'sha256=abc' }), /not v0=<64 hex digits>/);
    assert.equal(replay.size, 0, 'refused requests are not remembered');
  });

  it('refuses the replay of an accepted request', () => {
    verify({});
    clockMs += 60_000;
    refused(() => verify({}), /already received once: refusing a replay/);
  });

  it('forgets a signature once its request would be stale anyway', () => {
    verify({});
    clockMs += 5 * 60_000 + 1000;
    refused(() => verify({}), /s old, more than 300 s/); // stale, not a replay
    verify({ tsS: clockMs / 1000 });
    assert.equal(replay.size, 1, 'the expired signature was dropped');
  });

  it('bounds memory, refusing rather than forgetting an unexpired signature', () => {
    const small = new ReplayGuard({ maxEntries: 2, nowMs: () => clockMs });
    assert.equal(small.remember('a', clockMs + 1000), true);
    assert.equal(small.remember('b', clockMs + 1000), true);
    assert.throws(() => small.remember('c', clockMs + 1000), /replay guard full/);
    assert.equal(small.remember('a', clockMs + 1000), false, 'still a replay');
    clockMs += 1000;
    assert.equal(small.remember('c', clockMs + 1000), true, 'room again once a and b expired');
    assert.equal(small.size, 1);
  });
});
