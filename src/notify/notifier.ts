import type { AccessGrant, AccessPolicy, NotificationRecord } from '../api/v1alpha1/types.ts';
import type { GrantWriter } from '../controller/grants.ts';
import { isConflict, isNotFound } from '../kube/errors.ts';
import type { Logger } from '../log/logger.ts';
import type { Metrics } from '../metrics/metrics.ts';
import type { Clock } from '../runtime/clock.ts';
import { ChannelError, type Channels } from './channels.ts';
import { dueNotifications, type Due } from './due.ts';
import type { ChannelHealth } from './health.ts';
import { notificationOf, type ActOn } from './message.ts';
import { DeliveryError } from './types.ts';

export interface NotifierDeps {
  grants: { get(name: string, namespace?: string): AccessGrant | undefined };
  policies: { get(name: string): AccessPolicy | undefined };
  channels: Pick<Channels, 'sender'>;
  writer: Pick<GrantWriter, 'patchStatus' | 'get'>;
  /** When access this grant still holds past its end ends at the earliest (binding caches). */
  heldUntil(grant: AccessGrant): number | undefined;
  health: ChannelHealth;
  act: ActOn;
  clock: Clock;
  log: Logger;
  metrics?: Pick<Metrics, 'notifications'>;
}

/** How long to wait before retrying a channel that failed in a way retrying may not fix. */
export const BROKEN_CHANNEL_RETRY_MS = 5 * 60_000;

/** A delivery failed; the work queue retries the grant with backoff (or after `retryAfterMs`). */
export class NotifyRetry extends Error {
  readonly retryAfterMs: number | undefined;
  constructor(message: string, retryAfterMs?: number) {
    super(message);
    this.name = 'NotifyRetry';
    this.retryAfterMs = retryAfterMs;
  }
}

/**
 * Tells each grant's policy's NotificationChannels what happened to it. What is
 * due is derived from the grant itself (its phase, approvals and times), and what
 * was delivered is recorded in its `status.notifications` after each send: a crash
 * anywhere between a transition and its record delivers it after the restart
 * (at least once), and a running notifier never sends the same event twice.
 * It runs on the leader only, in a queue of its own, so a slow or failing
 * channel never delays granting or revoking.
 */
export class Notifier {
  private readonly d: NotifierDeps;
  /** By grant UID: delivered but not yet recorded (the record write failed): never sent again. */
  private readonly unrecorded = new Map<string, { key: string; records: NotificationRecord[] }>();
  /**
   * By grant UID: records this process wrote that its cache may not show yet. The
   * next reconcile often runs from a cache one write behind (the controller's own
   * status write triggers it); without these it would send those events again.
   */
  private readonly written = new Map<string, NotificationRecord[]>();
  /** Stale events already counted, so a requeue does not count them again. */
  private readonly counted = new Set<string>();
  /**
   * When this process first saw each grant (by UID). Lateness counts from then: an
   * event that was on time when first seen is never dropped as stale because its
   * deliveries kept failing for an hour.
   */
  private readonly firstSeen = new Map<string, number>();

  constructor(deps: NotifierDeps) {
    this.d = deps;
  }

  async reconcile(key: string): Promise<{ requeueAfterMs?: number }> {
    const [namespace, name] = key.split('/') as [string, string];
    const cached = this.d.grants.get(name, namespace);
    if (!cached) {
      for (const [uid, r] of this.unrecorded) if (r.key === key) this.forget(uid);
      return {};
    }
    const uid = cached.metadata.uid ?? '';
    const rules = this.d.policies.get(cached.spec.policy)?.spec.notify ?? [];
    if (rules.length === 0) return {};
    const pending = this.unrecorded.get(uid)?.records ?? [];
    const cachedNotes = cached.status?.notifications ?? [];
    const shown = new Set(cachedNotes.map((r) => `${r.channel}/${r.event}`));
    const ahead = (this.written.get(uid) ?? []).filter(
      (r) => !shown.has(`${r.channel}/${r.event}`),
    );
    if (ahead.length > 0) this.written.set(uid, ahead);
    else this.written.delete(uid);
    if (!this.firstSeen.has(uid)) this.firstSeen.set(uid, this.d.clock.now().getTime());
    const grant: AccessGrant = {
      ...cached,
      status: {
        ...cached.status,
        notifications: [...cachedNotes, ...ahead, ...pending],
      },
    };
    const now = this.d.clock.now();
    const { due, stale, recheckAfterMs } = dueNotifications(
      grant,
      rules,
      now,
      this.d.heldUntil(cached),
      new Date(this.firstSeen.get(uid)!),
    );
    for (const s of stale) {
      const id = `${cached.metadata.uid}/${s.channel}/${s.event}`;
      if (this.counted.has(id)) continue;
      this.counted.add(id);
      this.d.metrics?.notifications.inc({ channel: s.channel, event: s.event, result: 'stale' });
      this.d.log.info('notification too late to send; skipped', { grant: key, ...s });
    }

    const delivered: NotificationRecord[] = [];
    let retry: NotifyRetry | undefined;
    for (const d of due) {
      try {
        delivered.push(await this.deliver(grant, d, [...pending, ...delivered]));
      } catch (err) {
        retry = this.failed(key, d, err, retry);
      }
    }
    if (delivered.length > 0 || pending.length > 0) {
      await this.record(key, cached, [...pending, ...delivered]);
    }
    if (retry?.retryAfterMs !== undefined) {
      // A receiver's pause (capped) never postpones a time-driven event past its time.
      return { requeueAfterMs: Math.min(retry.retryAfterMs, recheckAfterMs ?? Infinity) };
    }
    if (retry) throw retry;
    return recheckAfterMs === undefined ? {} : { requeueAfterMs: recheckAfterMs };
  }

  private async deliver(
    grant: AccessGrant,
    d: Due,
    earlier: NotificationRecord[],
  ): Promise<NotificationRecord> {
    const sender = await this.d.channels.sender(d.channel);
    // The message to update in place (Slack): the latest one on this channel.
    const previous = [...(grant.status?.notifications ?? []), ...earlier]
      .filter((r) => r.channel === d.channel && r.ref)
      .at(-1)?.ref;
    const n = notificationOf(grant, d.event, d.time, this.d.act);
    const { ref } = await sender.send(n, previous);
    this.d.metrics?.notifications.inc({ channel: d.channel, event: d.event, result: 'sent' });
    this.d.health.ok(d.channel);
    this.d.log.info('notified', { grant: `${n.grant.namespace}/${n.grant.name}`, ...d });
    return {
      channel: d.channel,
      event: d.event,
      at: this.d.clock.now().toISOString(),
      ...(ref ? { ref } : {}),
    };
  }

  private failed(key: string, d: Due, err: unknown, prior?: NotifyRetry): NotifyRetry {
    this.d.metrics?.notifications.inc({ channel: d.channel, event: d.event, result: 'failed' });
    const message = err instanceof Error ? err.message : String(err);
    const reason = err instanceof ChannelError ? err.reason : 'DeliveryFailed';
    this.d.health.failed(d.channel, reason, message);
    this.d.log.warn('notification failed; retrying', { grant: key, ...d, err });
    // A refused credential or a missing Secret is retried too, but rarely: someone
    // has to fix the channel first, and then deliveries resume by themselves.
    const broken = err instanceof ChannelError || (err instanceof DeliveryError && !err.retryable);
    const after = broken
      ? BROKEN_CHANNEL_RETRY_MS
      : err instanceof DeliveryError
        ? err.retryAfterMs
        : undefined;
    const soonest =
      prior?.retryAfterMs === undefined
        ? after
        : after === undefined
          ? prior.retryAfterMs
          : Math.min(after, prior.retryAfterMs);
    return new NotifyRetry(`delivery to ${d.channel} failed: ${message}`, soonest);
  }

  private forget(uid: string): void {
    this.unrecorded.delete(uid);
    this.written.delete(uid);
    this.firstSeen.delete(uid);
  }

  /** Adds records to status.notifications; a conflicting write is retried on the fresh object. */
  private async record(
    key: string,
    cached: AccessGrant,
    records: NotificationRecord[],
  ): Promise<void> {
    const uid = cached.metadata.uid ?? '';
    this.unrecorded.set(uid, { key, records });
    let current = cached;
    for (let attempt = 0; attempt < 5; attempt++) {
      // The grant was deleted and made again under its name: these are not its records.
      if (current.metadata.uid !== uid) break;
      const have = current.status?.notifications ?? [];
      const seen = new Set(have.map((r) => `${r.channel}/${r.event}`));
      const add = records.filter((r) => !seen.has(`${r.channel}/${r.event}`));
      if (add.length === 0) break;
      try {
        await this.d.writer.patchStatus(current, { notifications: [...have, ...add] });
        this.written.set(uid, [...(this.written.get(uid) ?? []), ...add]);
        break;
      } catch (err) {
        if (isNotFound(err)) break;
        if (!isConflict(err) || attempt === 4) throw err;
        current = await this.d.writer.get(
          cached.metadata.namespace ?? '',
          cached.metadata.name ?? '',
        );
      }
    }
    this.unrecorded.delete(uid);
  }
}
