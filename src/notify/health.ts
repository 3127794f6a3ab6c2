/**
 * Whether each NotificationChannel delivers, from the outcome of every delivery.
 * A change (working → failing, or back) calls `onChange`, which writes the
 * channel's Ready condition and an Event: an admin sees a broken channel where
 * they look for it, not only in the operator's logs.
 */
export interface ChannelState {
  ready: boolean;
  reason: string;
  message: string;
  /** Failures in a row since the last success. */
  failures: number;
}

/** Failures in a row before a channel counts as failing (one blip is not an outage). */
export const FAILURES_BEFORE_NOT_READY = 3;

/** Reasons that no retry can fix: the channel is not ready from the first failure. */
const BROKEN = new Set([
  'ChannelNotFound',
  'SecretNamespaceNotAllowed',
  'SecretNotFound',
  'SecretKeyNotFound',
  'Invalid',
]);

export class ChannelHealth {
  private readonly states = new Map<string, ChannelState>();
  private readonly onChange: (channel: string, state: ChannelState) => void;

  constructor(onChange: (channel: string, state: ChannelState) => void) {
    this.onChange = onChange;
  }

  get(channel: string): ChannelState | undefined {
    return this.states.get(channel);
  }

  ok(channel: string): void {
    const was = this.states.get(channel);
    const next = {
      ready: true,
      reason: 'Delivering',
      message: 'the last delivery succeeded',
      failures: 0,
    };
    this.states.set(channel, next);
    if (!was?.ready) this.onChange(channel, next);
  }

  /** `reason` is a ChannelError's reason, or DeliveryFailed; `message` never holds a secret. */
  failed(channel: string, reason: string, message: string): void {
    const was = this.states.get(channel);
    const failures = (was?.failures ?? 0) + 1;
    const ready =
      !BROKEN.has(reason) && failures < FAILURES_BEFORE_NOT_READY && (was?.ready ?? true);
    const next = {
      ready,
      reason: ready ? (was?.reason ?? 'Delivering') : reason,
      message,
      failures,
    };
    this.states.set(channel, next);
    if (!ready && (was?.ready !== false || was.reason !== reason)) this.onChange(channel, next);
  }
}
