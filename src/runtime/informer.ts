import {
  makeInformer,
  type KubeConfig,
  type KubernetesListObject,
  type KubernetesObject,
} from '@kubernetes/client-node';
import type { Logger } from '../log/logger.ts';
import { systemClock, type Clock, type Timer } from './clock.ts';

export type Handler<T> = (obj: T) => void;

export interface InformerOptions {
  labelSelector?: string;
  log?: Logger;
  clock?: Clock;
  /** First restart delay after a watch error; doubles up to maxBackoffMs. */
  initialBackoffMs?: number;
  maxBackoffMs?: number;
}

/**
 * A list-watch cache that keeps going. client-node's informer stops for good on
 * any watch error other than 410 Gone; this one restarts it with exponential
 * backoff, so a blip in the API server never leaves the controller blind.
 */
export class Informer<T extends KubernetesObject> {
  readonly name: string;
  private readonly inner: ReturnType<typeof makeInformer<T>>;
  private readonly log: Logger | undefined;
  private readonly clock: Clock;
  private readonly initialBackoffMs: number;
  private readonly maxBackoffMs: number;
  private backoffMs: number;
  private restartTimer: Timer | undefined;
  private stopped = false;
  private synced = false;
  private starting = false;
  private startFailure: unknown;

  constructor(
    name: string,
    kubeConfig: KubeConfig,
    path: string,
    list: () => Promise<KubernetesListObject<T>>,
    opts: InformerOptions = {},
  ) {
    this.name = name;
    this.inner = makeInformer<T>(kubeConfig, path, list, opts.labelSelector);
    this.log = opts.log;
    this.clock = opts.clock ?? systemClock;
    this.initialBackoffMs = opts.initialBackoffMs ?? 500;
    this.maxBackoffMs = opts.maxBackoffMs ?? 30_000;
    this.backoffMs = this.initialBackoffMs;
    this.inner.on('connect', () => {
      this.backoffMs = this.initialBackoffMs;
    });
    this.inner.on('error', (err: unknown) => {
      if (this.starting) {
        this.startFailure = err;
        return;
      }
      this.restartLater(err);
    });
  }

  on(verb: 'add' | 'update' | 'delete', handler: Handler<T>): void {
    this.inner.on(verb, handler);
  }

  /**
   * Lists, then watches; resolves once the cache holds the initial list. A failed
   * list (e.g. 429 while a new CRD's storage initialises) is retried with backoff:
   * a controller must never act on a cache that only looks empty.
   */
  async start(): Promise<void> {
    this.stopped = false;
    this.starting = true;
    try {
      for (
        let delay = this.initialBackoffMs;
        !this.stopped;
        delay = Math.min(delay * 2, this.maxBackoffMs)
      ) {
        this.startFailure = undefined;
        await this.inner.start();
        if (this.startFailure === undefined) break;
        this.log?.warn('initial list failed; retrying', {
          informer: this.name,
          err:
            this.startFailure instanceof Error
              ? this.startFailure.message
              : String(this.startFailure),
          retryInMs: delay,
        });
        await new Promise<void>((resolve) => this.clock.after(delay, resolve));
      }
    } finally {
      this.starting = false;
    }
    this.synced = true;
  }

  get hasSynced(): boolean {
    return this.synced;
  }

  private restartLater(err: unknown): void {
    if (this.stopped) return;
    const delay = this.backoffMs;
    this.backoffMs = Math.min(this.backoffMs * 2, this.maxBackoffMs);
    this.log?.warn('watch failed; restarting', {
      informer: this.name,
      err: err instanceof Error ? err.message : String(err),
      retryInMs: delay,
    });
    this.restartTimer?.cancel();
    this.restartTimer = this.clock.after(delay, () => {
      if (this.stopped) return;
      this.inner.start().catch((e: unknown) => this.restartLater(e));
    });
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.restartTimer?.cancel();
    await this.inner.stop();
  }

  list(namespace?: string): readonly T[] {
    return this.inner.list(namespace);
  }

  get(name: string, namespace?: string): T | undefined {
    return this.inner.get(name, namespace);
  }
}
