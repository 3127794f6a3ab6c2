import { createHmac } from 'node:crypto';
import { API_VERSION } from '../api/v1alpha1/types.ts';
import { ChannelError } from './channels.ts';
import { DeliveryError, type Notification, type Sender } from './types.ts';

export interface WebhookChannelConfig {
  url: string;
  /** The HMAC-SHA256 key (the Secret's value). */
  secret: string;
}

/** Header names a receiver checks; see docs/notifications.md for a receiver in a few lines. */
export const TIMESTAMP_HEADER = 'X-Timebox-Timestamp';
export const SIGNATURE_HEADER = 'X-Timebox-Signature';

const TIMEOUT_MS = 10_000;

/** `sha256=<hex HMAC-SHA256 of "<timestamp>.<raw body>">`, keyed with the channel's secret. */
export function signWebhook(secret: string, timestampS: number, body: string): string {
  return `sha256=${createHmac('sha256', secret).update(`${timestampS}.${body}`).digest('hex')}`;
}

/** Pure: a notification as a CloudEvents 1.0 event in structured JSON mode. */
export function cloudEvent(n: Notification): Record<string, unknown> {
  return {
    specversion: '1.0',
    id: n.id,
    source: `/apis/${API_VERSION}/namespaces/${n.grant.namespace}/accessgrants/${n.grant.name}`,
    type: `dev.timebox.grant.${n.event.toLowerCase()}`,
    subject: `${n.grant.namespace}/${n.grant.name}`,
    time: n.time,
    datacontenttype: 'application/json',
    data: n,
  };
}

/** A receiver may ask for a pause, but not to be left alone for weeks. */
export const MAX_RETRY_AFTER_MS = 5 * 60_000;

function retryAfterMs(header: string | null): number | undefined {
  if (!header) return undefined;
  const s = Number(header);
  const ms = Number.isFinite(s) ? s * 1000 : Date.parse(header) - Date.now();
  return Number.isNaN(ms) ? undefined : Math.min(MAX_RETRY_AFTER_MS, Math.max(0, ms));
}

/**
 * POSTs each notification as a signed CloudEvent. A receiver verifies the
 * signature over the timestamp and the raw body, refuses old timestamps, and drops
 * an `id` it has already seen: a delivery may be repeated after a crash.
 */
export function webhookSender(
  cfg: WebhookChannelConfig,
  now: () => Date = () => new Date(),
): Sender {
  const target = new URL(cfg.url);
  if (target.username || target.password) {
    // Credentials in a URL end up in error messages, conditions and Events.
    throw new ChannelError(
      'Invalid',
      'the webhook URL carries credentials: take them out; deliveries are signed with the channel Secret',
    );
  }
  return {
    kind: 'webhook',
    async send(n) {
      const body = JSON.stringify(cloudEvent(n));
      const ts = Math.floor(now().getTime() / 1000);
      let res: Response;
      try {
        res = await fetch(cfg.url, {
          method: 'POST',
          headers: {
            'Content-Type': 'application/cloudevents+json; charset=utf-8',
            [TIMESTAMP_HEADER]: String(ts),
            [SIGNATURE_HEADER]: signWebhook(cfg.secret, ts, body),
            'User-Agent': 'timebox-notifier',
          },
          body,
          redirect: 'error',
          signal: AbortSignal.timeout(TIMEOUT_MS),
        });
      } catch (err) {
        throw new DeliveryError(
          `could not reach ${new URL(cfg.url).origin}: ${(err as Error).message}`,
          {
            retryable: true,
            cause: err,
          },
        );
      }
      // Only the status counts. Never read the body: a receiver answering with an
      // endless one would otherwise fill the operator's memory, and revocation
      // runs in the same process.
      await res.body?.cancel().catch(() => undefined);
      if (res.ok) return {};
      const retryable = res.status === 429 || res.status === 408 || res.status >= 500;
      const after = retryAfterMs(res.headers.get('retry-after'));
      throw new DeliveryError(
        `${new URL(cfg.url).origin} answered HTTP ${res.status}${retryable ? '' : ': fix the receiver or the channel URL'}`,
        { retryable, ...(after !== undefined ? { retryAfterMs: after } : {}) },
      );
    },
  };
}
