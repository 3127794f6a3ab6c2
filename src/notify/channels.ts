import type { NotificationChannel, SecretKeyRef } from '../api/v1alpha1/types.ts';
import type { Clock } from '../runtime/clock.ts';
import type { Sender } from './types.ts';

/** Reads a Secret's data, decoded; a narrow port so tests can fake it. */
export type SecretReader = (namespace: string, name: string) => Promise<Record<string, string>>;

/** Makes the transport of a channel from its spec and the secret values it needs. */
export interface SenderFactories {
  slack(cfg: { channel: string; token: string }): Sender;
  email(cfg: {
    to: string[];
    smtp: { url: string; from: string; username?: string; password?: string };
  }): Sender;
  webhook(cfg: { url: string; secret: string }): Sender;
}

/** Why a channel cannot deliver; `reason` becomes its Ready condition's reason. */
export class ChannelError extends Error {
  readonly reason: string;
  constructor(reason: string, message: string) {
    super(message);
    this.name = 'ChannelError';
    this.reason = reason;
  }
}

/** Secret values are re-read this often, so a rotated token is picked up. */
export const SECRET_TTL_MS = 60_000;

export interface ChannelsDeps {
  channels: { get(name: string): NotificationChannel | undefined };
  readSecret: SecretReader;
  factories: SenderFactories;
  /**
   * The only namespace Secrets are read from (the operator's own). Anyone who may
   * write a NotificationChannel could otherwise send any Secret of the cluster,
   * e.g. as the SMTP password, to a server of their choosing.
   */
  secretNamespace: string;
  clock: Clock;
}

/** Resolves a NotificationChannel by name to a Sender, caching it until its spec or TTL changes. */
export class Channels {
  private readonly d: ChannelsDeps;
  private readonly cache = new Map<string, { generation: number; at: number; sender: Sender }>();

  constructor(deps: ChannelsDeps) {
    this.d = deps;
  }

  async sender(name: string): Promise<Sender> {
    const ch = this.d.channels.get(name);
    if (!ch) {
      throw new ChannelError(
        'ChannelNotFound',
        `NotificationChannel '${name}' does not exist: create it, or remove it from the policy's notify list`,
      );
    }
    const generation = ch.metadata.generation ?? 0;
    const now = this.d.clock.now().getTime();
    const hit = this.cache.get(name);
    if (hit && hit.generation === generation && now - hit.at < SECRET_TTL_MS) return hit.sender;
    let sender: Sender;
    try {
      sender = await this.build(ch);
    } catch (err) {
      // A transport refusing its configuration (a URL with credentials, no
      // recipient) is the channel's fault: say so on the channel, as for a Secret.
      if (err instanceof ChannelError || !(err instanceof Error) || 'code' in err) throw err;
      throw new ChannelError('Invalid', err.message);
    }
    this.cache.set(name, { generation, at: now, sender });
    return sender;
  }

  private async secret(ref: { namespace: string; name: string }): Promise<Record<string, string>> {
    if (ref.namespace !== this.d.secretNamespace) {
      throw new ChannelError(
        'SecretNamespaceNotAllowed',
        `Secret ${ref.namespace}/${ref.name} is outside ${this.d.secretNamespace}, the only namespace Timebox reads Secrets from: move the Secret there and point the channel at it`,
      );
    }
    try {
      return await this.d.readSecret(ref.namespace, ref.name);
    } catch (err) {
      if ((err as { code?: number }).code === 404) {
        throw new ChannelError(
          'SecretNotFound',
          `Secret ${ref.namespace}/${ref.name} does not exist: create it`,
        );
      }
      throw err;
    }
  }

  private async key(ref: SecretKeyRef): Promise<string> {
    const value = (await this.secret(ref))[ref.key];
    if (!value) {
      throw new ChannelError(
        'SecretKeyNotFound',
        `Secret ${ref.namespace}/${ref.name} has no key '${ref.key}': add it`,
      );
    }
    return value;
  }

  private async build(ch: NotificationChannel): Promise<Sender> {
    const { slack, email, webhook } = ch.spec;
    if (slack) {
      return this.d.factories.slack({
        channel: slack.channel,
        token: await this.key(slack.tokenSecretRef),
      });
    }
    if (email) {
      const creds = email.smtp.secretRef ? await this.secret(email.smtp.secretRef) : {};
      if (email.smtp.secretRef && (!creds.username || !creds.password)) {
        throw new ChannelError(
          'SecretKeyNotFound',
          `Secret ${email.smtp.secretRef.namespace}/${email.smtp.secretRef.name} needs the keys username and password`,
        );
      }
      return this.d.factories.email({
        to: email.to,
        smtp: {
          url: email.smtp.url,
          from: email.smtp.from,
          ...(creds.username ? { username: creds.username, password: creds.password! } : {}),
        },
      });
    }
    if (webhook) {
      return this.d.factories.webhook({
        url: webhook.url,
        secret: await this.key(webhook.secretRef),
      });
    }
    throw new ChannelError('Invalid', 'set exactly one of slack, email or webhook');
  }
}
