import {
  FINALIZER,
  type AccessApproval,
  type AccessGrant,
  type AccessPolicy,
} from '../api/v1alpha1/types.ts';
import type { IdleVerdict } from '../activity/idle.ts';
import { isNotFound } from '../kube/errors.ts';
import type { EventRecorder } from '../kube/events.ts';
import type { Metrics } from '../metrics/metrics.ts';
import type { Logger } from '../log/logger.ts';
import { grantRisks, type RoleRules } from '../policy/escalation.ts';
import { accessRisks } from '../policy/kind-risks.ts';
import { checkPolicy, evaluateRequest, WHILE_ACTIVE } from '../policy/evaluate.ts';
import {
  isTerminalError,
  type Artefact,
  type ProviderDriver,
  type TerminalError,
} from '../providers/provider.ts';
import { findCondition, setCondition } from './conditions.ts';
import type { Clock } from '../runtime/clock.ts';
import type { Informer } from '../runtime/informer.ts';
import { involved, type GrantWriter } from './grants.ts';
import { laneOfTimer, type Lane } from './lanes.ts';
import { clip, plan, planFailure, type Observed, type Plan } from './plan.ts';

/** Condition: whether every target is as the grant says (False while retrying). */
export const SYNCED = 'Synced';

export interface AccessGrantControllerDeps {
  grants: Pick<Informer<AccessGrant>, 'get'>;
  policies: Pick<Informer<AccessPolicy>, 'get'>;
  approvals: Pick<Informer<AccessApproval>, 'list'>;
  /** The rules of the roles a grant asks for, to find roles that outlive it. */
  roleRules?: RoleRules;
  writer: GrantWriter;
  providers: ProviderDriver[];
  recorder: EventRecorder;
  clock: Clock;
  log: Logger;
  metrics?: Pick<Metrics, 'revocationLag' | 'providerErrors'>;
  /** Whether an active grant went unused for its policy's idleTimeout (grant activity). */
  idle?: (grant: AccessGrant, policy: AccessPolicy | undefined) => IdleVerdict | undefined;
}

const MAX_STEPS = 5;

/** Failed reconciles in a row before the grant says it is failing. */
export const FAILURES_BEFORE_REPORT = 3;
const REPORTED = new Set(['RevocationFailing', 'ReconcileError']);

export interface ReconcileResult {
  requeueAfterMs?: number;
  /** The lane the requeue timer fires into. */
  lane?: Lane;
  /** Access has been revoked; the status and events are still to be written. */
  recordLater?: boolean;
}

export function grantKey(g: { metadata?: { namespace?: string; name?: string } }): string {
  return `${g.metadata?.namespace}/${g.metadata?.name}`;
}

/**
 * Reconciles one AccessGrant: observe → pure plan() → apply. Errors thrown from
 * here are transient and retried with backoff by the work queue; terminal errors
 * become the Failed phase, after compensation.
 */
export class AccessGrantController {
  private readonly deps: AccessGrantControllerDeps;
  private readonly drivers: Map<string, ProviderDriver>;
  /** Per key, resource versions written over during the last reconcile. */
  private readonly superseded = new Map<string, Set<string>>();
  /** Per key, when a possibly transient refusal (401/403) was first seen. */
  private readonly firstFailure = new Map<string, number>();
  /** Per key, failed reconciles in a row. */
  private readonly failures = new Map<string, number>();
  /** Per key, when its access was revoked by a reconcile that left the record for later. */
  private readonly revokedAt = new Map<string, number>();

  constructor(deps: AccessGrantControllerDeps) {
    this.deps = deps;
    this.drivers = new Map(deps.providers.map((p) => [p.name, p]));
  }

  /**
   * Reconciles a grant; a timer it asks for comes with the lane it fires into.
   *
   * In the revoke lane, ending access comes first and recording it second: when a
   * grant's access must end, this deletes it and returns `recordLater`, leaving
   * the status write and the events to a later, low-priority reconcile. Under an
   * expiry burst every binding is then deleted before any grant's status is
   * written, instead of each delete waiting behind other grants' status writes.
   * Status is never ahead of the truth: it says Expired only once access is gone.
   */
  async reconcile(key: string, lane?: Lane): Promise<ReconcileResult> {
    try {
      const r = await this.reconcileOnce(key, lane);
      await this.recovered(key);
      return r;
    } catch (err) {
      await this.failing(key, lane, err);
      throw err;
    }
  }

  /**
   * Counts a failed reconcile; from the FAILURES_BEFORE_REPORT-th in a row, the
   * grant says so (Synced=False, RevocationFailing or ReconcileError, with the
   * error) and a Warning Event is recorded, once: a revocation that keeps failing
   * is seen where people look, not only in the operator's logs.
   */
  private async failing(key: string, lane: Lane | undefined, err: unknown): Promise<void> {
    const n = (this.failures.get(key) ?? 0) + 1;
    this.failures.set(key, n);
    if (n !== FAILURES_BEFORE_REPORT) return;
    const [namespace, name] = key.split('/') as [string, string];
    const grant = this.deps.grants.get(name, namespace);
    if (!grant) return;
    const reason = lane === 'revoke' ? 'RevocationFailing' : 'ReconcileError';
    const message = clip(
      `${n} attempts in a row failed, retrying with backoff: ${err instanceof Error ? err.message : String(err)}`,
    );
    this.deps.recorder.record(involved(grant), 'Warning', reason, message);
    // A more specific account (Retrying, while an API server warms up) stays.
    if (findCondition(grant.status?.conditions, SYNCED)?.status === 'False') return;
    await this.setSynced(grant, 'False', reason, message);
  }

  /** A reconcile succeeded: a failure the grant reported is over. */
  private async recovered(key: string): Promise<void> {
    const reported = (this.failures.get(key) ?? 0) >= FAILURES_BEFORE_REPORT;
    this.failures.delete(key);
    if (!reported) return;
    const [namespace, name] = key.split('/') as [string, string];
    const grant = this.deps.grants.get(name, namespace);
    const synced = findCondition(grant?.status?.conditions, SYNCED);
    if (grant && synced?.status === 'False' && REPORTED.has(synced.reason)) {
      await this.setSynced(grant, 'True', 'Synced', 'every target is as the grant says');
    }
  }

  /** Best effort: a failure to report a failure must not hide the failure itself. */
  private async setSynced(
    grant: AccessGrant,
    status: 'True' | 'False',
    reason: string,
    message: string,
  ): Promise<void> {
    const conditions = setCondition(
      grant.status?.conditions,
      { type: SYNCED, status, reason, message, observedGeneration: grant.metadata.generation ?? 0 },
      this.deps.clock.now(),
    );
    try {
      this.wrote(grant, await this.deps.writer.patchStatus(grant, { conditions }));
    } catch (err) {
      this.deps.log.warn('could not record on the grant that it is failing', {
        grant: grantKey(grant),
        err,
      });
    }
  }

  private async reconcileOnce(key: string, lane?: Lane): Promise<ReconcileResult> {
    const [namespace, name] = key.split('/') as [string, string];
    let grant = this.deps.grants.get(name, namespace);
    // The cache still shows a version this controller has already moved past; the
    // watch event for the newer one is on its way and will enqueue the key again.
    const stale = this.superseded.get(key);
    if (grant && stale?.has(grant.metadata.resourceVersion ?? '')) return {};
    this.superseded.delete(key);
    // Steps that only write the grant itself (finalizer, Pending, commit) continue
    // from the object the API server returned, instead of waiting for the cache to
    // catch up: one reconcile takes a new grant all the way to Active.
    if (!grant) this.revokedAt.delete(key);
    for (let step = 0; grant && step < MAX_STEPS; step++) {
      const observed = await this.observe(grant);
      const p = plan(grant, observed, this.deps.clock.now());
      if (lane === 'revoke' && p.revoke.length > 0 && p.status && !p.removeFinalizer) {
        await this.revokeAll(grant, p.revoke);
        this.revokedAt.set(key, this.deps.clock.now().getTime());
        return { recordLater: true };
      }
      const next = await this.apply(grant, observed, p);
      if (!next) {
        return p.requeueAfterMs === undefined
          ? {}
          : { requeueAfterMs: p.requeueAfterMs, lane: laneOfTimer(grant) };
      }
      grant = next;
    }
    return {};
  }

  private async counted(a: Artefact, op: Promise<void>): Promise<void> {
    try {
      await op;
    } catch (err) {
      this.deps.metrics?.providerErrors.inc({ provider: a.provider });
      throw err;
    }
  }

  /**
   * Records that `before` was written over. Without this, a watch event for an
   * older version (e.g. the activation commit of a grant that has since failed)
   * would be reconciled from the lagging cache and grant again.
   */
  private wrote(before: AccessGrant, after: AccessGrant): AccessGrant {
    const key = grantKey(before);
    const set = this.superseded.get(key) ?? new Set<string>();
    if (before.metadata.resourceVersion) set.add(before.metadata.resourceVersion);
    if (after.metadata.resourceVersion) set.delete(after.metadata.resourceVersion);
    this.superseded.set(key, set);
    return after;
  }

  private async observe(grant: AccessGrant): Promise<Observed> {
    const artefacts = (await Promise.all(this.deps.providers.map((p) => p.observe(grant)))).flat();
    const policy = grant.spec.policy ? this.deps.policies.get(grant.spec.policy) : undefined;
    // The verdicts are made only if the plan reads them: an ended grant's plan
    // reads only its artefacts, and a restart reconciles every grant there is
    // (10,000 ended grants took 1.8 s of CPU here before it waited to be asked).
    const now = this.deps.clock.now();
    const { approvals, providers, idle } = this.deps;
    const risks = once(() => [
      ...(this.deps.roleRules ? grantRisks(grant.spec.access, this.deps.roleRules) : []),
      ...accessRisks(grant.spec.access),
    ]);
    const decision = once(() =>
      evaluateRequest(
        grant,
        policy,
        approvals
          .list(grant.metadata.namespace)
          .filter((a) => a.spec?.grantRef?.name === grant.metadata.name),
        now,
        grant.status?.activatedAt,
        risks(),
      ),
    );
    // For a grant already granted: a denial once its policy no longer allows it.
    const policyCheck = once(() =>
      grant.status?.expiresAt !== undefined
        ? checkPolicy(grant, policy, risks(), WHILE_ACTIVE)
        : undefined,
    );
    const idleVerdict = once(() => idle?.(grant, policy));
    return {
      artefacts,
      providers: providers.map((p) => p.name),
      get decision() {
        return decision();
      },
      get policyCheck() {
        return policyCheck();
      },
      get idle() {
        return idleVerdict();
      },
    };
  }

  /**
   * Whether a terminal-looking error is still inside its retry window; if so, the
   * grant says it is retrying (condition Synced=False, Retrying), once.
   */
  private async retrying(grant: AccessGrant, err: TerminalError): Promise<boolean> {
    if (!err.retryForMs) return false;
    const key = grantKey(grant);
    const now = this.deps.clock.now();
    const first = this.firstFailure.get(key) ?? now.getTime();
    this.firstFailure.set(key, first);
    if (now.getTime() - first >= err.retryForMs) {
      this.firstFailure.delete(key);
      return false;
    }
    const synced = findCondition(grant.status?.conditions, SYNCED);
    if (synced?.status !== 'False' || synced.reason !== 'Retrying') {
      const conditions = setCondition(
        grant.status?.conditions,
        {
          type: SYNCED,
          status: 'False',
          reason: 'Retrying',
          message: clip(`${err.reason}: ${err.message}; retrying`),
          observedGeneration: grant.metadata.generation ?? 0,
        },
        now,
      );
      this.wrote(grant, await this.deps.writer.patchStatus(grant, { conditions }));
    }
    return true;
  }

  /** Whether this grant's access is gone and only its record is still to be written. */
  awaitsRecord(key: string): boolean {
    return this.revokedAt.has(key);
  }

  private async revokeAll(grant: AccessGrant, artefacts: Artefact[]): Promise<void> {
    const glog = this.deps.log.with({ grant: grantKey(grant) });
    for (const a of artefacts) {
      await this.counted(a, this.driver(a).revoke(grant, a));
      glog.info('revoked', { target: a.ref });
    }
  }

  private driver(a: Artefact): ProviderDriver {
    const d = this.drivers.get(a.provider);
    if (!d) throw new Error(`no ${a.provider} provider`);
    return d;
  }

  /** Applies a plan; returns the updated grant when planning should go on from it. */
  private async apply(
    grant: AccessGrant,
    observed: Observed,
    p: Plan,
  ): Promise<AccessGrant | undefined> {
    const { writer, log } = this.deps;
    const glog = log.with({ grant: grantKey(grant) });
    if (p.addFinalizer) {
      return this.wrote(
        grant,
        await writer.setFinalizers(grant, [...(grant.metadata.finalizers ?? []), FINALIZER]),
      );
    }
    let current = grant;
    if (p.commit) {
      current = this.wrote(current, await writer.patchStatus(current, p.commit));
      glog.info('activation committed', { expiresAt: p.commit.expiresAt });
    }
    await this.revokeAll(current, p.revoke);
    const granted: Artefact[] = [];
    for (const a of p.ensure) {
      try {
        await this.counted(a, this.driver(a).grant(current, a));
        granted.push(a);
        glog.info('granted', { target: a.ref, expiresAt: current.status?.expiresAt });
      } catch (err) {
        if (!isTerminalError(err)) throw err;
        if (await this.retrying(current, err)) {
          throw new Error(
            `${err.message}; retrying for up to ${Math.round((err.retryForMs ?? 0) / 1000)}s before failing the grant (an API server that just restarted answers so for a while)`,
            { cause: err },
          );
        }
        glog.error('target failed; rolling back the grant', {
          target: a.ref,
          reason: err.reason,
          err,
        });
        const held = new Map([...observed.artefacts, ...granted].map((x) => [x.ref, x]));
        const failure = planFailure(
          current,
          { ...observed, artefacts: [...held.values()] },
          a.ref,
          err.reason,
          err.message,
          this.deps.clock.now(),
        );
        await this.apply(current, observed, failure);
        return undefined;
      }
    }
    if (p.status) {
      const key = grantKey(current);
      const wasRetrying = findCondition(current.status?.conditions, SYNCED)?.status === 'False';
      this.firstFailure.delete(key);
      const status = wasRetrying
        ? {
            ...p.status,
            conditions: setCondition(
              p.status.conditions,
              {
                type: SYNCED,
                status: 'True',
                reason: 'Synced',
                message: 'every target is as the grant says',
                observedGeneration: current.metadata.generation ?? 0,
              },
              this.deps.clock.now(),
            ),
          }
        : p.status;
      current = this.wrote(current, await writer.patchStatus(current, status));
      const revokedAt = this.revokedAt.get(key) ?? this.deps.clock.now().getTime();
      this.revokedAt.delete(key);
      const expiresAt = Date.parse(p.status.expiresAt ?? '');
      if (
        p.status.phase === 'Expired' &&
        grant.status?.phase !== 'Expired' &&
        !Number.isNaN(expiresAt)
      ) {
        // Access is gone: every revoke succeeded before this write, here or in an
        // earlier reconcile that left the record for later.
        this.deps.metrics?.revocationLag.observe(Math.max(0, revokedAt - expiresAt) / 1000);
      }
      if (p.status.phase !== grant.status?.phase) {
        glog.info('phase changed', {
          from: grant.status?.phase ?? '',
          to: p.status.phase,
          reason: p.status.conditions?.find((c) => c.type === 'Ready')?.reason,
        });
      }
    }
    for (const e of p.events) {
      this.deps.recorder.record(involved(current), e.type, e.reason, e.message);
    }
    if (p.removeFinalizer) {
      try {
        await writer.setFinalizers(
          current,
          (current.metadata.finalizers ?? []).filter((f) => f !== FINALIZER),
        );
      } catch (err) {
        // Gone already (another replica, or a cache that lagged): nothing is left to do.
        if (!isNotFound(err)) throw err;
      }
      glog.info('finalizer removed; all access revoked');
      return undefined;
    }
    // Go on while the grant is still on its way to Active (a new grant, or a commit).
    const written = p.commit !== undefined || p.status !== undefined;
    return written && (current.status?.phase === 'Pending' || p.commit) ? current : undefined;
  }
}

/** `fn`, called at most once: its result is kept for every later call. */
function once<T>(fn: () => T): () => T {
  let kept: { value: T } | undefined;
  return () => (kept ??= { value: fn() }).value;
}
