import { isDeepStrictEqual } from 'node:util';
import {
  FINALIZER,
  HISTORY_LIMIT,
  isTerminal,
  type AccessGrant,
  type AccessGrantStatus,
  type Phase,
  type Provider,
  type TargetStatus,
} from '../api/v1alpha1/types.ts';
import type { IdleVerdict } from '../activity/idle.ts';
import type { Decision } from '../policy/decision.ts';
import { requesterOf, sameSpec, specHash } from '../policy/evaluate.ts';
import type { Artefact } from '../providers/provider.ts';
import { kinds } from '../providers/kinds.ts';
import { findCondition, setCondition } from './conditions.ts';
import { committedExpiry, expiryState } from './expiry.ts';

/** What the controller saw, gathered before planning. */
export interface Observed {
  /** Artefacts that carry this grant's ownership mark, across all providers. */
  artefacts: Artefact[];
  /** Providers the operator can act on; targets of others fail. */
  providers: readonly Provider[];
  /**
   * The verdict on the grant as it is now: policy, approvals, timeout (see
   * src/policy). Made again at every step; nothing is granted unless it approves.
   */
  decision: Decision;
  /**
   * For a grant already granted: a denial when its policy no longer allows it
   * (edited or deleted); undefined while it still does.
   */
  policyCheck?: Decision;
  /** For an active grant under a policy with idleTimeout: whether it went unused. */
  idle?: IdleVerdict;
}

export interface PlannedEvent {
  type: 'Normal' | 'Warning';
  reason: string;
  message: string;
}

/** Side effects for one reconcile, applied in this order by the applier. */
export interface Plan {
  addFinalizer: boolean;
  /**
   * Status written before any artefact is touched. Activation commits
   * activatedAt/expiresAt here, so a crash in between can never extend access.
   */
  commit?: AccessGrantStatus;
  revoke: Artefact[];
  ensure: Artefact[];
  /** Status to write once the side effects succeeded (only if it changed). */
  status?: AccessGrantStatus;
  removeFinalizer: boolean;
  events: PlannedEvent[];
  /** Reconcile again after this long (the expiry or start timer). */
  requeueAfterMs?: number;
}

export const READY = 'Ready';

/** Status messages are bounded by the CRD schema; an API server error (e.g. an
 * RBAC escalation refusal listing every rule of a role) can be far longer. */
export const MAX_MESSAGE = 1024;
export function clip(message: string, max = MAX_MESSAGE): string {
  return message.length <= max ? message : `${message.slice(0, max - 1)}…`;
}

const EMPTY: Plan = {
  addFinalizer: false,
  revoke: [],
  ensure: [],
  removeFinalizer: false,
  events: [],
};

/**
 * Pure: the artefacts a grant should hold while active until `expiresAt`, from
 * each provider's pure part. Whether a provider is configured is a separate
 * question (Observed.providers).
 */
export function desiredArtefacts(grant: AccessGrant, expiresAt: string): Artefact[] {
  return kinds.flatMap((k) => k.desired(grant, expiresAt));
}

/** Sets the phase, records the transition in history, and keeps the Ready condition in step. */
export function transition(
  grant: AccessGrant,
  status: AccessGrantStatus,
  phase: Phase,
  reason: string,
  message: string,
  now: Date,
): AccessGrantStatus {
  const at = now.toISOString();
  message = clip(message);
  const changed = status.phase !== phase;
  const history = changed
    ? [...(status.history ?? []), { phase, at, reason, message }].slice(-HISTORY_LIMIT)
    : status.history;
  return {
    ...status,
    phase,
    ...(history ? { history } : {}),
    conditions: setCondition(
      status.conditions,
      {
        type: READY,
        status: phase === 'Active' ? 'True' : 'False',
        reason,
        message,
        observedGeneration: grant.metadata.generation ?? 0,
      },
      now,
    ),
    observedGeneration: grant.metadata.generation ?? 0,
  };
}

function targets(
  artefacts: Artefact[],
  state: TargetStatus['state'],
  message?: (a: Artefact) => string | undefined,
): TargetStatus[] {
  return artefacts.map((a) => {
    const raw = message?.(a);
    const m = raw === undefined ? undefined : clip(raw);
    return {
      provider: a.provider,
      ref: a.ref,
      state,
      failSafe: a.failSafe,
      ...(m ? { message: m } : {}),
    };
  });
}

function statusIfChanged(
  grant: AccessGrant,
  next: AccessGrantStatus,
): AccessGrantStatus | undefined {
  return isDeepStrictEqual(grant.status ?? {}, next) ? undefined : next;
}

/** Ends access: revoke everything observed and move to a terminal phase. */
function end(
  grant: AccessGrant,
  observed: Observed,
  phase: Extract<Phase, 'Expired' | 'Revoked' | 'Denied' | 'Failed'>,
  reason: string,
  message: string,
  now: Date,
  desired: Artefact[],
): Plan {
  const status = transition(grant, grant.status ?? {}, phase, reason, message, now);
  const wasGranted = grant.status?.phase === 'Active' || observed.artefacts.length > 0;
  const next: AccessGrantStatus = {
    ...status,
    endedAt: grant.status?.endedAt ?? now.toISOString(),
    targets: wasGranted
      ? targets(
          desired.length > 0 ? desired : observed.artefacts,
          phase === 'Failed' ? 'Failed' : 'Revoked',
        )
      : (grant.status?.targets ?? []),
  };
  return {
    ...EMPTY,
    revoke: observed.artefacts,
    status: statusIfChanged(grant, next),
    events: [
      { type: phase === 'Expired' || phase === 'Revoked' ? 'Normal' : 'Warning', reason, message },
    ],
  };
}

/**
 * Pure: decides what to do with a grant given what was observed and the time.
 * Each reconcile takes one step; a status write triggers the next.
 */
export function plan(grant: AccessGrant, observed: Observed, now: Date): Plan {
  const status = grant.status ?? {};
  const finalizers = grant.metadata.finalizers ?? [];
  const hasFinalizer = finalizers.includes(FINALIZER);

  if (grant.metadata.deletionTimestamp) {
    // The applier revokes first and stops at the first error, so the finalizer
    // goes only once everything is revoked.
    return {
      ...EMPTY,
      revoke: observed.artefacts,
      removeFinalizer: hasFinalizer,
      events:
        observed.artefacts.length > 0
          ? [
              {
                type: 'Normal',
                reason: 'Revoked',
                message: 'access revoked because the grant is being deleted',
              },
            ]
          : [],
    };
  }

  if (isTerminal(status.phase)) {
    // Terminal phases are final: only clean up whatever is still there (e.g. after a crash).
    return { ...EMPTY, revoke: observed.artefacts };
  }

  if (!hasFinalizer) return { ...EMPTY, addFinalizer: true };

  const expiry = expiryState(grant, now);
  const expiresAt =
    committedExpiry(grant) ?? (expiry.kind === 'unstarted' ? expiry.wouldExpireAt : undefined);
  const desired = expiresAt ? desiredArtefacts(grant, expiresAt) : [];

  if (grant.spec.revoked) {
    return end(
      grant,
      observed,
      'Revoked',
      'RevokedByUser',
      'access revoked: spec.revoked was set to true (admission lets only the requester set it)',
      now,
      desired,
    );
  }

  const revokedBy = observed.decision.revokedBy;
  if (revokedBy) {
    const message = `access revoked by ${revokedBy.approver}, an approver of AccessPolicy '${grant.spec.policy}'${revokedBy.comment ? `: ${revokedBy.comment}` : ''}`;
    const p = end(grant, observed, 'Revoked', 'RevokedByApprover', message, now, desired);
    const approvals = [...(status.approvals ?? []), revokedBy];
    const next = { ...(p.status ?? status), approvals };
    return { ...p, status: statusIfChanged(grant, next) };
  }

  // A new grant (no phase yet) is evaluated straight away: it needs no separate write.
  if ((status.phase === undefined || status.phase === 'Pending') && !status.expiresAt) {
    if (expiry.kind === 'missed') {
      return end(
        grant,
        observed,
        'Expired',
        'WindowPassed',
        `the grant's window (startAt + duration) ended at ${expiry.windowEndedAt} before access could start; nothing was granted. To get access, create a new grant`,
        now,
        [],
      );
    }
    const d = observed.decision;
    const requested: AccessGrantStatus = {
      ...status,
      ...(requesterOf(grant) ? { requestedBy: requesterOf(grant)!.user } : {}),
      specHash: specHash(grant.spec),
      ...(d.approvals && d.approvals.length > 0 ? { approvals: d.approvals } : {}),
    };
    if (d.verdict === 'Denied') {
      return end({ ...grant, status: requested }, observed, 'Denied', d.reason, d.message, now, []);
    }
    if (d.verdict === 'Pending') {
      const next = transition(grant, requested, 'Pending', d.reason, d.message, now);
      const was = findCondition(status.conditions, READY)?.reason;
      return {
        ...EMPTY,
        revoke: observed.artefacts,
        status: statusIfChanged(grant, next),
        // An Event when a request starts waiting, so event forwarders can tell someone.
        events:
          status.phase !== 'Pending' || was !== d.reason
            ? [{ type: 'Normal', reason: d.reason, message: d.message }]
            : [],
        ...(d.recheckAfterMs !== undefined ? { requeueAfterMs: d.recheckAfterMs } : {}),
      };
    }
    if (expiry.kind === 'scheduled') {
      const message = `approved (${d.message}); access starts at ${expiry.startAt}`;
      const next = transition(grant, requested, 'Pending', 'Scheduled', message, now);
      return {
        ...EMPTY,
        status: statusIfChanged(grant, next),
        requeueAfterMs: expiry.msUntilStart,
      };
    }
    // Activation: commit the expiry before granting anything.
    if (expiry.kind !== 'unstarted')
      throw new Error(`unreachable: activating a ${expiry.kind} grant`);
    const activatedAt = now.toISOString();
    const exp = expiry.wouldExpireAt;
    const committed: AccessGrantStatus = {
      ...transition(
        grant,
        requested,
        'Pending',
        'Activating',
        `approved (${d.message}); granting access`,
        now,
      ),
      activatedAt,
      expiresAt: exp,
      targets: targets(desiredArtefacts(grant, exp), 'Pending'),
    };
    return {
      ...EMPTY,
      commit: committed,
      // Who approved which version of the spec, in the grant's Events too.
      events: [{ type: 'Normal', reason: d.reason, message: d.message }],
      requeueAfterMs: 0,
    };
  }

  // Pending with a committed expiry (activation under way), or Active.
  if (!expiresAt) throw new Error('unreachable: active grant without expiresAt');
  const msLeft = Date.parse(expiresAt) - now.getTime();
  if (msLeft <= 0) {
    return end(
      grant,
      observed,
      'Expired',
      'Expired',
      `access expired at ${expiresAt}`,
      now,
      desired,
    );
  }

  // Everything below grants: the spec must be the one recorded at request time,
  // and the whole decision must still approve it. Admission keeps the spec
  // immutable; this holds even if admission was bypassed or misconfigured.
  if (status.specHash && !sameSpec(status.specHash, grant.spec)) {
    const message = `access revoked: the spec is no longer the one requested and approved (sha256:${status.specHash}, now sha256:${specHash(grant.spec)}); create a new grant`;
    return end(grant, observed, 'Revoked', 'SpecChanged', message, now, desired);
  }
  if (observed.policyCheck && observed.policyCheck.verdict !== 'Approved') {
    const c = observed.policyCheck;
    const reason = c.reason === 'PolicyNotFound' ? 'PolicyDeleted' : 'PolicyChanged';
    return end(grant, observed, 'Revoked', reason, `access revoked: ${c.message}`, now, desired);
  }
  if (observed.decision.verdict !== 'Approved') {
    const d = observed.decision;
    const message = `access revoked: the grant is no longer approved (${d.message})`;
    return end(grant, observed, 'Revoked', 'NoLongerApproved', message, now, desired);
  }

  if (observed.idle?.idle) {
    return end(grant, observed, 'Revoked', 'Idle', observed.idle.message, now, desired);
  }

  const unavailable = desired.filter((a) => !observed.providers.includes(a.provider));
  if (unavailable.length > 0) {
    const missing = [...new Set(unavailable.map((a) => a.provider))];
    const message = `no ${missing.join(', ')} provider is configured in this operator; nothing was granted. Start it with --providers=${missing.join(',')} (chart: providers.<name>.enabled)`;
    const p = end(grant, observed, 'Failed', 'ProviderUnavailable', message, now, desired);
    return {
      ...p,
      status: p.status && {
        ...p.status,
        targets: targets(desired, 'Failed', (a) =>
          unavailable.includes(a) ? `the ${a.provider} provider is not configured` : 'not granted',
        ),
      },
    };
  }

  const observedByRef = new Map(observed.artefacts.map((a) => [a.ref, a]));
  const desiredRefs = new Set(desired.map((a) => a.ref));
  const ensure = desired.filter((a) => {
    const o = observedByRef.get(a.ref);
    return !o || !isDeepStrictEqual(o.body, a.body);
  });
  const revoke = observed.artefacts.filter((a) => !desiredRefs.has(a.ref));

  const events: PlannedEvent[] = [];
  let next: AccessGrantStatus;
  if (status.phase === 'Pending') {
    // The history keeps who approved which version of the spec.
    const message = `access granted until ${expiresAt}; ${observed.decision.message}`;
    next = transition(grant, status, 'Active', 'Granted', message, now);
    events.push({ type: 'Normal', reason: 'Granted', message });
  } else {
    next = status;
    if (ensure.length > 0 || revoke.length > 0) {
      const what = [...ensure, ...revoke].map((a) => a.ref).join(', ');
      events.push({
        type: 'Warning',
        reason: 'DriftRepaired',
        message: `restored access artefacts changed outside Timebox: ${what}`,
      });
    }
  }
  next = { ...next, targets: targets(desired, 'Active') };
  return {
    ...EMPTY,
    ensure,
    revoke,
    status: statusIfChanged(grant, next),
    events,
    // The idle check is a timer too: when the grant would become idle.
    requeueAfterMs: Math.min(msLeft, observed.idle?.recheckAfterMs ?? Infinity),
  };
}

/**
 * Pure: the plan after a target failed for good. Everything the grant holds is
 * revoked (compensation), so a partly granted grant never stays behind. The
 * caller passes in `observed` what it observed plus what it granted since.
 */
export function planFailure(
  grant: AccessGrant,
  observed: Observed,
  failedRef: string,
  reason: string,
  message: string,
  now: Date,
): Plan {
  const expiresAt = committedExpiry(grant);
  const desired = expiresAt ? desiredArtefacts(grant, expiresAt) : [];
  const p = end(grant, observed, 'Failed', reason, message, now, desired);
  return {
    ...p,
    status: p.status && {
      ...p.status,
      targets: targets(desired, 'Failed', (a) => (a.ref === failedRef ? message : 'rolled back')),
    },
  };
}
