import { hostname } from 'node:os';
import { randomUUID } from 'node:crypto';
import {
  CustomObjectsApi,
  type KubeConfig,
  type KubernetesListObject,
  type KubernetesObject,
  type V1ClusterRole,
  type V1ClusterRoleBinding,
  type V1Role,
  type V1RoleBinding,
} from '@kubernetes/client-node';
import {
  ACCESS_APPROVAL,
  ACCESS_GRANT,
  ACCESS_POLICY,
  ANNOTATION_EXPIRES_AT,
  GROUP,
  LABEL_GRANT_UID,
  VERSION,
  type AccessApproval,
  type AccessGrant,
  type AccessPolicy,
  type Provider,
} from './api/v1alpha1/types.ts';
import { serveWebhook, type WebhookOptions } from './admission/serve.ts';
import { AccessGrantController } from './controller/accessgrant.ts';
import { setupAccessGrantController } from './controller/accessgrant-setup.ts';
import { AccessPolicyController, policyWriter } from './controller/accesspolicy.ts';
import { setupAccessPolicyController } from './controller/accesspolicy-setup.ts';
import type { RbacRule, RoleRules } from './policy/escalation.ts';
import { grantWriter, retentionDeleter } from './controller/grants.ts';
import { RetentionController } from './controller/retention.ts';
import { setupRetention } from './controller/retention-setup.ts';
import { BindingSweeper } from './controller/sweeper.ts';
import { setupSweeper } from './controller/sweeper-setup.ts';
import { eventRecorder } from './kube/events.ts';
import { Metrics } from './metrics/metrics.ts';
import { PooledKubeConfig } from './kube/kubeconfig.ts';
import type { Logger } from './log/logger.ts';
import { rbacPort } from './providers/kubernetes/driver.ts';
import type { KubernetesCluster } from './providers/kubernetes/kind.ts';
import { buildDrivers, parseProviders } from './providers/registry.ts';
import { RecentDeletes } from './providers/kubernetes/recent-deletes.ts';
import { isTerminalError } from './providers/provider.ts';
import { systemClock, type Clock } from './runtime/clock.ts';
import { Informer } from './runtime/informer.ts';
import { LabelIndex } from './runtime/label-index.ts';
import { LeaderElector } from './runtime/leader.ts';
import { Lifecycle } from './runtime/lifecycle.ts';
import { Manager } from './runtime/manager.ts';
import { notifications, type NotificationsOptions } from './notify/wiring.ts';
import type { SlackServerOptions } from './notify/slack-server.ts';
import {
  activityConfigured,
  activity as grantActivity,
  type ActivityOptions,
} from './activity/wiring.ts';

export interface OperatorOptions {
  /** Namespace of the leader-election Lease. */
  namespace?: string;
  leaderElection?: boolean;
  leaseName?: string;
  leaseDurationMs?: number;
  renewDeadlineMs?: number;
  retryPeriodMs?: number;
  /** Concurrent reconciles of grants being requested, approved or repaired. */
  workers?: number;
  /** Concurrent reconciles of grants whose access ends (expiry, revocation, deletion). */
  revokeWorkers?: number;
  identity?: string;
  clock?: Clock;
  /**
   * How often every grant that is not final is reconciled again, so that access
   * removed in a cloud by hand is restored (Kubernetes bindings are watched).
   */
  resyncPeriodMs?: number;
  /** The providers to enable; Kubernetes is always among them (see providers/registry.ts). */
  providers?: readonly Provider[];
  /** The values of the providers' own operator flags, e.g. gcp-endpoint. */
  providerFlags?: Record<string, string | undefined>;
  /**
   * Delete grants this long after they ended (a terminal phase), with their
   * approvals; off when absent or 0. See RetentionController.
   */
  endedGrantRetentionMs?: number;
  /** Called if leadership is lost; the process should exit so it restarts clean. */
  onLostLeadership?: () => void;
  /** The identity webhook, served by every replica, leader or not (off when absent). */
  webhook?: WebhookOptions;
  /** Notifications of grants to the NotificationChannels their policies name. */
  notifications?: NotificationsOptions;
  /** Slack's button clicks and /timebox, served by every replica (off when absent). */
  slack?: SlackServerOptions;
  /** Grant activity from audit events (off unless a source is given). */
  activity?: ActivityOptions;
}

export interface Operator {
  readonly identity: string;
  readonly metrics: Metrics;
  /** The port the identity webhook listens on, when it is served. */
  readonly webhookPort?: number;
  /** The port Slack's requests are served on, when they are. */
  readonly slackPort?: number;
  isLeader(): boolean;
  /** Caches synced: the replica could lead at once. */
  ready(): boolean;
  stop(): Promise<void>;
}

const RBAC_GROUP = 'rbac.authorization.k8s.io';
const OWNED = LABEL_GRANT_UID;

/**
 * Wires the controllers: informers for grants and owned bindings on every
 * replica (so a new leader starts warm), work queues, and workers that run only
 * while this replica holds the leader Lease.
 */
export async function startOperator(
  config: KubeConfig,
  log: Logger,
  opts: OperatorOptions = {},
): Promise<Operator> {
  const kubeConfig = config instanceof PooledKubeConfig ? config : new PooledKubeConfig(config);
  // What has started, and so what stop() (or a failed start) stops, last first.
  const life = new Lifecycle(log);
  life.add('connections', () => kubeConfig.close());
  try {
    return await wire(kubeConfig, life, log, opts);
  } catch (err) {
    await life.stop();
    throw err;
  }
}

/** Builds and starts the operator's parts, registering each with `life` as it starts. */
async function wire(
  kubeConfig: PooledKubeConfig,
  life: Lifecycle,
  log: Logger,
  opts: OperatorOptions,
): Promise<Operator> {
  const clock = opts.clock ?? systemClock;
  const identity = opts.identity ?? `${hostname()}_${randomUUID()}`;
  const custom = kubeConfig.makeApiClient(CustomObjectsApi);

  // Every cache lists as plain JSON, the shape its watch delivers: the typed
  // client's models would turn each listed object field by field into classes
  // (with Dates for timestamps), and so the cache would hold two shapes of one
  // kind, at a cost that grows with the cluster (about 0.3 s of CPU at start-up
  // with 10,000 bindings, in V8's interpreter). Any group's path is built the same way.
  const informer = <T extends KubernetesObject>(
    group: string,
    version: string,
    plural: string,
    labelSelector?: string,
  ) =>
    new Informer<T>(
      plural,
      kubeConfig,
      `/apis/${group}/${version}/${plural}`,
      async () =>
        (await custom.listClusterCustomObject({
          group,
          version,
          plural,
          ...(labelSelector ? { labelSelector } : {}),
        })) as KubernetesListObject<T>,
      { log, clock, ...(labelSelector ? { labelSelector } : {}) },
    );
  // Timebox's own kinds, across all namespaces.
  const grants = informer<AccessGrant>(GROUP, VERSION, ACCESS_GRANT.plural);
  const policies = informer<AccessPolicy>(GROUP, VERSION, ACCESS_POLICY.plural);
  const approvals = informer<AccessApproval>(GROUP, VERSION, ACCESS_APPROVAL.plural);
  // The bindings Timebox made, and every role, to find those that let their
  // holder outlive a grant.
  const roleBindings = informer<V1RoleBinding>(RBAC_GROUP, 'v1', 'rolebindings', OWNED);
  const clusterRoleBindings = informer<V1ClusterRoleBinding>(
    RBAC_GROUP,
    'v1',
    'clusterrolebindings',
    OWNED,
  );
  const clusterRoles = informer<V1ClusterRole>(RBAC_GROUP, 'v1', 'clusterroles');
  const roles = informer<V1Role>(RBAC_GROUP, 'v1', 'roles');
  const roleRules: RoleRules = (kind, name, namespace) =>
    (kind === 'ClusterRole' ? clusterRoles.get(name) : roles.get(name, namespace))?.rules as
      RbacRule[] | undefined;

  const writer = grantWriter(kubeConfig);
  const rbac = rbacPort(kubeConfig);
  const bindingsByGrant = {
    roleBindings: new LabelIndex(roleBindings, LABEL_GRANT_UID),
    clusterRoleBindings: new LabelIndex(clusterRoleBindings, LABEL_GRANT_UID),
  };
  const bindingsOf = (uid: string) => [
    ...bindingsByGrant.roleBindings.get(uid),
    ...bindingsByGrant.clusterRoleBindings.get(uid),
  ];
  // What this process deleted: one DELETE per binding. Kept for its TTL even once
  // the caches show the deletion, because a reconcile that read the binding from
  // the cache just before may be about to delete it again (UIDs are never reused,
  // so remembering one longer is harmless).
  const deleted = new RecentDeletes(clock, 2 * 60_000);
  // Every provider is built the same way, through its kind; Kubernetes acts on
  // this cluster through the operator's own caches.
  const cluster: KubernetesCluster = {
    kubeConfig,
    bindings: bindingsByGrant,
    recentDeletes: deleted,
  };
  const drivers = await buildDrivers(parseProviders((opts.providers ?? []).join(',')), {
    clock,
    flags: opts.providerFlags ?? {},
    cluster,
  });
  const grantLog = log.with({ controller: 'accessgrant' });
  const recorder = eventRecorder(kubeConfig, 'timebox-controller', identity, clock, grantLog);

  const elector =
    (opts.leaderElection ?? true)
      ? new LeaderElector({
          kubeConfig,
          namespace: opts.namespace ?? 'timebox-system',
          name: opts.leaseName ?? 'timebox-controller-leader',
          identity,
          ...(opts.leaseDurationMs ? { leaseDurationMs: opts.leaseDurationMs } : {}),
          ...(opts.renewDeadlineMs ? { renewDeadlineMs: opts.renewDeadlineMs } : {}),
          ...(opts.retryPeriodMs ? { retryPeriodMs: opts.retryPeriodMs } : {}),
          clock,
          log,
        })
      : undefined;
  const mgr: Manager = new Manager({
    log,
    clock,
    isTerminal: isTerminalError,
    observe: (controller, result, seconds) => {
      metrics.reconcileTotal.inc({ controller, result });
      metrics.reconcileDuration.observe({ controller }, seconds);
    },
    initLoop: (controller) => {
      for (const result of ['success', 'error', 'terminal'] as const)
        metrics.reconcileTotal.inc({ controller, result }, 0);
    },
    ...(elector ? { elector } : {}),
    ...(opts.onLostLeadership ? { onLostLeadership: opts.onLostLeadership } : {}),
  });
  life.add('manager', () => mgr.stop());
  const metrics: Metrics = new Metrics(
    {
      grants: () => grants.list(),
      bindings: () => [...roleBindings.list(), ...clusterRoleBindings.list()],
      queueDepths: () => mgr.queueDepths(),
      isLeader: () => mgr.isLeader(),
    },
    clock,
  );
  const activityOptions: ActivityOptions = {
    ...opts.activity,
    providerFlags: opts.providerFlags ?? {},
  };
  const activity = activityConfigured(activityOptions)
    ? grantActivity(
        {
          kubeConfig,
          grants,
          roles: {
            clusterRoles: () => clusterRoles.list(),
            role: (name, namespace) => roles.get(name, namespace),
          },
          clock,
          log,
          metrics,
        },
        {
          // The operator's own requests are nobody's activity.
          ignoreUsers: [
            `system:serviceaccount:${opts.namespace ?? 'timebox-system'}:timebox-controller`,
          ],
          ...activityOptions,
        },
      )
    : undefined;
  const controller = new AccessGrantController({
    grants,
    policies,
    approvals,
    roleRules,
    writer,
    providers: drivers,
    recorder,
    clock,
    log: grantLog,
    metrics,
    ...(activity
      ? { idle: (g: AccessGrant, p: AccessPolicy | undefined) => activity.idle(g, p) }
      : {}),
  });
  const grantSetup = setupAccessGrantController({
    grants,
    policies,
    approvals,
    bindings: [roleBindings, clusterRoleBindings],
    bindingsLeft: (uid) => bindingsOf(uid).length > 0,
    controller,
    clock,
    log: grantLog,
    // Activation waits on the API server, one write after another: measured with
    // bench scale, 16 workers took 2,000 activations from 25 s to 19 s. A cloud's
    // own writes are limited apart from this (ProviderKind.grantConcurrency).
    workers: opts.workers ?? 16,
    // Deletes are cheap and nothing matters more: measured with bench expiry, 16
    // workers cut the revocation lag of a 10,000-grant burst from 34 s to 7 s (p99).
    revokeWorkers: opts.revokeWorkers ?? 16,
  });
  mgr.addController(grantSetup.controller);
  // Clouds cannot be watched: a periodic resync is how drift there is found.
  mgr.resync(opts.resyncPeriodMs ?? 10 * 60_000, grantSetup.resync);

  if (opts.endedGrantRetentionMs) {
    const retentionLog = log.with({ controller: 'accessgrant-retention' });
    mgr.addController(
      setupRetention({
        retention: new RetentionController({
          grants,
          approvals,
          bindingsLeft: (uid) => bindingsOf(uid).length > 0,
          deleter: retentionDeleter(kubeConfig),
          recorder,
          clock,
          log: retentionLog,
          retentionMs: opts.endedGrantRetentionMs,
          deleted: metrics.endedGrantsDeleted,
        }),
        grants,
        bindings: [roleBindings, clusterRoleBindings],
        clock,
        log: retentionLog,
      }),
    );
  }

  const policyLog = log.with({ controller: 'accesspolicy' });
  mgr.addController(
    setupAccessPolicyController({
      policies,
      roles: [roles, clusterRoles],
      controller: new AccessPolicyController({
        policies,
        roleRules,
        namespacesOfRole: (name) =>
          roles
            .list()
            .filter((r) => r.metadata?.name === name)
            .map((r) => r.metadata?.namespace ?? ''),
        writer: policyWriter(kubeConfig),
        clock,
        log: policyLog,
      }),
      clock,
      log: policyLog,
    }),
  );

  const sweepLog = log.with({ controller: 'binding-sweeper' });
  mgr.addController(
    setupSweeper({
      sweeper: new BindingSweeper({
        roleBindings,
        clusterRoleBindings,
        grants,
        writer,
        rbac,
        deleted,
        clock,
        log: sweepLog,
      }),
      grants,
      roleBindings,
      clusterRoleBindings,
      clock,
      log: sweepLog,
    }),
  );

  // Notifications from the leader only, so that two replicas never send one twice.
  const notify = notifications(
    {
      kubeConfig,
      grants,
      policies,
      bindingExpiries: (uid) =>
        bindingsOf(uid).map((b) =>
          Date.parse(b.metadata?.annotations?.[ANNOTATION_EXPIRES_AT] ?? ''),
        ),
      writer,
      recorder,
      namespace: opts.namespace ?? 'timebox-system',
      clock,
      log,
      metrics,
    },
    opts.notifications,
  );
  if (activity)
    mgr.addLeaderRunnable({
      name: 'activity-sources',
      start: () => void activity.leader.start(),
      stop: () => activity.leader.stop(),
    });
  mgr.addLeaderRunnable({
    name: 'notifications',
    start: () => notify.start(),
    stop: () => notify.stop(),
    queueDepths: () => notify.queueDepths(),
  });

  mgr.addCache(
    grants,
    policies,
    approvals,
    roleBindings,
    clusterRoleBindings,
    clusterRoles,
    roles,
    notify.informer,
    ...(activity ? [activity.informer] : []),
  );
  await mgr.startCaches();
  log.info('caches synced', {
    grants: grants.list().length,
    bindings: roleBindings.list().length + clusterRoleBindings.list().length,
  });
  const webhook = opts.webhook
    ? await serveWebhook(kubeConfig, opts.webhook, {
        clock,
        log,
        cachedGrant: (ns, name) => grants.get(name, ns),
      })
    : undefined;
  if (webhook) mgr.add('webhook', () => webhook.stop());
  if (activity) {
    // Every replica takes audit events in: the API server's batches reach any of them.
    mgr.add('activity', () => activity.stop());
    await activity.start();
  }
  // Slack is a convenience: a missing signing secret or a taken port is logged and
  // retried, and never keeps the controllers (and so revocation) from starting.
  let slack: Awaited<ReturnType<typeof import('./notify/slack-server.ts').serveSlack>> | undefined;
  let slackRetry: { cancel(): void } | undefined;
  const startSlack = async (config: SlackServerOptions): Promise<void> => {
    try {
      // Loaded only where Slack is configured, with what it alone needs.
      const { serveSlack } = await import('./notify/slack-server.ts');
      slack = await serveSlack(kubeConfig, config, {
        grants,
        policies,
        log: log.with({ component: 'slack' }),
        now: () => clock.now(),
      });
    } catch (err) {
      log.error('Slack clicks and /timebox are not served; retrying in 30 s', { err });
      slackRetry = clock.after(30_000, () => void startSlack(config));
    }
  };
  if (opts.slack) {
    mgr.add('slack', async () => {
      slackRetry?.cancel();
      await slack?.stop();
    });
    await startSlack(opts.slack);
  }
  // Events the workers recorded are sent before the connections close.
  mgr.add('events', () => recorder.flush());
  await mgr.startControllers();

  log.debug('operator parts, in the order they stop', { order: mgr.stopOrder });
  return {
    identity,
    metrics,
    ...(webhook ? { webhookPort: webhook.port } : {}),
    ...(slack ? { slackPort: slack.port } : {}),
    isLeader: () => mgr.isLeader(),
    ready: () => mgr.ready(),
    stop: () => life.stop(),
  };
}
