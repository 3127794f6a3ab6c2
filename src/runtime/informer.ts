import {
  ListWatch,
  Watch,
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
  /** How long a watch must run without error before the backoff resets (30 s). */
  healthyAfterMs?: number;
  /**
   * How often the whole list is read again, replacing the cache (10 min): a watch
   * that stalls without failing, or misses an event, is corrected by it.
   */
  relistPeriodMs?: number;
}

/**
 * Watches ask for bookmarks, so a quiet watch keeps an up-to-date resourceVersion
 * and the server keeps it open (client-go's defaults): it is closed by the server
 * after 5 to 10 minutes, and by us if nothing at all, not even a bookmark, arrives
 * for 90 s (the API server sends one about every minute).
 */
const WATCH_INACTIVITY_MS = 90_000;

/**
 * What the cache keeps of an object (controller-runtime's cache transforms):
 * everything but `metadata.managedFields` (server-side apply's bookkeeping, often
 * the larger half of an object, which no controller here reads) and kubectl's
 * copy of the last applied manifest.
 */
export function trimForCache<T extends KubernetesObject>(obj: T): T {
  const m = obj?.metadata;
  if (m) {
    delete m.managedFields;
    if (m.annotations?.[LAST_APPLIED]) {
      const { [LAST_APPLIED]: _dropped, ...rest } = m.annotations;
      m.annotations = rest;
    }
  }
  return obj;
}
const LAST_APPLIED = 'kubectl.kubernetes.io/last-applied-configuration';

function bookmarkingWatch(kubeConfig: KubeConfig): Watch {
  const watch = new Watch(kubeConfig);
  (watch as unknown as { requestTimeoutMs: number }).requestTimeoutMs = WATCH_INACTIVITY_MS;
  const open = watch.watch.bind(watch);
  watch.watch = (path, params, callback, done) =>
    open(
      path,
      {
        ...params,
        allowWatchBookmarks: true,
        timeoutSeconds: 300 + Math.floor(Math.random() * 300),
      },
      (phase: string, obj: KubernetesObject, raw: unknown) =>
        callback(phase, trimForCache(obj), raw),
      done,
    );
  return watch;
}

const isAbort = (err: unknown) => (err as { name?: string } | undefined)?.name === 'AbortError';

/**
 * A list-watch cache that keeps going. client-node's informer stops for good on
 * any watch error other than 410 Gone; this one restarts it with exponential
 * backoff that resets only after a watch has run healthily for a while (an API
 * server that accepts and then drops every watch is not hammered), asks for
 * bookmarks, and relists periodically, so a blip or a stall in the API server
 * never leaves the controller blind or wrong for long.
 */
export class Informer<T extends KubernetesObject> {
  readonly name: string;
  private readonly inner: ListWatch<T>;
  private readonly log: Logger | undefined;
  private readonly clock: Clock;
  private readonly initialBackoffMs: number;
  private readonly maxBackoffMs: number;
  private backoffMs: number;
  private readonly healthyAfterMs: number;
  private readonly relistPeriodMs: number;
  private healthyTimer: Timer | undefined;
  private relistTimer: Timer | undefined;
  private relisting = false;
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
    this.inner = new ListWatch<T>(
      path,
      bookmarkingWatch(kubeConfig),
      async () => {
        const l = await list();
        l.items.forEach(trimForCache);
        return l;
      },
      false,
      opts.labelSelector,
    );
    this.log = opts.log;
    this.clock = opts.clock ?? systemClock;
    this.initialBackoffMs = opts.initialBackoffMs ?? 500;
    this.maxBackoffMs = opts.maxBackoffMs ?? 30_000;
    this.healthyAfterMs = opts.healthyAfterMs ?? 30_000;
    this.relistPeriodMs = opts.relistPeriodMs ?? 10 * 60_000;
    this.backoffMs = this.initialBackoffMs;
    this.inner.on('connect', () => {
      this.healthyTimer?.cancel();
      this.healthyTimer = this.clock.after(this.healthyAfterMs, () => {
        this.backoffMs = this.initialBackoffMs;
      });
    });
    this.inner.on('error', (err: unknown) => {
      this.healthyTimer?.cancel();
      // Our own abort, to relist or stop, is not a failure.
      if (isAbort(err) && (this.relisting || this.stopped)) return;
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
          err: this.startFailure,
          retryInMs: delay,
        });
        await new Promise<void>((resolve) => this.clock.after(delay, resolve));
      }
    } finally {
      this.starting = false;
    }
    this.synced = true;
    this.scheduleRelist();
  }

  private scheduleRelist(): void {
    this.relistTimer?.cancel();
    if (this.stopped) return;
    this.relistTimer = this.clock.after(this.relistPeriodMs, () => {
      void this.relist().catch((err: unknown) => this.restartLater(err));
    });
  }

  /**
   * Reads the whole list again and replaces the cache, emitting add, update and
   * delete for what changed: what a stalled or lossy watch missed is corrected.
   */
  async relist(): Promise<void> {
    if (this.stopped) return;
    this.relisting = true;
    try {
      await this.inner.stop();
      // client-node lists again only without a resourceVersion; it has no public way to ask.
      (this.inner as unknown as { resourceVersion: string }).resourceVersion = '';
      await this.start();
    } finally {
      this.relisting = false;
    }
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
      err,
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
    this.healthyTimer?.cancel();
    this.relistTimer?.cancel();
    await this.inner.stop();
  }

  list(namespace?: string): readonly T[] {
    return this.inner.list(namespace);
  }

  get(name: string, namespace?: string): T | undefined {
    return this.inner.get(name, namespace);
  }
}
