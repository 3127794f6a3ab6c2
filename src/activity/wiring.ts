import { readFile } from 'node:fs/promises';
import { CERT_DIR_RECHECK_MS, readCertDir, reloadCertificate } from '../admission/cert-reload.ts';
import {
  CustomObjectsApi,
  type KubeConfig,
  type KubernetesListObject,
} from '@kubernetes/client-node';
import {
  ACCESS_ACTIVITY,
  type AccessActivity,
  type ActivityProvider,
} from '../api/v1alpha1/activity.ts';
import type { ProviderActivitySource } from '../providers/kind.ts';
import { kinds } from '../providers/kinds.ts';
import { parseDuration } from '../api/v1alpha1/duration.ts';
import { GROUP, VERSION, type AccessGrant, type AccessPolicy } from '../api/v1alpha1/types.ts';
import type { Logger } from '../log/logger.ts';
import type { Metrics } from '../metrics/metrics.ts';
import type { Clock } from '../runtime/clock.ts';
import { Informer } from '../runtime/informer.ts';
import { idleVerdict, type IdleVerdict } from './idle.ts';
import { AuditLogFile } from './logfile.ts';
import { grantedRoles, rightSizing, type RulesOf } from './right-sizing.ts';
import { clusterRoleRules, type RoleObject } from './roles.ts';
import type { AuditSource } from './source.ts';
import { activityStore } from './store.ts';
import { ActivityTracker } from './tracker.ts';
import { startAuditWebhook } from './webhook.ts';

export interface ActivityOptions {
  /** The audit webhook backend, served over HTTPS with a bearer token. */
  webhook?: {
    host: string;
    port: number;
    certDir: string;
    tokenFile: string;
    /** How often tls.crt and tls.key are read again (60 s). */
    certRecheckMs?: number;
  };
  /** An API server's JSON audit log to follow. */
  logFile?: string;
  /** A managed control plane's audit log in CloudWatch Logs (EKS), read by the leader. */
  cloudWatchLogs?: { logGroup: string; region?: string; pollIntervalMs?: number };
  flushIntervalMs?: number;
  healthWindowMs?: number;
  /** Users whose requests never count: the operator's own. */
  ignoreUsers?: string[];
  /** The providers' operator flags: those of a kind's activity source turn it on. */
  providerFlags?: Readonly<Record<string, string | undefined>>;
}

/** Whether these options give grant activity any source. */
export function activityConfigured(opts: ActivityOptions | undefined): boolean {
  const flags = opts?.providerFlags ?? {};
  return Boolean(
    opts?.webhook ||
    opts?.logFile ||
    opts?.cloudWatchLogs ||
    kinds.some((k) => k.activity?.configured(flags)),
  );
}

export interface Activity {
  informer: Informer<AccessActivity>;
  tracker: ActivityTracker;
  /** For the grant controller: idleness of an active grant under an idleTimeout. */
  idle(grant: AccessGrant, policy: AccessPolicy | undefined): IdleVerdict | undefined;
  start(): Promise<void>;
  stop(): Promise<void>;
  /**
   * The sources that poll a shared feed (CloudTrail files, CloudWatch Logs), for
   * the leader only: one reader, so each request is counted once.
   */
  leader: { start(): Promise<void>; stop(): Promise<void> };
}

/** Activated once, and over. */
const ended = (g: AccessGrant) => Boolean(g.status?.activatedAt && g.status.endedAt);

/**
 * Grant activity: the sources of audit events, the tracker that attributes them
 * and keeps each grant's AccessActivity, and the idle check. Runs on every
 * replica: whichever one the API server's batches reach records them, and the
 * records are merged with compare-and-swap.
 */
export function activity(
  deps: {
    kubeConfig: KubeConfig;
    grants: Pick<Informer<AccessGrant>, 'list' | 'on' | 'get'>;
    /** The cluster's roles, for the right-sizing hint of ended grants. */
    roles?: {
      clusterRoles: () => readonly RoleObject[];
      role: (name: string, namespace: string) => RoleObject | undefined;
    };
    clock: Clock;
    log: Logger;
    metrics: Pick<Metrics, 'auditEvents' | 'activityRecordsRefused'>;
  },
  opts: ActivityOptions,
): Activity {
  const log = deps.log.with({ component: 'activity' });
  const custom = deps.kubeConfig.makeApiClient(CustomObjectsApi);
  const informer = new Informer<AccessActivity>(
    ACCESS_ACTIVITY.plural,
    deps.kubeConfig,
    `/apis/${GROUP}/${VERSION}/${ACCESS_ACTIVITY.plural}`,
    async () =>
      (await custom.listClusterCustomObject({
        group: GROUP,
        version: VERSION,
        plural: ACCESS_ACTIVITY.plural,
      })) as KubernetesListObject<AccessActivity>,
    { log, clock: deps.clock },
  );
  const roles = deps.roles;
  const rulesOf: RulesOf = (kind, name, namespace) =>
    !roles
      ? undefined
      : kind === 'ClusterRole'
        ? clusterRoleRules(name, roles.clusterRoles())
        : (roles.role(name, namespace)?.rules ?? undefined);
  const tracker = new ActivityTracker({
    grants: () => deps.grants.list(),
    cached: (ns, name) => informer.get(name, ns),
    store: activityStore(deps.kubeConfig),
    clock: deps.clock,
    log,
    counters: { inc: (result, n) => deps.metrics.auditEvents.inc({ result }, n) },
    onRecordRefused: (outcome) => deps.metrics.activityRecordsRefused.inc({ outcome }),
    // The roles as they are when the grant ends, compared with what was used.
    rightSizing: (ref, status) => {
      const g = deps.grants.get(ref.name, ref.namespace);
      if (!roles || g?.metadata.uid !== ref.uid || !ended(g)) return undefined;
      const granted = grantedRoles(g, rulesOf);
      return granted.length ? rightSizing(granted, status) : undefined;
    },
    ...(opts.ignoreUsers ? { ignoreUsers: opts.ignoreUsers } : {}),
    ...(opts.flushIntervalMs ? { flushIntervalMs: opts.flushIntervalMs } : {}),
    ...(opts.healthWindowMs ? { healthWindowMs: opts.healthWindowMs } : {}),
  });
  for (const verb of ['add', 'update', 'delete'] as const)
    deps.grants.on(verb, (g) => {
      tracker.invalidate();
      // Ended: its record gets the right-sizing hint at the next flush, unless it
      // has it already. One found ended at start-up gets it only if it has a
      // record: it may have ended before anything was recorded.
      if (verb === 'delete' || !roles || !ended(g)) return;
      const rec = informer.get(g.metadata.name ?? '', g.metadata.namespace);
      if (rec && rec.spec.grantRef.uid === g.metadata.uid && rec.status?.rightSizing) return;
      tracker.finish(
        {
          namespace: g.metadata.namespace ?? '',
          name: g.metadata.name ?? '',
          uid: g.metadata.uid ?? '',
        },
        { create: verb === 'update' },
      );
    });
  const sources: AuditSource[] = [];
  if (opts.logFile)
    sources.push(
      new AuditLogFile({
        path: opts.logFile,
        clock: deps.clock,
        log,
        onLost: () => tracker.lost(),
      }),
    );
  const flags = opts.providerFlags ?? {};
  let providerSources: ProviderActivitySource[] = [];
  let leaderAuditSources: AuditSource[] = [];
  let leaderRun = 0;
  const idleMessages = new Map<string, string>();
  let stopWebhook: (() => Promise<void>) | undefined;
  return {
    informer,
    tracker,
    idle(grant, policy) {
      const timeout = policy?.spec.idleTimeout;
      const uid = grant.metadata.uid ?? '';
      // Once found idle, a grant stays idle while its revocation is recorded.
      const was = idleMessages.get(uid);
      if (was) return { idle: true, message: was };
      if (!timeout || grant.status?.phase !== 'Active') return undefined;
      const activatedAtMs = Date.parse(grant.status.activatedAt ?? '');
      if (Number.isNaN(activatedAtMs)) return undefined;
      const v = idleVerdict({
        timeoutMs: parseDuration(timeout),
        timeout,
        activatedAtMs,
        lastUsedMs: tracker.lastUsedMs(grant),
        watchedSinceMs: tracker.watchedSince(),
        nowMs: deps.clock.now().getTime(),
      });
      if (v.idle) idleMessages.set(uid, v.message);
      return v;
    },
    async start() {
      tracker.start();
      for (const s of sources) await s.start((events) => tracker.offer(events));
      if (opts.webhook) {
        const w = opts.webhook;
        const [certificate, token] = await Promise.all([
          readCertDir(w.certDir),
          readFile(w.tokenFile, 'utf8'),
        ]);
        const server = await startAuditWebhook({
          host: w.host,
          port: w.port,
          certificate,
          token: token.trim(),
          onEvents: (events) => tracker.offer(events),
          onRefused: () => deps.metrics.auditEvents.inc({ result: 'unauthorized' }),
          onLost: () => tracker.lost(),
          log,
        });
        // A rotated certificate (cert-manager renewing the mounted Secret) is
        // served without a restart, as for the identity webhook.
        const reload = reloadCertificate({
          source: () => readCertDir(w.certDir),
          current: certificate,
          apply: (pair) => server.setCertificate(pair),
          intervalMs: opts.webhook.certRecheckMs ?? CERT_DIR_RECHECK_MS,
          clock: deps.clock,
          log,
          what: 'audit webhook',
        });
        stopWebhook = () => {
          reload.stop();
          return server.close();
        };
      }
    },
    leader: {
      async start() {
        const run = ++leaderRun;
        if (opts.cloudWatchLogs) {
          const cw = opts.cloudWatchLogs;
          try {
            // The SDK is loaded only when the source is configured.
            const [{ CloudWatchAuditSource }, { cloudWatchLogsPort }] = await Promise.all([
              import('./cloudwatch.ts'),
              import('./cloudwatch-port.ts'),
            ]);
            const source = new CloudWatchAuditSource({
              logGroup: cw.logGroup,
              port: await cloudWatchLogsPort(cw.region ? { region: cw.region } : {}),
              clock: deps.clock,
              log,
              ...(cw.pollIntervalMs ? { pollMs: cw.pollIntervalMs } : {}),
            });
            if (run !== leaderRun) return;
            await source.start((events) => tracker.offer(events));
            leaderAuditSources.push(source);
            log.info('following the audit log in CloudWatch Logs', { logGroup: cw.logGroup });
          } catch (err) {
            log.error('the CloudWatch Logs audit source did not start', { err });
          }
        }
        for (const kind of kinds) {
          const hook = kind.activity;
          if (!hook?.configured(flags)) continue;
          try {
            const source = await hook.source({
              clock: deps.clock,
              log: log.with({ provider: kind.name }),
              flags,
              // Only kinds the record's schema names have a source.
              sink: (requests) => tracker.offerRequests(kind.name as ActivityProvider, requests),
            });
            await source.start();
            // Leadership lost while it started: it must not read on.
            if (run !== leaderRun) {
              await source.stop();
              return;
            }
            providerSources.push(source);
            log.info('following provider activity', { provider: kind.name, source: source.name });
          } catch (err) {
            log.error('a provider activity source did not start', { provider: kind.name, err });
          }
        }
      },
      async stop() {
        leaderRun++;
        const running = providerSources;
        providerSources = [];
        for (const s of running) await s.stop();
        const audit = leaderAuditSources;
        leaderAuditSources = [];
        for (const s of audit) await s.stop();
      },
    },
    async stop() {
      await stopWebhook?.();
      for (const s of sources) await s.stop();
      await tracker.stop();
    },
  };
}
