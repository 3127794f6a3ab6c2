import type { Logger } from '../log/logger.ts';
import type { Clock, Timer } from './clock.ts';
import type { LeaderCallbacks } from './leader.ts';
import { Lifecycle } from './lifecycle.ts';
import {
  runWorkers,
  type Handler,
  type ReconcileResult,
  type WorkerHooks,
  type WorkQueue,
} from './workqueue.ts';

/** A shared cache (an informer): started once, synced before any controller runs. */
export interface Cache {
  start(): Promise<void>;
  stop(): Promise<unknown>;
  readonly hasSynced: boolean;
}

/** One work queue and the workers that drain it. */
export interface Loop {
  /** The `controller` label of its metrics, and the queue's name in `queueDepths()`. */
  name: string;
  queue: WorkQueue;
  workers: number;
  reconcile: Handler;
  /**
   * Retry even errors that retrying cannot fix, with the queue's backoff: for work
   * that must never be given up on, such as ending access.
   */
  retryTerminal?: boolean;
}

/** A controller as the manager runs it: its loops, and where they run. */
export interface Controller {
  name: string;
  loops: Loop[];
  log: Logger;
  /** What a failed reconcile is called in the log ("reconcile", "sweep"). */
  what?: string;
  /**
   * Runs on every replica, leader or not (controller-runtime's
   * `NeedLeaderElection() == false`): only for work that is idempotent and safe
   * from any replica, such as deleting access that has expired.
   */
  everyReplica?: boolean;
}

/** Leader-only work that is not a work queue (e.g. sending notifications). */
export interface LeaderRunnable {
  name: string;
  start(): void;
  stop(): Promise<unknown>;
  queueDepths?(): Record<string, number>;
}

/** The part of LeaderElector the manager uses. */
export interface Elector {
  run(callbacks: LeaderCallbacks): Promise<void>;
  stop(): Promise<void>;
  isLeader(): boolean;
}

export interface ManagerOptions {
  log: Logger;
  clock: Clock;
  /** Errors retrying cannot fix: counted and dropped, never requeued. */
  isTerminal?: (err: unknown) => boolean;
  /** Every reconcile's outcome, by controller loop (the metrics). */
  observe?: (loop: string, result: ReconcileResult, seconds: number) => void;
  /**
   * Called once per loop as the controllers start, before any reconcile: metrics
   * start their series at zero, so a rate sees the very first error.
   */
  initLoop?: (loop: string) => void;
  /** Without one, this replica leads from the start (a single replica, or tests). */
  elector?: Elector;
  /** Leadership was lost (not given up by stop()): the process should exit and restart clean. */
  onLostLeadership?: () => void;
}

/**
 * controller-runtime's Manager, reduced to what Timebox needs: it starts the
 * caches and waits for them to sync, runs each controller's loops (the leader's
 * only while this replica leads, the others at once), resyncs on a period, and
 * stops everything in the reverse order it started. The operator only builds the
 * parts and hands them over (see operator.ts).
 */
export class Manager {
  private readonly o: ManagerOptions;
  private readonly life: Lifecycle;
  private readonly caches: Cache[] = [];
  private readonly controllers: Controller[] = [];
  private readonly runnables: LeaderRunnable[] = [];
  private readonly resyncs: { periodMs: number; fn: () => void }[] = [];
  private stopping = false;
  private started = false;

  constructor(options: ManagerOptions) {
    this.o = options;
    this.life = new Lifecycle(options.log);
  }

  /** Registers a part that has started outside the manager (a server, a pool), stopped in reverse order. */
  add(name: string, stop: () => Promise<unknown> | unknown): void {
    this.life.add(name, stop);
  }

  addCache(...caches: Cache[]): void {
    this.caches.push(...caches);
  }

  addController(controller: Controller): void {
    if (this.started) throw new Error(`controller ${controller.name} added after start`);
    this.controllers.push(controller);
  }

  addLeaderRunnable(runnable: LeaderRunnable): void {
    if (this.started) throw new Error(`runnable ${runnable.name} added after start`);
    this.runnables.push(runnable);
  }

  /** Calls `fn` every `periodMs` once the controllers run (e.g. re-queue what clouds may have drifted). */
  resync(periodMs: number, fn: () => void): void {
    this.resyncs.push({ periodMs, fn });
  }

  /** The parts registered so far, in the order they will stop. */
  get stopOrder(): string[] {
    return this.life.stopOrder;
  }

  /** Starts every cache and resolves once all have synced. */
  async startCaches(): Promise<void> {
    this.life.add('informers', () => Promise.all(this.caches.map((c) => c.stop())));
    await Promise.all(this.caches.map((c) => c.start()));
  }

  /** Caches synced: the replica could lead at once. */
  ready(): boolean {
    return this.caches.every((c) => c.hasSynced);
  }

  isLeader(): boolean {
    return this.o.elector ? this.o.elector.isLeader() : true;
  }

  queueDepths(): Record<string, number> {
    const depths: Record<string, number> = {};
    for (const c of this.controllers) for (const l of c.loops) depths[l.name] = l.queue.len();
    for (const r of this.runnables) Object.assign(depths, r.queueDepths?.());
    return depths;
  }

  /**
   * Runs the controllers: those of every replica at once, the leader's once this
   * replica leads (at once without an elector); then the resync timers.
   */
  async startControllers(): Promise<void> {
    this.started = true;
    for (const c of this.controllers) for (const l of c.loops) this.o.initLoop?.(l.name);
    const everyReplica = this.controllers.filter((c) => c.everyReplica);
    const leaders = this.controllers.filter((c) => !c.everyReplica);
    for (const c of everyReplica) {
      const running = this.runLoops(c);
      this.life.add(c.name, async () => {
        for (const l of c.loops) l.queue.shutDown();
        await running;
      });
    }

    let running: Promise<unknown> | undefined;
    const startLeading = () => {
      this.o.log.info('starting controllers', {
        workers: Object.fromEntries(
          leaders.flatMap((c) => c.loops.map((l) => [l.name, l.workers])),
        ),
      });
      running = Promise.all(leaders.map((c) => this.runLoops(c)));
      for (const r of this.runnables) r.start();
    };
    const stopLeading = async () => {
      for (const c of leaders) for (const l of c.loops) l.queue.shutDown();
      await Promise.all([running, ...this.runnables.map((r) => r.stop())]);
    };
    // Drained once leadership ends (below), or here without an elector.
    this.life.add('controllers', stopLeading);

    const elector = this.o.elector;
    if (elector) {
      const done = elector.run({
        onStartedLeading: async (signal) => {
          startLeading();
          // Hold leadership until it ends; the successor waits for the drain.
          await new Promise<void>((resolve) =>
            signal.aborted ? resolve() : signal.addEventListener('abort', () => resolve()),
          );
          await stopLeading();
        },
        onStoppedLeading: () => {
          if (!this.stopping) {
            this.o.log.error('leadership lost; stopping');
            this.o.onLostLeadership?.();
          }
        },
        onNewLeader: (who) => this.o.log.info('leader observed', { leader: who }),
      });
      this.life.add('leader-election', async () => {
        await elector.stop();
        await done;
      });
    } else {
      startLeading();
    }

    for (const { periodMs, fn } of this.resyncs) {
      let timer: Timer | undefined;
      const tick = () => {
        fn();
        timer = this.o.clock.after(periodMs, tick);
      };
      timer = this.o.clock.after(periodMs, tick);
      // Stopped first: no resync queues work for workers about to stop.
      this.life.add('resync', () => timer?.cancel());
    }
  }

  /** Stops everything, last started first; idempotent. */
  async stop(): Promise<void> {
    this.stopping = true;
    await this.life.stop();
  }

  private runLoops(c: Controller): Promise<unknown> {
    return Promise.all(
      c.loops.map((l) => runWorkers(l.queue, l.workers, l.reconcile, this.hooks(l, c))),
    );
  }

  /**
   * What every worker loop reports: its reconciles to `observe`, and its
   * failures in the log. A terminal error is counted and dropped, not retried
   * forever; the next event re-queues the key.
   */
  private hooks(loop: Loop, c: Controller): WorkerHooks {
    const what = c.what ?? 'reconcile';
    return {
      ...(this.o.isTerminal && !loop.retryTerminal ? { isTerminal: this.o.isTerminal } : {}),
      observe: (result, seconds) => this.o.observe?.(loop.name, result, seconds),
      onError: (key, err, terminal) =>
        terminal
          ? c.log.error(`${what} failed for good; not retrying`, { key, err })
          : c.log.warn(`${what} failed; retrying`, { key, err }),
    };
  }
}

/** What a watch needs of an informer: its events (controller-runtime's `source.Kind`). */
export interface EventSource<T> {
  on(verb: 'add' | 'update' | 'delete', handler: (obj: T) => void): void;
}

/** Calls `handler` on every add, update and delete of `source`. */
export function onEvery<T>(source: EventSource<T>, handler: (obj: T) => void): void {
  for (const verb of ['add', 'update', 'delete'] as const) source.on(verb, handler);
}
