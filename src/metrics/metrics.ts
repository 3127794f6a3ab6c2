import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { KINDS, PROVIDER_NAMES } from '../providers/kinds.ts';
import {
  ANNOTATION_EXPIRES_AT,
  ANNOTATION_GRANT,
  LABEL_GRANT_UID,
  PHASES,
  type AccessGrant,
} from '../api/v1alpha1/types.ts';
import type { Clock } from '../runtime/clock.ts';

/** What the scrape-time gauges read: the informer caches, never the API server. */
export interface MetricSources {
  grants(): readonly AccessGrant[];
  bindings(): readonly {
    metadata?: { labels?: Record<string, string>; annotations?: Record<string, string> };
  }[];
  queueDepths(): Record<string, number>;
  isLeader(): boolean;
}

/**
 * The operator's Prometheus metrics. Labels stay low-cardinality (phase, policy,
 * controller, provider); the one per-grant series, the expiry timestamp of an
 * active grant, is computed from the cache at scrape time like cert-manager's
 * certificate expiry gauge, so it disappears with the grant.
 */
/** How far ahead of its expiry an active grant gets its own expiration series. */
export const EXPIRATION_SERIES_WINDOW_MS = 15 * 60_000;
/** The most per-grant expiration series one scrape holds. */
export const EXPIRATION_SERIES_MAX = 1_000;

export class Metrics {
  readonly registry = new Registry();
  readonly reconcileTotal: Counter<'controller' | 'result'>;
  readonly reconcileDuration: Histogram<'controller'>;
  readonly revocationLag: Histogram;
  readonly providerErrors: Counter<'provider'>;
  readonly notifications: Counter<'channel' | 'event' | 'result'>;
  readonly auditEvents: Counter<'result'>;
  readonly activityRecordsRefused: Counter<'outcome'>;
  readonly endedGrantsDeleted: Counter<'phase'>;

  constructor(sources: MetricSources, clock: Clock) {
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry });
    this.reconcileTotal = new Counter({
      name: 'timebox_reconcile_total',
      help: 'Reconciles by controller and result: success, error (retried), terminal (dropped: retrying cannot fix it).',
      labelNames: ['controller', 'result'],
      registers,
    });
    this.reconcileDuration = new Histogram({
      name: 'timebox_reconcile_duration_seconds',
      help: 'Time taken by one reconcile.',
      labelNames: ['controller'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers,
    });
    this.revocationLag = new Histogram({
      name: 'timebox_revocation_lag_seconds',
      help: 'From a grant expiresAt to its access actually being removed.',
      buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 300],
      registers,
    });
    this.providerErrors = new Counter({
      name: 'timebox_provider_errors_total',
      help: `Errors from access providers (${KINDS.map((k) => k.title).join(', ')}) while granting or revoking.`,
      labelNames: ['provider'],
      registers,
    });
    this.notifications = new Counter({
      name: 'timebox_notifications_total',
      help: 'Notification deliveries by NotificationChannel and event; result is sent, failed (retried) or stale (too late to send).',
      labelNames: ['channel', 'event', 'result'],
      registers,
    });
    this.auditEvents = new Counter({
      name: 'timebox_audit_events_total',
      help: 'Audit events taken in for grant activity: received, then attributed (counted for a grant), unattributed, or dropped (the intake was full; shed, not queued); lost counts batches or log lines refused as too large (or not JSON) before they reached the intake; unauthorized counts posts refused for want of the token.',
      labelNames: ['result'],
      registers,
    });
    for (const result of [
      'received',
      'attributed',
      'unattributed',
      'dropped',
      'lost',
      'unauthorized',
    ])
      this.auditEvents.inc({ result }, 0);
    this.activityRecordsRefused = new Counter({
      name: 'timebox_activity_records_refused_total',
      help: 'Grant activity records the API server refused as too large or invalid: shrunk (written cut to their numbers) or dropped (refused even so; what was seen since the last write is lost).',
      labelNames: ['outcome'],
      registers,
    });
    for (const outcome of ['shrunk', 'dropped']) this.activityRecordsRefused.inc({ outcome }, 0);
    this.endedGrantsDeleted = new Counter({
      name: 'timebox_ended_grants_deleted_total',
      help: 'Ended grants deleted by the retention (--ended-grant-retention), by the phase they ended in.',
      labelNames: ['phase'],
      registers,
    });
    new Gauge({
      name: 'timebox_grants',
      help: 'AccessGrants by phase and policy.',
      labelNames: ['phase', 'policy'],
      registers,
      collect() {
        this.reset();
        const counts = new Map<string, number>();
        for (const g of sources.grants()) {
          const k = `${g.status?.phase ?? 'Pending'}\u0000${g.spec.policy ?? ''}`;
          counts.set(k, (counts.get(k) ?? 0) + 1);
        }
        for (const [k, n] of counts) {
          const [phase, policy] = k.split('\u0000') as [string, string];
          this.set({ phase, policy }, n);
        }
        // Zero series for known phases, so alerts and dashboards see 0, not absence.
        for (const phase of PHASES)
          if (![...counts.keys()].some((k) => k.startsWith(`${phase}\u0000`)))
            this.set({ phase, policy: '' }, 0);
      },
    });
    // Per-grant series only where an alert or a dashboard needs them: grants that
    // expire within the window, or are past their expiry (TimeboxGrantActiveTooLong),
    // at most EXPIRATION_SERIES_MAX of them, the soonest first; so /metrics stays
    // the same size whether 100 or 100,000 grants are active.
    let omitted = 0;
    new Gauge({
      name: 'timebox_grant_expiration_timestamp_seconds',
      help: `When an active grant expires (Unix seconds), for grants within ${EXPIRATION_SERIES_WINDOW_MS / 60_000} minutes of their expiry or past it; at most ${EXPIRATION_SERIES_MAX}, the soonest first.`,
      labelNames: ['namespace', 'name'],
      registers,
      collect() {
        this.reset();
        const horizon = clock.now().getTime() + EXPIRATION_SERIES_WINDOW_MS;
        const due = sources
          .grants()
          .flatMap((g) => {
            const at = Date.parse(g.status?.expiresAt ?? '');
            return g.status?.phase === 'Active' && at <= horizon ? [{ g, at }] : [];
          })
          .sort((a, b) => a.at - b.at);
        omitted = Math.max(0, due.length - EXPIRATION_SERIES_MAX);
        for (const { g, at } of due.slice(0, EXPIRATION_SERIES_MAX)) {
          this.set(
            { namespace: g.metadata.namespace ?? '', name: g.metadata.name ?? '' },
            at / 1000,
          );
        }
      },
    });
    new Gauge({
      name: 'timebox_grant_expiration_series_omitted',
      help: 'Active grants near or past their expiry left out of timebox_grant_expiration_timestamp_seconds by its cap.',
      registers,
      collect() {
        this.set(omitted);
      },
    });
    new Gauge({
      name: 'timebox_active_targets',
      help: 'Targets of active grants by provider, and whether the target itself ends access at expiry (fail_safe).',
      labelNames: ['provider', 'fail_safe'],
      registers,
      collect() {
        this.reset();
        for (const provider of PROVIDER_NAMES)
          for (const failSafe of ['true', 'false']) this.set({ provider, fail_safe: failSafe }, 0);
        for (const g of sources.grants()) {
          if (g.status?.phase !== 'Active') continue;
          for (const t of g.status.targets ?? []) {
            if (t.state === 'Active')
              this.inc({ provider: t.provider, fail_safe: String(t.failSafe) });
          }
        }
      },
    });
    new Gauge({
      name: 'timebox_revocation_overdue_grants',
      help: 'Grants whose access (a binding) is still present past its expiry.',
      registers,
      collect() {
        const now = clock.now().getTime();
        const overdue = new Set<string>();
        for (const b of sources.bindings()) {
          const at = Date.parse(b.metadata?.annotations?.[ANNOTATION_EXPIRES_AT] ?? '');
          if (!Number.isNaN(at) && at < now) {
            overdue.add(
              b.metadata?.labels?.[LABEL_GRANT_UID] ??
                b.metadata?.annotations?.[ANNOTATION_GRANT] ??
                '',
            );
          }
        }
        this.set(overdue.size);
      },
    });
    new Gauge({
      name: 'timebox_pending_approval_age_seconds',
      help: 'Age of the oldest request awaiting approval, per policy.',
      labelNames: ['policy'],
      registers,
      collect() {
        this.reset();
        const now = clock.now().getTime();
        const oldest = new Map<string, number>();
        for (const g of sources.grants()) {
          const ready = g.status?.conditions?.find((c) => c.type === 'Ready');
          if (g.status?.phase !== 'Pending' || ready?.reason !== 'AwaitingApproval') continue;
          const created = Date.parse(String(g.metadata.creationTimestamp ?? ''));
          if (Number.isNaN(created)) continue;
          const age = (now - created) / 1000;
          const policy = g.spec.policy ?? '';
          oldest.set(policy, Math.max(oldest.get(policy) ?? 0, age));
        }
        for (const [policy, age] of oldest) this.set({ policy }, age);
      },
    });
    new Gauge({
      name: 'timebox_workqueue_depth',
      help: 'Keys waiting in each work queue.',
      labelNames: ['name'],
      registers,
      collect() {
        for (const [name, depth] of Object.entries(sources.queueDepths()))
          this.set({ name }, depth);
      },
    });
    new Gauge({
      name: 'timebox_leader_is_leader',
      help: '1 if this replica holds the leader lease and runs the controllers.',
      registers,
      collect() {
        this.set(sources.isLeader() ? 1 : 0);
      },
    });
  }
}
