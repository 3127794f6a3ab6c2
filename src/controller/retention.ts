import {
  isTerminal,
  type AccessApproval,
  type AccessGrant,
  type Phase,
} from '../api/v1alpha1/types.ts';
import { formatDuration } from '../api/v1alpha1/duration.ts';
import { isNotFound } from '../kube/errors.ts';
import type { EventRecorder } from '../kube/events.ts';
import type { Logger } from '../log/logger.ts';
import type { Clock } from '../runtime/clock.ts';
import type { Informer } from '../runtime/informer.ts';
import { findCondition } from './conditions.ts';
import { involved } from './grants.ts';

/** `timebox.dev/retain: "true"` keeps an ended grant whatever the retention says. */
export const ANNOTATION_RETAIN = 'timebox.dev/retain';

/** What to do with a grant, for the ended-grant retention. */
export type RetentionDecision =
  | { action: 'delete'; endedAt: string }
  | { action: 'wait'; afterMs: number }
  | { action: 'keep'; reason: string };

/**
 * When a grant ended: `status.endedAt`, or else when it entered its terminal
 * phase (a grant denied before anything was granted may carry no endedAt).
 */
export function endedAt(grant: AccessGrant): string | undefined {
  const status = grant.status;
  if (status?.endedAt) return status.endedAt;
  return [...(status?.history ?? [])].reverse().find((h) => h.phase === status?.phase)?.at;
}

/**
 * Pure: whether an ended grant is due for deletion. Only a grant in a terminal
 * phase, past its retention, not opted out, and whose access is fully revoked:
 * no target the status says is or may be live, no binding of its UID left, and
 * no revocation still failing. Deleting also goes through the finalizer, which
 * revokes whatever it still finds; this only makes sure the record is not the
 * first thing to go.
 */
export function retentionDecision(
  grant: AccessGrant,
  now: Date,
  retentionMs: number,
  bindingsLeft: boolean,
): RetentionDecision {
  const phase = grant.status?.phase;
  if (!isTerminal(phase)) return { action: 'keep', reason: 'not ended' };
  if (grant.metadata.deletionTimestamp) return { action: 'keep', reason: 'already being deleted' };
  if (grant.metadata.annotations?.[ANNOTATION_RETAIN] === 'true')
    return { action: 'keep', reason: `annotated ${ANNOTATION_RETAIN}: "true"` };
  const ended = endedAt(grant);
  const endedMs = Date.parse(ended ?? '');
  if (!ended || !Number.isFinite(endedMs)) return { action: 'keep', reason: 'no end time' };
  const dueInMs = endedMs + retentionMs - now.getTime();
  if (dueInMs > 0) return { action: 'wait', afterMs: dueInMs };
  const live = (grant.status?.targets ?? []).filter(
    (t) => t.state === 'Active' || t.state === 'Pending',
  );
  if (live.length > 0)
    return {
      action: 'keep',
      reason: `access not revoked yet: ${live.map((t) => t.ref).join(', ')}`,
    };
  if (bindingsLeft) return { action: 'keep', reason: 'a binding of the grant is still there' };
  if (findCondition(grant.status?.conditions, 'Synced')?.status === 'False')
    return { action: 'keep', reason: 'cleaning up its access is still failing (Synced=False)' };
  return { action: 'delete', endedAt: ended };
}

/** Deletes, each with a UID precondition: never a newer object of the same name. */
export interface RetentionDeleter {
  /** Also preconditioned on the resourceVersion the decision was made from. */
  deleteGrant(grant: AccessGrant): Promise<void>;
  deleteApproval(approval: AccessApproval): Promise<void>;
}

export interface RetentionDeps {
  grants: Pick<Informer<AccessGrant>, 'get'>;
  approvals: Pick<Informer<AccessApproval>, 'list'>;
  /** Whether any binding of the grant with this UID is still in the cache. */
  bindingsLeft: (uid: string) => boolean;
  deleter: RetentionDeleter;
  recorder: Pick<EventRecorder, 'record'>;
  clock: Clock;
  log: Logger;
  /** How long after it ended a grant is deleted. */
  retentionMs: number;
  /** Counts deleted grants, by the phase they ended in. */
  deleted?: { inc(labels: { phase: Phase }): void };
}

/**
 * The ended-grant retention (off unless `--ended-grant-retention` is set): each
 * ended grant has a timer at `endedAt + retention`, and is deleted then, with its
 * AccessApprovals. Nothing polls; only the leader runs it. Its record leaves
 * etcd, so what it was is logged and recorded in an Event first: the audit trail.
 */
export class RetentionController {
  private readonly d: RetentionDeps;

  constructor(deps: RetentionDeps) {
    this.d = deps;
  }

  async reconcile(key: string): Promise<{ requeueAfterMs?: number }> {
    const [namespace, name] = key.split('/') as [string, string];
    const grant = this.d.grants.get(name, namespace);
    if (!grant) return {};
    const uid = grant.metadata.uid ?? '';
    const decision = retentionDecision(
      grant,
      this.d.clock.now(),
      this.d.retentionMs,
      this.d.bindingsLeft(uid),
    );
    if (decision.action === 'wait') return { requeueAfterMs: decision.afterMs };
    // Kept until an event about the grant or its bindings asks again.
    if (decision.action === 'keep') return {};

    // Its approvals first: they decide nothing for an ended grant (terminal phases
    // are final, and its status keeps the decisions), and going first they are
    // never left behind by a grant already gone.
    const approvals = this.d.approvals
      .list()
      .filter(
        (a) =>
          a.metadata?.namespace === namespace &&
          a.spec?.grantRef?.name === name &&
          a.spec.grantRef.uid === uid,
      );
    for (const a of approvals) await ignoreNotFound(this.d.deleter.deleteApproval(a));
    const audit = {
      grant: key,
      uid,
      subject: subjectOf(grant),
      policy: grant.spec.policy,
      phase: grant.status?.phase,
      endedAt: decision.endedAt,
      retention: formatDuration(this.d.retentionMs),
      approvals: approvals.length,
    };
    // Said before the delete: once it succeeds, this is all that is left of it.
    this.d.recorder.record(
      involved(grant),
      'Normal',
      'Deleted',
      `deleting the grant: it ended (${audit.phase}) at ${audit.endedAt}, more than ${audit.retention} ago (--ended-grant-retention)`,
    );
    const gone = await ignoreNotFound(this.d.deleter.deleteGrant(grant));
    if (!gone) return {};
    this.d.deleted?.inc({ phase: grant.status!.phase! });
    this.d.log.info('deleted ended grant', audit);
    return {};
  }
}

function subjectOf(grant: AccessGrant): string {
  const s = grant.spec.subject;
  return s.kind === 'ServiceAccount'
    ? `ServiceAccount ${s.namespace}/${s.name}`
    : `${s.kind} ${s.name}`;
}

/** True when the delete went through, false when the object was already gone. */
async function ignoreNotFound(op: Promise<void>): Promise<boolean> {
  try {
    await op;
    return true;
  } catch (err) {
    if (isNotFound(err)) return false;
    throw err;
  }
}
