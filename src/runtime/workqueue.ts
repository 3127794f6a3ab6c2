/**
 * A work queue for reconcilers, after client-go's workqueue (the one
 * controller-runtime drives). Keys, not objects, are queued so that many
 * events for one object collapse into a single reconcile of its latest state.
 */
import { systemClock, type Clock, type Timer } from './clock.ts';

export interface RateLimiter {
  /** Delay before the next retry of `key`; counts as one retry. */
  when(key: string): number;
  forget(key: string): void;
  retries(key: string): number;
}

export interface ExponentialRateLimiterOptions {
  baseDelayMs?: number;
  maxDelayMs?: number;
}

/** Per-key exponential backoff, like client-go's ItemExponentialFailureRateLimiter. */
export class ExponentialRateLimiter implements RateLimiter {
  private readonly baseDelayMs: number;
  private readonly maxDelayMs: number;
  private readonly failures = new Map<string, number>();

  constructor(options: ExponentialRateLimiterOptions = {}) {
    this.baseDelayMs = options.baseDelayMs ?? 5;
    this.maxDelayMs = options.maxDelayMs ?? 1_000_000;
    if (!(this.baseDelayMs >= 0) || !(this.maxDelayMs >= this.baseDelayMs)) {
      throw new RangeError(
        `need 0 <= baseDelayMs <= maxDelayMs, got ${this.baseDelayMs} and ${this.maxDelayMs}`,
      );
    }
  }

  when(key: string): number {
    const exp = this.failures.get(key) ?? 0;
    this.failures.set(key, exp + 1);
    // 2 ** exp becomes Infinity for a key that keeps failing; min() caps it.
    return Math.min(this.baseDelayMs * 2 ** exp, this.maxDelayMs);
  }

  forget(key: string): void {
    this.failures.delete(key);
  }

  retries(key: string): number {
    return this.failures.get(key) ?? 0;
  }
}

export interface WorkQueueOptions {
  clock?: Clock;
  rateLimiter?: RateLimiter;
  name?: string;
}

interface Delayed {
  at: number;
  priority: number;
  timer: Timer;
}

/** How urgent a key is: higher goes first (see WorkQueue). */
export interface AddOptions {
  priority?: number;
}

/** A FIFO with a moving head, so taking from it does not pay Array.shift's O(n). */
class Fifo {
  items: string[] = [];
  head = 0;

  push(key: string): void {
    this.items.push(key);
  }

  shift(): string | undefined {
    if (this.head >= this.items.length) return undefined;
    const key = this.items[this.head++]!;
    if (this.head > 1024 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
    return key;
  }
}

/**
 * A work queue with priorities, after controller-runtime's priority queue: a key
 * is handed out before every key of a lower priority, keys of one priority in
 * FIFO order, and a key added again at a higher priority moves up (never down).
 * Priority 0 is the default; a negative one is work that may wait, such as
 * recording what has already been done.
 */
export class WorkQueue {
  readonly name: string;
  private readonly clock: Clock;
  private readonly rateLimiter: RateLimiter;

  // One FIFO per priority. A key's live entry is the one in the FIFO of the
  // priority `queued` holds for it; entries left behind when a key moved up are
  // skipped when reached.
  private readonly fifos = new Map<number, Fifo>();
  private priorities: number[] = [];
  private readonly queued = new Map<string, number>();
  // Keys that need processing, with the highest priority asked for: those queued
  // plus those re-added while being processed. A key is queued only if dirty and
  // not processing.
  private readonly dirty = new Map<string, number>();
  private readonly processing = new Set<string>();
  private readonly waiting = new Map<string, Delayed>();
  private readonly getters: ((key: string | undefined) => void)[] = [];
  private shuttingDown = false;

  constructor(options: WorkQueueOptions = {}) {
    this.clock = options.clock ?? systemClock;
    this.rateLimiter = options.rateLimiter ?? new ExponentialRateLimiter();
    this.name = options.name ?? '';
  }

  add(key: string, options: AddOptions = {}): void {
    if (this.shuttingDown) return;
    const priority = options.priority ?? 0;
    const was = this.dirty.get(key);
    if (was !== undefined && was >= priority) return;
    this.dirty.set(key, priority);
    // done() queues it again; queueing it now would let a second worker take
    // it while the first is still reconciling the same object.
    if (this.processing.has(key)) return;
    this.enqueue(key, priority);
    this.handOut();
  }

  addAfter(key: string, ms: number, options: AddOptions = {}): void {
    if (this.shuttingDown) return;
    if (ms <= 0) {
      this.add(key, options);
      return;
    }
    const priority = options.priority ?? 0;
    const at = this.clock.now().getTime() + ms;
    const pending = this.waiting.get(key);
    // Keep the earlier deadline and the higher priority: a later request must not
    // postpone work that someone already needs done sooner.
    if (pending) {
      pending.priority = Math.max(pending.priority, priority);
      if (pending.at <= at) return;
      pending.timer.cancel();
    }
    const delayed: Delayed = {
      at,
      priority: Math.max(pending?.priority ?? priority, priority),
      timer: this.clock.after(ms, () => {
        this.waiting.delete(key);
        this.add(key, { priority: delayed.priority });
      }),
    };
    this.waiting.set(key, delayed);
  }

  addRateLimited(key: string, options: AddOptions = {}): void {
    this.addAfter(key, this.rateLimiter.when(key), options);
  }

  forget(key: string): void {
    this.rateLimiter.forget(key);
  }

  numRequeues(key: string): number {
    return this.rateLimiter.retries(key);
  }

  /** Next key to process, or undefined once the queue is shut down. */
  get(): Promise<string | undefined> {
    if (this.shuttingDown) return Promise.resolve(undefined);
    const key = this.take();
    if (key !== undefined) return Promise.resolve(key);
    return new Promise((resolve) => this.getters.push(resolve));
  }

  done(key: string): void {
    this.processing.delete(key);
    const priority = this.dirty.get(key);
    if (this.shuttingDown || priority === undefined) return;
    this.enqueue(key, priority);
    this.handOut();
  }

  /** Keys waiting to be handed out, of any priority. */
  len(): number {
    return this.queued.size;
  }

  isShuttingDown(): boolean {
    return this.shuttingDown;
  }

  /**
   * Stops handing out keys, even ones still queued: unlike client-go, workers
   * do not drain the queue, so shutdown (e.g. on losing leadership) is not held
   * up by a backlog that the next leader will rebuild from a fresh list anyway.
   */
  shutDown(): void {
    if (this.shuttingDown) return;
    this.shuttingDown = true;
    for (const { timer } of this.waiting.values()) timer.cancel();
    this.waiting.clear();
    this.fifos.clear();
    this.priorities = [];
    this.queued.clear();
    this.dirty.clear();
    for (const resolve of this.getters.splice(0)) resolve(undefined);
  }

  private enqueue(key: string, priority: number): void {
    this.queued.set(key, priority);
    let fifo = this.fifos.get(priority);
    if (!fifo) {
      fifo = new Fifo();
      this.fifos.set(priority, fifo);
      this.priorities = [...this.fifos.keys()].sort((a, b) => b - a);
    }
    fifo.push(key);
  }

  private take(): string | undefined {
    for (const priority of this.priorities) {
      const fifo = this.fifos.get(priority)!;
      for (let key = fifo.shift(); key !== undefined; key = fifo.shift()) {
        // An entry left behind by a key that moved up, or was handed out already.
        if (this.queued.get(key) !== priority) continue;
        this.queued.delete(key);
        // Marked processing at hand-out, not when the getter's promise callback
        // runs, so an add() in between cannot queue the key a second time.
        this.processing.add(key);
        this.dirty.delete(key);
        return key;
      }
    }
    return undefined;
  }

  private handOut(): void {
    while (this.getters.length > 0) {
      const key = this.take();
      if (key === undefined) return;
      this.getters.shift()!(key);
    }
  }
}

export type Handler = (key: string) => Promise<void | { requeueAfterMs?: number }>;

/** How one reconcile ended. */
export type ReconcileResult = 'success' | 'error' | 'terminal';

/** What a worker loop reports, and how it tells an error retrying cannot fix. */
export interface WorkerHooks {
  /** Every failed reconcile; `terminal` when it is not retried. */
  onError?: (key: string, err: unknown, terminal: boolean) => void;
  /**
   * Errors that retrying cannot fix (controller-runtime's reconcile.TerminalError):
   * counted and dropped, never requeued. A later event re-queues the key anew.
   */
  isTerminal?: (err: unknown) => boolean;
  /** Every reconcile's outcome and how long it took: the loop owns the metrics. */
  observe?: (result: ReconcileResult, seconds: number) => void;
}

/**
 * Runs `count` workers that reconcile keys from `queue` until it is shut down.
 * Resolves once every worker has finished its current key and exited. A key that
 * fails is retried with the queue's backoff, unless its error is terminal.
 */
export async function runWorkers(
  queue: WorkQueue,
  count: number,
  handler: Handler,
  hooks: WorkerHooks | ((key: string, err: unknown) => void) = {},
): Promise<void> {
  if (!Number.isInteger(count) || count < 1) {
    throw new RangeError(`worker count must be a positive integer, got ${count}`);
  }
  const h: WorkerHooks = typeof hooks === 'function' ? { onError: (k, e) => hooks(k, e) } : hooks;
  const report = (result: ReconcileResult, startedMs: number) => {
    try {
      h.observe?.(result, (performance.now() - startedMs) / 1000);
    } catch {
      // Metrics must never take a worker down.
    }
  };

  const worker = async (): Promise<void> => {
    for (;;) {
      const key = await queue.get();
      if (key === undefined) return;
      const started = performance.now();
      try {
        const result = await handler(key);
        queue.forget(key);
        report('success', started);
        if (result?.requeueAfterMs !== undefined) queue.addAfter(key, result.requeueAfterMs);
      } catch (err) {
        const terminal = h.isTerminal?.(err) ?? false;
        if (terminal) queue.forget(key);
        else queue.addRateLimited(key);
        report(terminal ? 'terminal' : 'error', started);
        try {
          h.onError?.(key, err, terminal);
        } catch {
          // A failing error reporter must not take a worker down with it.
        }
      } finally {
        queue.done(key);
      }
      // A reconcile that finds all it needs in the caches never waits for I/O, so
      // without this a queue of thousands (every grant, at start-up) would run as
      // one chain of promise callbacks: probes, the webhook and the watches would
      // go unanswered until it ends. One turn of the event loop per item lets them in.
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
  };

  await Promise.all(Array.from({ length: count }, worker));
}
