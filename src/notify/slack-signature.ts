import { createHmac, timingSafeEqual } from 'node:crypto';

/**
 * Verification of Slack's signed requests (signature version v0): Slack sends
 * `X-Slack-Request-Timestamp` and `X-Slack-Signature: v0=<hex HMAC-SHA256 of
 * "v0:<timestamp>:<raw body>" keyed by the app's signing secret>`.
 */

/** How far a request's timestamp may be from now, either way (Slack's advice: 5 minutes). */
export const SLACK_MAX_SKEW_MS = 5 * 60_000;

/** A request that is not provably from Slack, or was already handled once. */
export class SlackVerificationError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SlackVerificationError';
  }
}

/**
 * Remembers the signatures of accepted requests until those requests would be
 * refused as stale anyway, so that a captured request cannot be sent again.
 * Memory is bounded: when `maxEntries` requests are remembered and none has
 * expired, new requests are refused (fail closed) rather than forgetting one
 * that could then be replayed; only requests that passed the HMAC check are
 * remembered, so only Slack's own traffic can fill it.
 */
export class ReplayGuard {
  private readonly seenUntilMs = new Map<string, number>();
  private readonly maxEntries: number;
  private readonly nowMs: () => number;
  private lastSweepMs = -Infinity;

  constructor(opts: { maxEntries?: number; nowMs?: () => number } = {}) {
    this.maxEntries = opts.maxEntries ?? 10_000;
    this.nowMs = opts.nowMs ?? Date.now;
  }

  /** How many signatures are remembered (expired ones may linger up to a second). */
  get size(): number {
    return this.seenUntilMs.size;
  }

  /**
   * Records `signature` until `untilMs` and returns true, or returns false when it
   * was already recorded and has not expired (a replay).
   * @throws when full of unexpired entries.
   */
  remember(signature: string, untilMs: number): boolean {
    const nowMs = this.nowMs();
    // A sweep walks every entry: at most once a second, or when full.
    if (nowMs - this.lastSweepMs >= 1000 || this.seenUntilMs.size >= this.maxEntries) {
      this.sweep(nowMs);
    }
    const until = this.seenUntilMs.get(signature);
    if (until !== undefined && until > nowMs) return false;
    if (this.seenUntilMs.size >= this.maxEntries) {
      throw new Error(
        `replay guard full: ${this.maxEntries} Slack requests within 5 minutes; raise maxEntries`,
      );
    }
    this.seenUntilMs.set(signature, untilMs);
    return true;
  }

  private sweep(nowMs: number): void {
    this.lastSweepMs = nowMs;
    for (const [sig, until] of this.seenUntilMs) if (until <= nowMs) this.seenUntilMs.delete(sig);
  }
}

/** The `X-Slack-Signature` Slack would send for this body and timestamp. */
export function signSlackRequest(
  signingSecret: string,
  timestampS: number | string,
  rawBody: string | Buffer,
): string {
  const hmac = createHmac('sha256', signingSecret);
  hmac.update(`v0:${timestampS}:`);
  hmac.update(rawBody);
  return `v0=${hmac.digest('hex')}`;
}

const TIMESTAMP_RE = /^\d{1,12}$/;
const SIGNATURE_RE = /^v0=([0-9a-f]{64})$/;

/**
 * Throws SlackVerificationError unless the request is signed with the signing
 * secret, its timestamp is within 5 minutes of `nowMs`, and its signature was
 * not seen before. Checks run cheapest first; a signature is only remembered
 * once the HMAC matched, so forged requests cannot fill the replay guard.
 */
export function verifySlackRequest(req: {
  signingSecret: string;
  /** The `X-Slack-Request-Timestamp` header (Unix seconds). */
  timestamp: string | undefined;
  /** The `X-Slack-Signature` header. */
  signature: string | undefined;
  /** The body exactly as received: any re-encoding changes the HMAC. */
  rawBody: string | Buffer;
  nowMs: number;
  replay: ReplayGuard;
}): void {
  if (!req.signingSecret) {
    throw new SlackVerificationError(
      "no Slack signing secret configured: set it from the app's Basic Information page",
    );
  }
  if (req.timestamp === undefined || req.timestamp === '') {
    throw new SlackVerificationError(
      'missing X-Slack-Request-Timestamp header: not a Slack request',
    );
  }
  if (!TIMESTAMP_RE.test(req.timestamp)) {
    throw new SlackVerificationError('X-Slack-Request-Timestamp is not a number of seconds');
  }
  const tsMs = Number(req.timestamp) * 1000;
  const skewMs = req.nowMs - tsMs;
  if (skewMs > SLACK_MAX_SKEW_MS) {
    throw new SlackVerificationError(
      `request timestamp is ${Math.round(skewMs / 1000)} s old, more than 300 s: stale or replayed (or this host's clock is wrong)`,
    );
  }
  if (-skewMs > SLACK_MAX_SKEW_MS) {
    throw new SlackVerificationError(
      `request timestamp is ${Math.round(-skewMs / 1000)} s in the future, more than 300 s: check this host's clock`,
    );
  }
  if (req.signature === undefined || req.signature === '') {
    throw new SlackVerificationError('missing X-Slack-Signature header: not a Slack request');
  }
  const m = SIGNATURE_RE.exec(req.signature);
  if (!m) throw new SlackVerificationError('X-Slack-Signature is not v0=<64 hex digits>');
  const expected = Buffer.from(
    signSlackRequest(req.signingSecret, req.timestamp, req.rawBody).slice(3),
    'hex',
  );
  const given = Buffer.from(m[1]!, 'hex');
  // Both are 32 bytes (the regex fixed the length), as timingSafeEqual needs.
  if (!timingSafeEqual(expected, given)) {
    throw new SlackVerificationError(
      "signature does not match: the body was altered, or the signing secret is not this Slack app's",
    );
  }
  // Remembered until the request would be refused as stale anyway: its own
  // timestamp plus the allowed skew (a request from the future stays longer).
  if (!req.replay.remember(req.signature, tsMs + SLACK_MAX_SKEW_MS)) {
    throw new SlackVerificationError('this request was already received once: refusing a replay');
  }
}
