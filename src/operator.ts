import { hostname } from 'node:os';
import { randomUUID } from 'node:crypto';
import {
  CustomObjectsApi,
  RbacAuthorizationV1Api,
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
  isTerminal,
} from './api/v1alpha1/types.ts';
import { serveWebhook, type WebhookOptions } from './admission/serve.ts';
import { AccessGrantController, grantKey } from './controller/accessgrant.ts';
import { AccessPolicyController, policyWriter } from './controller/accesspolicy.ts';
import { KeyedMutex, RECORD_PRIORITY, type Lane } from './controller/lanes.ts';
import type { RbacRule, RoleRules } from './policy/escalation.ts';
import { grantWriter } from './controller/grants.ts';
import { BindingSweeper, sweepKey } from './controller/sweeper.ts';
import {
  grantsOfApproval,
  grantsOfBinding,
  grantsOfPolicy,
  placeGrant,
  policiesOfRoleChange,
} from './controller/routing.ts';
import { eventRecorder } from './kube/events.ts';
import { Metrics } from './metrics/metrics.ts';
import { PooledKubeConfig } from './kube/kubeconfig.ts';
import type { Logger } from './log/logger.ts';
import { KubernetesProvider, rbacPort } from './providers/kubernetes/driver.ts';
import { RecentDeletes } from './providers/kubernetes/recent-deletes.ts';
import { isTerminalError, type ProviderDriver } from './providers/provider.ts';
import { systemClock, type Clock } from './runtime/clock.ts';
import { Informer } from './runtime/informer.ts';
import { LabelIndex } from './runtime/label-index.ts';
import { LeaderElector } from './runtime/leader.ts';
import { Lifecycle } from './runtime/lifecycle.ts';
import { runWorkers, WorkQueue, type WorkerHooks } from './runtime/workqueue.ts';
import { notifications, type NotificationsOptions } from './notify/wiring.ts';
import { serveSlack, type SlackServerOptions } from './notify/slack-server.ts';

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
  /** Drivers of the cloud providers to use besides Kubernetes (see providers/registry.ts). */
  cloudProviders?: ProviderDriver[];
  /** Called if leadership is lost; the process should exit so it restarts clean. */
  onLostLeadership?: () => void;
  /** The identity webhook, served by every replica, leader or not (off when absent). */
  webhook?: WebhookOptions;
  /** Notifications of grants to the NotificationChannels their policies name. */
  notifications?: NotificationsOptions;
  /** Slack's button clicks and /timebox, served by every replica (off when absent). */
  slack?: SlackServerOptions;
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
  const rbacApi = kubeConfig.makeApiClient(RbacAuthorizationV1Api);

  // Timebox's own kinds, across all namespaces.
  const timeboxInformer = <T extends KubernetesObject>(plural: string) =>
    new Informer<T>(
      plural,
      kubeConfig,
      `/apis/${GROUP}/${VERSION}/${plural}`,
      async () =>
        (await custom.listClusterCustomObject({
          group: GROUP,
          version: VERSION,
          plural,
        })) as KubernetesListObject<T>,
      { log, clock },
    );
  const grants = timeboxInformer<AccessGrant>(ACCESS_GRANT.plural);
  const policies = timeboxInformer<AccessPolicy>(ACCESS_POLICY.plural);
  const approvals = timeboxInformer<AccessApproval>(ACCESS_APPROVAL.plural);
  const roleBindings = new Informer<V1RoleBinding>(
    'rolebindings',
    kubeConfig,
    '/apis/rbac.authorization.k8s.io/v1/rolebindings',
    () => rbacApi.listRoleBindingForAllNamespaces({ labelSelector: OWNED }),
    { log, clock, labelSelector: OWNED },
  );
  const clusterRoleBindings = new Informer<V1ClusterRoleBinding>(
    'clusterrolebindings',
    kubeConfig,
    '/apis/rbac.authorization.k8s.io/v1/clusterrolebindings',
    () => rbacApi.listClusterRoleBinding({ labelSelector: OWNED }),
    { log, clock, labelSelector: OWNED },
  );

  // Every role, to find those that let their holder outlive a grant.
  const clusterRoles = new Informer<V1ClusterRole>(
    'clusterroles',
    kubeConfig,
    '/apis/rbac.authorization.k8s.io/v1/clusterroles',
    () => rbacApi.listClusterRole(),
    { log, clock },
  );
  const roles = new Informer<V1Role>(
    'roles',
    kubeConfig,
    '/apis/rbac.authorization.k8s.io/v1/roles',
    () => rbacApi.listRoleForAllNamespaces(),
    { log, clock },
  );
  const roleRules: RoleRules = (kind, name, namespace) =>
    (kind === 'ClusterRole' ? clusterRoles.get(name) : roles.get(name, namespace))?.rules as
      RbacRule[] | undefined;

  const writer = grantWriter(kubeConfig);
  const rbac = rbacPort(kubeConfig);
  const bindingsByGrant = {
    roleBindings: new LabelIndex(roleBindings, LABEL_GRANT_UID),
    clusterRoleBindings: new LabelIndex(clusterRoleBindings, LABEL_GRANT_UID),
  };
  // What this process deleted, until its caches show it: one DELETE per binding.
  const deleted = new RecentDeletes(clock);
  for (const inf of [roleBindings, clusterRoleBindings]) {
    inf.on('delete', (b) => deleted.forget(b.metadata?.uid));
  }
  const kubernetes = new KubernetesProvider(rbac, bindingsByGrant, deleted);
  const grantLog = log.with({ controller: 'accessgrant' });
  const recorder = eventRecorder(kubeConfig, 'timebox-controller', identity, clock, grantLog);
  const grantQueue = new WorkQueue({ clock, name: 'accessgrant' });
  const revokeQueue = new WorkQueue({ clock, name: 'accessgrant-revoke' });
  const lanes = { grant: grantQueue, revoke: revokeQueue };
  /** Queues a grant's key in the lane, and at the priority, its state calls for (controller/routing.ts). */
  const route = (key: string) => {
    const [ns, name] = key.split('/') as [string, string];
    const grant = grants.get(name, ns);
    const uid = grant?.metadata.uid ?? '';
    const { lane, priority } = placeGrant(grant, clock.now(), {
      awaitsRecord: controller.awaitsRecord(key),
      bindingsLeft:
        bindingsByGrant.roleBindings.get(uid).length +
          bindingsByGrant.clusterRoleBindings.get(uid).length >
        0,
    });
    lanes[lane].add(key, { priority });
  };
  const sweepQueue = new WorkQueue({ clock, name: 'binding-sweeper' });
  const policyQueue = new WorkQueue({ clock, name: 'accesspolicy' });
  let elector: LeaderElector | undefined;
  const metrics = new Metrics(
    {
      grants: () => grants.list(),
      bindings: () => [...roleBindings.list(), ...clusterRoleBindings.list()],
      queueDepths: () => ({
        accessgrant: grantQueue.len(),
        'accessgrant-revoke': revokeQueue.len(),
        'binding-sweeper': sweepQueue.len(),
        accesspolicy: policyQueue.len(),
        ...notify.queueDepths(),
      }),
      isLeader: () => (elector ? elector.isLeader() : true),
    },
    clock,
  );
  const controller = new AccessGrantController({
    grants,
    policies,
    approvals,
    roleRules,
    writer,
    providers: [kubernetes, ...(opts.cloudProviders ?? [])],
    recorder,
    clock,
    log: grantLog,
    metrics,
  });
  const policyLog = log.with({ controller: 'accesspolicy' });
  const policyController = new AccessPolicyController({
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
  });
  const notify = notifications(
    {
      kubeConfig,
      grants,
      policies,
      bindingExpiries: (uid) =>
        [
          ...bindingsByGrant.roleBindings.get(uid),
          ...bindingsByGrant.clusterRoleBindings.get(uid),
        ].map((b) => Date.parse(b.metadata?.annotations?.[ANNOTATION_EXPIRES_AT] ?? '')),
      writer,
      recorder,
      namespace: opts.namespace ?? 'timebox-system',
      clock,
      log,
      metrics,
    },
    opts.notifications,
  );
  const sweepLog = log.with({ controller: 'binding-sweeper' });
  const sweeper = new BindingSweeper({
    roleBindings,
    clusterRoleBindings,
    grants,
    writer,
    rbac,
    deleted,
    clock,
    log: sweepLog,
  });

  const onGrant = (g: AccessGrant) => route(grantKey(g));
  grants.on('add', onGrant);
  grants.on('update', onGrant);
  grants.on('delete', (g) => {
    // A grant deleted without its finalizer (e.g. removed by hand) leaves orphans.
    for (const k of sweeper.keysForGrant(g.metadata.uid ?? '')) sweepQueue.add(k);
  });
  const onBinding = (kind: 'RoleBinding' | 'ClusterRoleBinding') => (b: V1RoleBinding) => {
    grantsOfBinding(b).forEach(route);
    sweepQueue.add(sweepKey(kind, b));
  };
  for (const [inf, kind] of [
    [roleBindings, 'RoleBinding'],
    [clusterRoleBindings, 'ClusterRoleBinding'],
  ] as const) {
    inf.on('add', onBinding(kind));
    inf.on('update', onBinding(kind));
    // A deleted binding may need restoring by its grant; the sweeper has nothing left to do.
    inf.on('delete', (b) => grantsOfBinding(b).forEach(route));
  }

  const onPolicy = (p: AccessPolicy) => {
    if (p.metadata.name) policyQueue.add(p.metadata.name);
    grantsOfPolicy(p, grants.list()).forEach(route);
  };
  // A role edited to allow more changes what the policies handing it out risk;
  // their status changes, and that re-evaluates their grants.
  const onRole = () => {
    for (const name of policiesOfRoleChange(policies.list())) policyQueue.add(name);
  };
  for (const inf of [clusterRoles, roles] as Informer<V1Role>[]) {
    inf.on('add', onRole);
    inf.on('update', onRole);
    inf.on('delete', onRole);
  }
  policies.on('add', onPolicy);
  policies.on('update', onPolicy);
  policies.on('delete', onPolicy);
  const onApproval = (a: AccessApproval) => grantsOfApproval(a).forEach(route);
  approvals.on('add', onApproval);
  approvals.on('update', onApproval);
  approvals.on('delete', onApproval);

  const informers = [
    grants,
    policies,
    approvals,
    roleBindings,
    clusterRoleBindings,
    clusterRoles,
    roles,
    notify.informer,
  ] as Informer<KubernetesObject>[];
  life.add('informers', () => Promise.all(informers.map((i) => i.stop())));
  await Promise.all(informers.map((i) => i.start()));
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
  if (webhook) life.add('webhook', () => webhook.stop());
  // Slack is a convenience: a missing signing secret or a taken port is logged and
  // retried, and never keeps the controllers (and so revocation) from starting.
  let slack: Awaited<ReturnType<typeof serveSlack>> | undefined;
  let slackRetry: { cancel(): void } | undefined;
  const startSlack = async (config: SlackServerOptions): Promise<void> => {
    try {
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
    life.add('slack', async () => {
      slackRetry?.cancel();
      await slack?.stop();
    });
    await startSlack(opts.slack);
  }
  // Events the workers recorded are sent before the connections close.
  life.add('events', () => recorder.flush());

  /**
   * What every worker loop reports: its reconciles in the metrics, and its
   * failures in the log. A terminal error (retrying cannot fix it) is counted and
   * dropped, not retried forever; the next event re-queues the key.
   */
  const hooksFor = (controller: string, logger: Logger, what: string): WorkerHooks => ({
    isTerminal: isTerminalError,
    observe: (result, seconds) => {
      metrics.reconcileTotal.inc({ controller, result });
      metrics.reconcileDuration.observe({ controller }, seconds);
    },
    onError: (key, err, terminal) =>
      terminal
        ? logger.error(`${what} failed for good; not retrying`, { key, err })
        : logger.warn(`${what} failed; retrying`, { key, err }),
  });

  // Clouds cannot be watched: a periodic resync is how drift there is found.
  const resyncMs = opts.resyncPeriodMs ?? 10 * 60_000;
  let resyncTimer: { cancel(): void } | undefined;
  const resync = () => {
    for (const g of grants.list()) if (!isTerminal(g.status?.phase)) route(grantKey(g));
    resyncTimer = clock.after(resyncMs, resync);
  };
  resyncTimer = clock.after(resyncMs, resync);

  const workers = opts.workers ?? 4;
  // Deletes are cheap and nothing matters more: measured with bench expiry, 16
  // workers cut the revocation lag of a 10,000-grant burst from 34 s to 7 s (p99).
  const revokeWorkers = opts.revokeWorkers ?? 16;
  // Both lanes run the one reconciler, never on the same grant at once; a timer a
  // reconcile sets fires into the lane it belongs to (an expiry: revoke).
  const mutex = new KeyedMutex();
  const reconcileIn = (lane: Lane) => async (key: string) => {
    const r = await mutex.run(key, () => controller.reconcile(key, lane));
    if (r.requeueAfterMs !== undefined) lanes[r.lane ?? 'grant'].addAfter(key, r.requeueAfterMs);
    // Access is gone; writing down that it is waits behind every other revocation.
    if (r.recordLater) revokeQueue.add(key, { priority: RECORD_PRIORITY });
    return {};
  };
  // Deleting an expired, Timebox-owned binding is idempotent and safe from any
  // replica: the sweeper runs on every one, leader or not, so a crash or a
  // failover never leaves expired access in place while a Lease runs out.
  const sweeping = runWorkers(
    sweepQueue,
    2,
    (k) => sweeper.reconcile(k),
    hooksFor('binding-sweeper', sweepLog, 'sweep'),
  );
  life.add('binding-sweeper', async () => {
    sweepQueue.shutDown();
    await sweeping;
  });
  // The leader's workers: drained once leadership ends (below), or here without election.
  life.add('controllers', async () => {
    grantQueue.shutDown();
    revokeQueue.shutDown();
    policyQueue.shutDown();
    await Promise.all([running, notify.stop()]);
  });
  let running: Promise<unknown> | undefined;
  const startWorkers = () => {
    log.info('starting controllers', { workers, revokeWorkers });
    running = Promise.all([
      runWorkers(
        grantQueue,
        workers,
        reconcileIn('grant'),
        hooksFor('accessgrant', grantLog, 'reconcile'),
      ),
      runWorkers(
        revokeQueue,
        revokeWorkers,
        reconcileIn('revoke'),
        hooksFor('accessgrant-revoke', grantLog, 'reconcile'),
      ),
      runWorkers(
        policyQueue,
        1,
        (k) => policyController.reconcile(k),
        hooksFor('accesspolicy', policyLog, 'policy status'),
      ),
    ]);
    // Notifications from the leader only, so that two replicas never send one twice.
    notify.start();
  };

  let electorDone: Promise<void> | undefined;
  let stopping = false;
  if (opts.leaderElection ?? true) {
    elector = new LeaderElector({
      kubeConfig,
      namespace: opts.namespace ?? 'timebox-system',
      name: opts.leaseName ?? 'timebox-controller-leader',
      identity,
      ...(opts.leaseDurationMs ? { leaseDurationMs: opts.leaseDurationMs } : {}),
      ...(opts.renewDeadlineMs ? { renewDeadlineMs: opts.renewDeadlineMs } : {}),
      ...(opts.retryPeriodMs ? { retryPeriodMs: opts.retryPeriodMs } : {}),
      clock,
      log,
    });
    electorDone = elector.run({
      onStartedLeading: async (signal) => {
        startWorkers();
        // Hold leadership until told to stop; stop() then drains the workers first.
        await new Promise<void>((resolve) => signal.addEventListener('abort', () => resolve()));
        grantQueue.shutDown();
        revokeQueue.shutDown();
        policyQueue.shutDown();
        await Promise.all([running, notify.stop()]);
      },
      onStoppedLeading: () => {
        if (!stopping) {
          log.error('leadership lost; stopping');
          opts.onLostLeadership?.();
        }
      },
      onNewLeader: (who) => log.info('leader observed', { leader: who }),
    });
    life.add('leader-election', async () => {
      await elector?.stop();
      await electorDone;
    });
  } else {
    startWorkers();
  }

  // Stopped first: no resync queues work for workers about to stop.
  life.add('resync', () => resyncTimer?.cancel());
  log.debug('operator parts, in the order they stop', { order: life.stopOrder });
  return {
    identity,
    metrics,
    ...(webhook ? { webhookPort: webhook.port } : {}),
    ...(slack ? { slackPort: slack.port } : {}),
    isLeader: () => (elector ? elector.isLeader() : true),
    ready: () => informers.every((i) => i.hasSynced),
    async stop() {
      stopping = true;
      await life.stop();
    },
  };
}
