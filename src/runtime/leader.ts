/**
 * Leader election on a coordination.k8s.io/v1 Lease, after client-go's
 * leaderelection package with controller-runtime's defaults: at most one
 * replica runs the controllers, and a replica that cannot prove it still holds
 * the lease stops acting as leader before anyone else may take it over.
 */
import {
  ApiException,
  CoordinationV1Api,
  KubeConfig,
  V1MicroTime,
  type V1Lease,
  type V1LeaseSpec,
} from '@kubernetes/client-node';
import { createLogger, type Logger } from '../log/logger.ts';
import { systemClock, type Clock, type Timer } from './clock.ts';

/** The Lease calls the elector makes: a narrow port, so its loop is unit-tested with a fake. */
export type LeasePort = Pick<
  CoordinationV1Api,
  'readNamespacedLease' | 'createNamespacedLease' | 'replaceNamespacedLease'
>;

export interface LeaderElectionOptions {
  /** The API server; or `leases`, the port itself. */
  kubeConfig?: KubeConfig;
  leases?: LeasePort;
  namespace: string;
  name: string;
  /** Unique per replica (the pod name, typically). */
  identity: string;
  /** How long others must wait after the last renewal before taking over. Default 15 s. */
  leaseDurationMs?: number;
  /** How long the leader keeps retrying a failed renewal before giving up. Default 10 s. */
  renewDeadlineMs?: number;
  /** Pause between acquisition attempts and between renewals. Default 2 s. */
  retryPeriodMs?: number;
  /** Hand the lease over on stop() instead of letting it expire. Default true. */
  releaseOnCancel?: boolean;
  clock?: Clock;
  log?: Logger;
}

export interface LeaderCallbacks {
  /**
   * Starts the leader's work. `signal` aborts when leadership ends; a returned
   * promise is awaited by stop() before the lease is released, so a successor
   * never overlaps with work that is still winding down.
   */
  onStartedLeading: (signal: AbortSignal) => void | Promise<void>;
  /** Called once leadership has ended, whether given up by stop() or lost. */
  onStoppedLeading?: () => void;
  /** Called whenever a different holder is observed, this replica included. */
  onNewLeader?: (identity: string) => void;
}

/** client-go's JitterFactor: spreads candidates' attempts so they do not stay in lock-step. */
const ACQUIRE_JITTER = 1.2;

function toDate(v: unknown): Date | undefined {
  // client-node leaves MicroTime fields it reads as strings, whatever their declared type.
  if (v instanceof Date || typeof v === 'string') {
    const d = new Date(v);
    return Number.isNaN(d.getTime()) ? undefined : d;
  }
  return undefined;
}

function microTime(d: Date): V1MicroTime {
  // A plain Date would serialise with millisecond digits, which MicroTime's RFC3339Micro parser rejects.
  return new V1MicroTime(d.getTime());
}

/**
 * Whether `identity` may write itself into the lease as holder at `now`.
 *
 * The lease is free when nobody holds it, when we already do, or when its
 * holder has not renewed within leaseDurationSeconds. `lastChangeSeenAt` is
 * when this candidate last saw the lease change (client-go's observedTime):
 * expiry is also measured from it, so a holder whose clock runs behind ours
 * is not robbed while it keeps renewing.
 */
export function canAcquireLease(
  lease: V1LeaseSpec | undefined,
  identity: string,
  now: Date,
  lastChangeSeenAt?: Date,
  maxDurationMs = Infinity,
): boolean {
  const holder = lease?.holderIdentity ?? '';
  if (holder === '' || holder === identity) return true;
  // A lease that claims to last longer than ours do is not believed: one write
  // of a huge leaseDurationSeconds must not keep every replica from leading.
  const durationMs = Math.min((lease?.leaseDurationSeconds ?? 0) * 1000, maxDurationMs);
  const renewed = toDate(lease?.renewTime) ?? toDate(lease?.acquireTime);
  const validUntil = Math.max(
    renewed ? renewed.getTime() + durationMs : -Infinity,
    lastChangeSeenAt ? lastChangeSeenAt.getTime() + durationMs : -Infinity,
  );
  return validUntil <= now.getTime();
}

/** The spec `identity` writes to acquire or renew the lease observed as `observed`. */
export function heldLeaseSpec(
  observed: V1LeaseSpec | undefined,
  identity: string,
  now: Date,
  leaseDurationSeconds: number,
): V1LeaseSpec {
  const renewing = observed?.holderIdentity === identity;
  const transitions = observed?.leaseTransitions ?? 0;
  return {
    ...observed,
    holderIdentity: identity,
    leaseDurationSeconds,
    acquireTime: microTime((renewing && toDate(observed?.acquireTime)) || now),
    renewTime: microTime(now),
    leaseTransitions: observed === undefined || renewing ? transitions : transitions + 1,
  };
}

/** client-go's release form: an empty holder that has also just expired, so anyone may take it. */
export function releasedLeaseSpec(observed: V1LeaseSpec | undefined, now: Date): V1LeaseSpec {
  return {
    ...observed,
    holderIdentity: '',
    leaseDurationSeconds: 1,
    acquireTime: microTime(now),
    renewTime: microTime(now),
    leaseTransitions: observed?.leaseTransitions ?? 0,
  };
}

function statusOf(err: unknown): number | undefined {
  return err instanceof ApiException ? err.code : undefined;
}

/**
 * held: we hold the lease now; taken: someone else validly holds it (while
 * leading: anyone else holds it at all); contended: another writer got in
 * between our read and our write.
 */
type Outcome = 'held' | 'taken' | 'contended';

export class LeaderElector {
  private readonly api: LeasePort;
  private readonly namespace: string;
  private readonly name: string;
  private readonly identity: string;
  private readonly leaseDurationMs: number;
  private readonly leaseDurationSeconds: number;
  private readonly renewDeadlineMs: number;
  private readonly retryPeriodMs: number;
  private readonly releaseOnCancel: boolean;
  private readonly clock: Clock;
  private readonly log: Logger;

  private runPromise: Promise<void> | undefined;
  private callbacks: LeaderCallbacks | undefined;
  private stopRequested = false;
  private leading = false;
  private wake: (() => void) | undefined;
  private observedVersion: string | undefined;
  private lastChangeSeenAt: Date | undefined;
  private reportedLeader: string | undefined;
  private lastAttemptAt = new Date(0);

  constructor(opts: LeaderElectionOptions) {
    this.namespace = opts.namespace;
    this.name = opts.name;
    this.identity = opts.identity;
    this.leaseDurationMs = opts.leaseDurationMs ?? 15_000;
    this.renewDeadlineMs = opts.renewDeadlineMs ?? 10_000;
    this.retryPeriodMs = opts.retryPeriodMs ?? 2_000;
    this.releaseOnCancel = opts.releaseOnCancel ?? true;
    this.clock = opts.clock ?? systemClock;
    if (!this.identity) throw new Error('leader election needs a non-empty identity');
    if (this.leaseDurationMs < 1000) throw new Error('leaseDurationMs must be at least 1000');
    // The same invariants client-go enforces: the leader must give up before others may take over.
    if (this.leaseDurationMs <= this.renewDeadlineMs) {
      throw new Error('leaseDurationMs must be greater than renewDeadlineMs');
    }
    if (this.renewDeadlineMs <= ACQUIRE_JITTER * this.retryPeriodMs) {
      throw new Error(`renewDeadlineMs must be greater than ${ACQUIRE_JITTER} × retryPeriodMs`);
    }
    // Rounded up: others then wait at least as long as our renew deadline assumes.
    this.leaseDurationSeconds = Math.ceil(this.leaseDurationMs / 1000);
    const api = opts.leases ?? opts.kubeConfig?.makeApiClient(CoordinationV1Api);
    if (!api) throw new Error('leader election needs a kubeConfig or a lease port');
    this.api = api;
    this.log = (opts.log ?? createLogger()).with({
      lease: `${this.namespace}/${this.name}`,
      identity: this.identity,
    });
  }

  isLeader(): boolean {
    return this.leading;
  }

  /**
   * Campaigns until this replica leads, then renews until stop() or until
   * leadership is lost; resolves once leadership (if any) has ended. An
   * elector runs once: after losing the lease the process should exit, as a
   * controller-runtime manager does, rather than campaign again.
   */
  run(callbacks: LeaderCallbacks): Promise<void> {
    if (this.runPromise) throw new Error('LeaderElector.run may only be called once');
    this.callbacks = callbacks;
    // systemClock's timers are unref'd; a standby replica waiting its turn must still keep the process alive.
    const keepAlive = setInterval(() => {}, 1 << 30);
    this.runPromise = this.campaign(callbacks).finally(() => clearInterval(keepAlive));
    return this.runPromise;
  }

  /**
   * Ends leadership: aborts the leader's signal, waits for onStartedLeading's
   * promise, stops renewing and, with releaseOnCancel, hands the lease over.
   */
  async stop(): Promise<void> {
    this.stopRequested = true;
    this.wake?.();
    await this.runPromise?.catch(() => {});
  }

  private async campaign(callbacks: LeaderCallbacks): Promise<void> {
    while (!this.stopRequested) {
      const outcome = await this.attempt(false, this.renewDeadlineMs);
      if (outcome === 'held') {
        if (this.stopRequested) {
          // Won while stop() was pending: hand it straight back rather than start work.
          if (this.releaseOnCancel) await this.release();
          return;
        }
        await this.lead(callbacks);
        return;
      }
      if (this.stopRequested) return;
      await this.sleep(this.retryPeriodMs * (1 + Math.random() * ACQUIRE_JITTER));
    }
  }

  private async lead(callbacks: LeaderCallbacks): Promise<void> {
    const controller = new AbortController();
    this.leading = true;
    this.log.info('acquired lease, leading');
    const work = (async () => callbacks.onStartedLeading(controller.signal))().catch((err) =>
      this.log.error('onStartedLeading failed', { err }),
    );

    let lastRenewAt = this.lastAttemptAt;
    let workDone = false;
    let lost = false;
    for (;;) {
      if (this.stopRequested && !controller.signal.aborted) {
        this.leading = false;
        controller.abort();
        // Keep renewing while the work winds down, so nobody else starts meanwhile.
        void work.then(() => {
          workDone = true;
          this.wake?.();
        });
      }
      if (workDone) break;
      const nextAt = this.lastAttemptAt.getTime() + this.retryPeriodMs;
      if (!(await this.sleep(nextAt - this.clock.now().getTime()))) continue;

      const remaining = lastRenewAt.getTime() + this.renewDeadlineMs - this.clock.now().getTime();
      const outcome = remaining > 0 ? await this.attempt(true, remaining) : undefined;
      if (outcome === 'held') {
        lastRenewAt = this.lastAttemptAt;
        continue;
      }
      if (outcome === 'taken') {
        this.log.error('lease taken over by another holder');
        lost = true;
        break;
      }
      if (this.clock.now().getTime() - lastRenewAt.getTime() >= this.renewDeadlineMs) {
        this.log.error('failed to renew lease within the renew deadline', {
          renewDeadlineMs: this.renewDeadlineMs,
        });
        lost = true;
        break;
      }
    }

    this.leading = false;
    controller.abort();
    if (!lost && this.releaseOnCancel) await this.release();
    this.log.info(lost ? 'leader election lost' : 'stopped leading');
    try {
      callbacks.onStoppedLeading?.();
    } catch (err) {
      this.log.error('onStoppedLeading failed', { err });
    }
  }

  /** One read-then-write round, bounded by `timeoutMs`; errors count as a failed round. */
  private async attempt(renewing: boolean, timeoutMs: number): Promise<Outcome | undefined> {
    const at = this.clock.now();
    this.lastAttemptAt = at;
    try {
      return await this.withTimeout(this.tryAcquireOrRenew(renewing, at), timeoutMs);
    } catch (err) {
      this.log.warn(renewing ? 'failed to renew lease' : 'failed to acquire lease', { err });
      return undefined;
    }
  }

  private async tryAcquireOrRenew(renewing: boolean, now: Date): Promise<Outcome> {
    const ref = { name: this.name, namespace: this.namespace };
    let current: V1Lease | undefined;
    try {
      current = await this.api.readNamespacedLease(ref);
    } catch (err) {
      if (statusOf(err) !== 404) throw err;
    }

    if (!current) {
      try {
        const created = await this.api.createNamespacedLease({
          namespace: this.namespace,
          body: {
            apiVersion: 'coordination.k8s.io/v1',
            kind: 'Lease',
            metadata: ref,
            spec: heldLeaseSpec(undefined, this.identity, now, this.leaseDurationSeconds),
          },
        });
        this.observe(created);
        return 'held';
      } catch (err) {
        if (statusOf(err) === 409) return 'contended';
        throw err;
      }
    }

    this.observe(current);
    if (renewing && current.spec?.holderIdentity !== this.identity) {
      // Someone else held it since our last renewal, even if only briefly: our leadership was interrupted.
      return 'taken';
    }
    if (
      !canAcquireLease(
        current.spec,
        this.identity,
        now,
        this.lastChangeSeenAt,
        this.leaseDurationMs,
      )
    ) {
      return 'taken';
    }
    try {
      const updated = await this.api.replaceNamespacedLease({
        ...ref,
        body: {
          ...current,
          spec: heldLeaseSpec(current.spec, this.identity, now, this.leaseDurationSeconds),
        },
      });
      this.observe(updated);
      return 'held';
    } catch (err) {
      if (statusOf(err) === 409) return 'contended';
      throw err;
    }
  }

  private observe(lease: V1Lease): void {
    const version = lease.metadata?.resourceVersion;
    // The first sighting says nothing about liveness; only a change seen since does.
    if (this.observedVersion !== undefined && version !== this.observedVersion) {
      this.lastChangeSeenAt = this.clock.now();
    }
    this.observedVersion = version;
    const holder = lease.spec?.holderIdentity ?? '';
    if (holder !== '' && holder !== this.reportedLeader) {
      this.reportedLeader = holder;
      this.log.info('new leader observed', { leader: holder });
      try {
        this.callbacks?.onNewLeader?.(holder);
      } catch (err) {
        this.log.error('onNewLeader failed', { err });
      }
    }
  }

  private async release(): Promise<void> {
    const ref = { name: this.name, namespace: this.namespace };
    const attempt = async (): Promise<void> => {
      const current = await this.api.readNamespacedLease(ref);
      if (current.spec?.holderIdentity !== this.identity) return;
      await this.api.replaceNamespacedLease({
        ...ref,
        body: { ...current, spec: releasedLeaseSpec(current.spec, this.clock.now()) },
      });
      this.log.info('released lease');
    };
    try {
      await this.withTimeout(attempt(), this.renewDeadlineMs);
    } catch (err) {
      // Not fatal: the successor just waits for the lease to expire.
      this.log.warn('failed to release lease', { err });
    }
  }

  /** Resolves true after `ms`, or false as soon as stop() or the work's end wakes it. */
  private sleep(ms: number): Promise<boolean> {
    return new Promise((resolve) => {
      let timer: Timer | undefined = undefined;
      const done = (slept: boolean) => {
        timer?.cancel();
        this.wake = undefined;
        resolve(slept);
      };
      this.wake = () => done(false);
      timer = this.clock.after(Math.max(0, ms), () => done(true));
    });
  }

  private withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const timer = this.clock.after(ms, () => reject(new Error(`timed out after ${ms} ms`)));
      p.then(
        (v) => {
          timer.cancel();
          resolve(v);
        },
        (err: unknown) => {
          timer.cancel();
          reject(err);
        },
      );
    });
  }
}
