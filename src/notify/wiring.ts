import {
  CoreV1Api,
  CustomObjectsApi,
  PatchStrategy,
  setHeaderOptions,
  type KubeConfig,
  type KubernetesListObject,
} from '@kubernetes/client-node';
import {
  GROUP,
  NOTIFICATION_CHANNEL,
  VERSION,
  isTerminal,
  type AccessGrant,
  type AccessPolicy,
  type NotificationChannel,
} from '../api/v1alpha1/types.ts';
import { setCondition } from '../controller/conditions.ts';
import type { GrantWriter } from '../controller/grants.ts';
import type { EventRecorder } from '../kube/events.ts';
import type { Logger } from '../log/logger.ts';
import type { Metrics } from '../metrics/metrics.ts';
import type { Clock } from '../runtime/clock.ts';
import { Informer } from '../runtime/informer.ts';
import { ExponentialRateLimiter, runWorkers, WorkQueue } from '../runtime/workqueue.ts';
import { ChannelError, Channels, type SecretReader } from './channels.ts';
import { emailSender } from './email.ts';
import { ChannelHealth, type ChannelState } from './health.ts';
import type { ActOn } from './message.ts';
import { Notifier } from './notifier.ts';
import { slackSender } from './slack.ts';
import { webhookSender } from './webhook.ts';

export interface NotificationsOptions {
  /** How people act on a request, for the commands and links in messages. */
  act?: ActOn;
  /** Slack's Web API base URL (another endpoint that answers like Slack, e.g. in tests). */
  slackApiUrl?: string;
  /** Concurrent deliveries (default 4). */
  workers?: number;
}

export interface NotificationsDeps {
  kubeConfig: KubeConfig;
  grants: Informer<AccessGrant>;
  policies: Informer<AccessPolicy>;
  /** The expires-at of each binding a grant (by UID) still holds, from the caches. */
  bindingExpiries(grantUid: string): number[];
  writer: GrantWriter;
  recorder: EventRecorder;
  /** The operator's namespace: the only one channel Secrets are read from. */
  namespace: string;
  clock: Clock;
  log: Logger;
  metrics: Pick<Metrics, 'notifications'>;
}

/** Pure: the earliest end of access a grant still holds, if any, for RevocationOverdue. */
export function heldUntil(grant: AccessGrant, bindingExpiries: number[]): number | undefined {
  const ends = bindingExpiries.filter((t) => !Number.isNaN(t));
  if (ends.length === 0) return undefined;
  const endedAt = Date.parse(grant.status?.endedAt ?? '');
  // A revoked grant's bindings carry its original expiry; access should have ended at once.
  if (isTerminal(grant.status?.phase) && !Number.isNaN(endedAt)) ends.push(endedAt);
  return Math.min(...ends);
}

/** Pure: a channel's Ready condition from how its deliveries went. */
export function readyCondition(state: ChannelState) {
  return {
    type: 'Ready',
    status: state.ready ? 'True' : 'False',
    reason: state.reason,
    message: state.message.slice(0, 1024),
  } as const;
}

function secretReader(kc: KubeConfig): SecretReader {
  const core = kc.makeApiClient(CoreV1Api);
  return async (namespace, name) => {
    const s = await core.readNamespacedSecret({ namespace, name });
    return Object.fromEntries(
      Object.entries(s.data ?? {}).map(([k, v]) => [k, Buffer.from(v, 'base64').toString('utf8')]),
    );
  };
}

/**
 * The notification controllers: a cache of NotificationChannels, the notifier's
 * queue (one key per grant) and a queue of channels whose status to write. Their
 * workers run on the leader only; failures are retried from 1 s up to 5 minutes
 * and never touch the grant lanes.
 */
export function notifications(deps: NotificationsDeps, opts: NotificationsOptions = {}) {
  const { kubeConfig, clock, log } = deps;
  const custom = kubeConfig.makeApiClient(CustomObjectsApi);
  const nlog = log.with({ controller: 'notifier' });
  const channels = new Informer<NotificationChannel>(
    'notificationchannels',
    kubeConfig,
    `/apis/${GROUP}/${VERSION}/${NOTIFICATION_CHANNEL.plural}`,
    async () =>
      (await custom.listClusterCustomObject({
        group: GROUP,
        version: VERSION,
        plural: NOTIFICATION_CHANNEL.plural,
      })) as KubernetesListObject<NotificationChannel>,
    { log, clock },
  );
  const queue = new WorkQueue({
    clock,
    name: 'notifier',
    rateLimiter: new ExponentialRateLimiter({ baseDelayMs: 1000, maxDelayMs: 5 * 60_000 }),
  });
  const channelQueue = new WorkQueue({ clock, name: 'notificationchannel' });
  const health = new ChannelHealth((name) => channelQueue.add(name));
  const resolver = new Channels({
    channels,
    readSecret: secretReader(kubeConfig),
    secretNamespace: deps.namespace,
    clock,
    factories: {
      slack: (cfg) => slackSender(cfg, opts.slackApiUrl ? { apiUrl: opts.slackApiUrl } : {}),
      email: (cfg) => emailSender(cfg),
      webhook: (cfg) => webhookSender(cfg),
    },
  });
  const notifier = new Notifier({
    grants: deps.grants,
    policies: deps.policies,
    channels: resolver,
    writer: deps.writer,
    heldUntil: (g) => heldUntil(g, deps.bindingExpiries(g.metadata.uid ?? '')),
    health,
    act: opts.act ?? { cli: 'timebox' },
    clock,
    log: nlog,
    metrics: deps.metrics,
  });

  const notifies = (g: AccessGrant) =>
    (deps.policies.get(g.spec.policy)?.spec.notify?.length ?? 0) > 0;
  const routeGrant = (g: AccessGrant) => {
    if (notifies(g)) queue.add(`${g.metadata.namespace}/${g.metadata.name}`);
  };
  deps.grants.on('add', routeGrant);
  deps.grants.on('update', routeGrant);
  const onPolicy = (p: AccessPolicy) => {
    for (const g of deps.grants.list()) if (g.spec.policy === p.metadata.name) routeGrant(g);
  };
  deps.policies.on('add', onPolicy);
  deps.policies.on('update', onPolicy);
  for (const verb of ['add', 'update'] as const) {
    channels.on(verb, (c) => channelQueue.add(c.metadata.name ?? ''));
  }

  /** Writes a channel's Ready condition when it changed, with an Event when it breaks. */
  const reconcileChannel = async (name: string): Promise<void> => {
    const ch = channels.get(name);
    if (!ch) return;
    let state = health.get(name);
    if (!state) {
      // Nothing delivered yet: say whether it could deliver at all.
      try {
        await resolver.sender(name);
        state = {
          ready: true,
          reason: 'Configured',
          message: 'its Secrets are readable',
          failures: 0,
        };
      } catch (err) {
        if (!(err instanceof ChannelError)) throw err;
        state = { ready: false, reason: err.reason, message: err.message, failures: 0 };
      }
    }
    const wanted = readyCondition(state);
    const have = ch.status?.conditions?.find((c) => c.type === 'Ready');
    if (have?.status === wanted.status && have.reason === wanted.reason) return;
    const conditions = setCondition(
      ch.status?.conditions,
      { ...wanted, observedGeneration: ch.metadata.generation ?? 0 },
      clock.now(),
    );
    await custom.patchClusterCustomObjectStatus(
      {
        group: GROUP,
        version: VERSION,
        plural: NOTIFICATION_CHANNEL.plural,
        name,
        body: { status: { conditions, observedGeneration: ch.metadata.generation ?? 0 } },
      },
      setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
    );
    if (!state.ready) {
      deps.recorder.record(
        {
          apiVersion: `${GROUP}/${VERSION}`,
          kind: NOTIFICATION_CHANNEL.kind,
          name,
          namespace: 'default',
          uid: ch.metadata.uid ?? '',
        },
        'Warning',
        state.reason,
        state.message,
      );
    }
  };

  let running: Promise<unknown> | undefined;
  return {
    informer: channels,
    queueDepths: () => ({ notifier: queue.len(), notificationchannel: channelQueue.len() }),
    /** Starts the workers (on becoming leader), and queues every grant once. */
    start(): void {
      for (const g of deps.grants.list()) routeGrant(g);
      for (const c of channels.list()) channelQueue.add(c.metadata.name ?? '');
      running = Promise.all([
        runWorkers(
          queue,
          opts.workers ?? 4,
          async (key) => {
            const r = await notifier.reconcile(key);
            if (r.requeueAfterMs !== undefined) queue.addAfter(key, r.requeueAfterMs);
          },
          (key, err) => nlog.warn('notifying failed; retrying', { grant: key, err }),
        ),
        runWorkers(channelQueue, 1, reconcileChannel, (name, err) =>
          nlog.warn('channel status failed; retrying', { channel: name, err }),
        ),
      ]);
    },
    async stop(): Promise<void> {
      queue.shutDown();
      channelQueue.shutDown();
      await running;
    },
  };
}
