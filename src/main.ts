import type { NotificationsOptions } from './notify/wiring.ts';
import { relative, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import type { KubeConfig } from '@kubernetes/client-node';
import type { WebhookOptions } from './admission/serve.ts';
import { createLogger, logOptions } from './log/logger.ts';
import { startOperator } from './operator.ts';
import { bindAddress, parseBindAddress, serveHealth, serveMetrics } from './metrics/server.ts';
import { runsSandbox, startRunEnvironment } from './sandbox/environment.ts';
import type { SandboxIssuer } from './sandbox/oidc.ts';
import type { RunningPortal } from './portal/server.ts';
import { connectWebhook, setUpSandbox, WEBHOOK_CONFIG, WEBHOOK_SECRET } from './sandbox/setup.ts';
import { DEMO_PEOPLE, demoInstructions, installDemo } from './sandbox/demo.ts';
import { startMailpitProcess, type MailpitProcess } from './sandbox/mailpit.ts';
import { parseProviders, PROVIDER_NAMES, providerFlags } from './providers/registry.ts';
import type { ActivityOptions } from './activity/wiring.ts';
import { prepareSandboxAudit, type SandboxAudit } from './sandbox/audit.ts';
import { systemClock } from './runtime/clock.ts';
import { parseDuration } from './api/v1alpha1/duration.ts';
import { onTerminationSignals, stopInSteps, type StopStep } from './runtime/shutdown.ts';
import { killAllProcesses, runningProcesses, stopInOrder } from './sandbox/process.ts';
import type { ClusterEnvironment } from './sandbox/environment.ts';

const SANDBOX_DIR = '.timebox/sandbox';
/** Everything stops within this (operator, portal, Mailpit, the control plane), or is SIGKILLed. */
const SHUTDOWN_MS = 6_000;
/** The operator's share: one waiting on a dead API server must not take the control plane's. */
const OPERATOR_STOP_MS = 3_000;
/** After the deadline, a last resort for anything in this process that still hangs. */
const BACKSTOP_MS = 2_000;

const USAGE = `Usage: timebox-operator [options]

Runs the Timebox operator against the cluster of the current kubeconfig
($KUBECONFIG or ~/.kube/config). Without one, or with --sandbox, it starts a local
control plane, installs the CRDs there and writes its kubeconfig to
${SANDBOX_DIR}/kubeconfig.

Options (each also read from the environment variable in brackets):
  --sandbox                      always use the local sandbox
  --namespace NAME               namespace of the leader-election Lease [TIMEBOX_NAMESPACE] (timebox-system)
  --leader-elect=false           run without leader election (a single replica only)
  --lease-duration SECONDS       [TIMEBOX_LEASE_DURATION] (15)
  --renew-deadline SECONDS       [TIMEBOX_RENEW_DEADLINE] (10)
  --retry-period SECONDS         [TIMEBOX_RETRY_PERIOD] (2)
  --workers N                    concurrent reconciles of grants being requested, approved or
                                 repaired [TIMEBOX_WORKERS] (16); a cloud's writes stay at 4 at a time
  --revoke-workers N             concurrent reconciles of grants whose access ends (expiry,
                                 revocation, deletion), a lane of their own that never waits
                                 behind new requests [TIMEBOX_REVOKE_WORKERS] (16)
  --resync-period SECONDS        how often grants are reconciled again, repairing access removed
                                 in a cloud by hand [TIMEBOX_RESYNC_PERIOD] (600)
  --ended-grant-retention DURATION  delete grants this long after they ended (Expired, Revoked,
                                 Denied, Failed), with their approvals, e.g. 720h; 0 or empty
                                 keeps them [TIMEBOX_ENDED_GRANT_RETENTION] (off). A grant
                                 annotated timebox.dev/retain: "true" is kept
  --metrics-bind-address ADDR    /metrics: host:port, :port or 0 to disable (:8080; in a
                                 sandbox 127.0.0.1:8080, loopback only)
  --health-probe-bind-address ADDR  /healthz and /readyz (:8081; in a sandbox 127.0.0.1:8081)
  --log-level debug|info|warn|error   [TIMEBOX_LOG_LEVEL] (info)
  --log-format json|text         JSON lines, or one line of text per record
                                 [TIMEBOX_LOG_FORMAT] (text on a terminal, else json)
  --providers LIST               providers besides kubernetes, comma-separated: ${PROVIDER_NAMES.filter((n) => n !== 'kubernetes').join(', ')}
                                 [TIMEBOX_PROVIDERS] (none). Each takes its credentials from its
                                 cloud's default chain (workload identity); see docs/providers.md
${providerFlags()
  .map((f) => {
    const lines = `${f.help} [${f.env}]`.split('\n');
    const flag = `--${f.name} ${f.value}`.padEnd(31);
    return [`  ${flag}${lines[0]}`, ...lines.slice(1).map((l) => `${' '.repeat(33)}${l}`)].join(
      '\n',
    );
  })
  .join('\n')}
  --webhook-bind-address ADDR    the identity webhook (HTTPS): host:port, :port or 0 to disable (:9443)
  --webhook-cert-dir DIR         serve tls.crt/tls.key from DIR (e.g. cert-manager's Secret, reloaded
                                 when it rotates); without it the operator keeps its own CA in the
                                 Secret --webhook-secret and injects it into --webhook-config
  --webhook-service NAME         the webhook's Service, for the certificate's DNS names (timebox-webhook)
  --webhook-hosts LIST           the self-managed certificate's DNS names and IPs, comma-separated
                                 (default: the Service's <name>.<namespace>.svc names)
  --webhook-config NAME          the MutatingWebhookConfiguration to keep the caBundle of (${WEBHOOK_CONFIG})
  --webhook-secret NAME          the Secret, in --namespace, for the self-managed CA (${WEBHOOK_SECRET})
  --audit-webhook-bind-address ADDR  serve the API server's audit webhook backend (HTTPS) for grant
                                 activity: host:port or :port (off; in a sandbox, on, configured)
  --audit-webhook-cert-dir DIR   its tls.crt and tls.key
  --audit-webhook-token-file FILE  the bearer token the API server's audit webhook kubeconfig presents;
                                 posts without it are refused
  --audit-log-path FILE          follow an API server's JSON audit log instead (or as well)
  --audit-cloudwatch-log-group NAME  or read it from CloudWatch Logs (EKS: /aws/eks/CLUSTER/cluster,
                                 streams kube-apiserver-audit-*), the leader alone; region and
                                 credentials from the AWS SDK's default chain
                                 [TIMEBOX_AUDIT_CLOUDWATCH_LOG_GROUP]
  --audit-cloudwatch-region REGION  the log group's region [TIMEBOX_AUDIT_CLOUDWATCH_REGION]
                                 (the SDK's default chain: AWS_REGION, ...)
  --audit-cloudwatch-poll-interval SECONDS  how often it asks for new events
                                 [TIMEBOX_AUDIT_CLOUDWATCH_POLL_INTERVAL] (10)
  --activity-flush-interval SECONDS  how often each grant's AccessActivity is written
                                 [TIMEBOX_ACTIVITY_FLUSH_INTERVAL] (30)
  --cli-name NAME                how messages tell people to approve: NAME approve ... [TIMEBOX_CLI_NAME] (timebox)
  --portal-url URL               the self-service portal, linked from notifications [TIMEBOX_PORTAL_URL]
  --slack-api-url URL            Slack's Web API base URL [TIMEBOX_SLACK_API_URL] (https://slack.com/api/)
  --slack-bind-address ADDR      Slack's button clicks and /timebox (HTTP, behind your ingress):
                                 host:port, :port, or 0 to disable (0)
  --slack-secret NAME            Secret in --namespace with the Slack app's signing-secret (timebox-slack)
  --slack-users NAME             ConfigMap in --namespace mapping Slack user IDs to people, key
                                 users.yaml (timebox-slack-users)
  --slack-team-id ID             take decisions from this Slack workspace only
  -h, --help`;

function notificationOptions(
  values: Record<string, unknown>,
  env: NodeJS.ProcessEnv,
): NotificationsOptions {
  const pick = (flag: string, name: string) =>
    (values[flag] as string | undefined) ?? env[name] ?? undefined;
  const portalUrl = pick('portal-url', 'TIMEBOX_PORTAL_URL');
  const slackApiUrl = pick('slack-api-url', 'TIMEBOX_SLACK_API_URL');
  return {
    act: {
      cli: pick('cli-name', 'TIMEBOX_CLI_NAME') ?? 'timebox',
      ...(portalUrl ? { portalUrl } : {}),
    },
    ...(slackApiUrl ? { slackApiUrl } : {}),
  };
}

/** Where grant activity comes from: flags, or in a sandbox the webhook it was started with. */
function activityOptions(
  values: Record<string, unknown>,
  env: NodeJS.ProcessEnv,
  sandbox: SandboxAudit | undefined,
): ActivityOptions | undefined {
  const flushIntervalMs = seconds(
    (values['activity-flush-interval'] as string | undefined) ??
      env.TIMEBOX_ACTIVITY_FLUSH_INTERVAL,
    '--activity-flush-interval',
  );
  const given = values['audit-webhook-bind-address'] as string | undefined;
  const addr = given ? parseBindAddress(given, '--audit-webhook-bind-address') : undefined;
  let webhook: ActivityOptions['webhook'];
  if (addr) {
    const certDir = values['audit-webhook-cert-dir'] as string | undefined;
    const tokenFile = values['audit-webhook-token-file'] as string | undefined;
    if (!certDir || !tokenFile) {
      throw new Error(
        "--audit-webhook-bind-address needs --audit-webhook-cert-dir (tls.crt, tls.key) and --audit-webhook-token-file (the token in the API server's audit webhook kubeconfig)",
      );
    }
    webhook = { host: addr.host, port: addr.port, certDir, tokenFile };
  } else if (sandbox) {
    webhook = {
      host: '127.0.0.1',
      port: sandbox.port,
      certDir: sandbox.certDir,
      tokenFile: sandbox.tokenFile,
    };
  }
  const logFile = values['audit-log-path'] as string | undefined;
  const cloudWatchLogs = cloudWatchOptions(values, env);
  if (!webhook && !logFile && !cloudWatchLogs) return undefined;
  return {
    ...(webhook ? { webhook } : {}),
    ...(logFile ? { logFile } : {}),
    ...(cloudWatchLogs ? { cloudWatchLogs } : {}),
    ...(flushIntervalMs ? { flushIntervalMs } : {}),
  };
}

/** CloudWatch Logs' own rule for log group names. */
const LOG_GROUP = /^[\w./#-]{1,512}$/;
const REGION = /^[a-z]{2}(-[a-z]+)+-\d+$/;

function cloudWatchOptions(
  values: Record<string, unknown>,
  env: NodeJS.ProcessEnv,
): ActivityOptions['cloudWatchLogs'] {
  const logGroup =
    (values['audit-cloudwatch-log-group'] as string | undefined) ??
    env.TIMEBOX_AUDIT_CLOUDWATCH_LOG_GROUP;
  const pollIntervalMs = seconds(
    (values['audit-cloudwatch-poll-interval'] as string | undefined) ??
      env.TIMEBOX_AUDIT_CLOUDWATCH_POLL_INTERVAL,
    '--audit-cloudwatch-poll-interval',
  );
  const region =
    (values['audit-cloudwatch-region'] as string | undefined) ??
    env.TIMEBOX_AUDIT_CLOUDWATCH_REGION;
  if (!logGroup) return undefined;
  if (region && !REGION.test(region))
    throw new Error(
      `--audit-cloudwatch-region must be an AWS region such as us-east-1; got '${region}'`,
    );
  if (!LOG_GROUP.test(logGroup))
    throw new Error(
      `--audit-cloudwatch-log-group must be a CloudWatch Logs log group name (letters, digits, and . _ - / #), such as /aws/eks/CLUSTER/cluster; got '${logGroup}'`,
    );
  return {
    logGroup,
    ...(region ? { region } : {}),
    ...(pollIntervalMs ? { pollIntervalMs } : {}),
  };
}

function seconds(v: string | undefined, flag: string): number | undefined {
  if (v === undefined || v === '') return undefined;
  const n = Number(v);
  if (!Number.isFinite(n) || n <= 0)
    throw new Error(`${flag} must be a positive number of seconds, got '${v}'`);
  return n * 1000;
}

/** --ended-grant-retention: a duration, or 0 or nothing for off. */
function retention(v: string | undefined): number | undefined {
  if (v === undefined || v === '' || v === '0') return undefined;
  try {
    return parseDuration(v) || undefined;
  } catch {
    throw new Error(
      `--ended-grant-retention must be a duration such as 720h (30 days), 24h or 90m, or 0 to keep ended grants; got '${v}'`,
    );
  }
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      sandbox: { type: 'boolean', default: false },
      namespace: { type: 'string' },
      'leader-elect': { type: 'string' },
      'lease-duration': { type: 'string' },
      'renew-deadline': { type: 'string' },
      'retry-period': { type: 'string' },
      workers: { type: 'string' },
      'revoke-workers': { type: 'string' },
      'resync-period': { type: 'string' },
      'ended-grant-retention': { type: 'string' },
      'metrics-bind-address': { type: 'string' },
      'health-probe-bind-address': { type: 'string' },
      'log-level': { type: 'string' },
      'log-format': { type: 'string' },
      providers: { type: 'string' },
      ...Object.fromEntries(providerFlags().map((f) => [f.name, { type: 'string' as const }])),
      'webhook-bind-address': { type: 'string' },
      'cli-name': { type: 'string' },
      'portal-url': { type: 'string' },
      'slack-api-url': { type: 'string' },
      'slack-bind-address': { type: 'string' },
      'slack-secret': { type: 'string' },
      'slack-users': { type: 'string' },
      'slack-team-id': { type: 'string' },
      'webhook-cert-dir': { type: 'string' },
      'webhook-service': { type: 'string' },
      'webhook-hosts': { type: 'string' },
      'webhook-config': { type: 'string' },
      'webhook-secret': { type: 'string' },
      'audit-webhook-bind-address': { type: 'string' },
      'audit-webhook-cert-dir': { type: 'string' },
      'audit-webhook-token-file': { type: 'string' },
      'audit-log-path': { type: 'string' },
      'audit-cloudwatch-log-group': { type: 'string' },
      'audit-cloudwatch-region': { type: 'string' },
      'audit-cloudwatch-poll-interval': { type: 'string' },
      'activity-flush-interval': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    console.log(USAGE);
    return;
  }
  const env = process.env;
  const log = createLogger(
    logOptions(
      values['log-level'] ?? env.TIMEBOX_LOG_LEVEL,
      values['log-format'] ?? env.TIMEBOX_LOG_FORMAT,
    ),
  );
  const parts: Parts = {};
  let stopped: Promise<void> | undefined;
  const stopAll = () =>
    (stopped ??= stopInSteps(stopSteps(parts), Date.now() + SHUTDOWN_MS, systemClock, log));
  let signalled = false;
  const shutdown = async (reason: string, code = 0): Promise<void> => {
    if (signalled) {
      // A second Ctrl-C: the operator asked twice, so stop waiting.
      log.warn('stopping at once', { signal: reason });
      killAllProcesses();
      process.exit(code || 130);
    }
    signalled = true;
    log.info('shutting down', { signal: reason });
    setTimeout(() => {
      log.error(`still stopping after ${SHUTDOWN_MS + BACKSTOP_MS} ms; killing what is left`);
      killAllProcesses();
      process.exit(code || 1);
    }, SHUTDOWN_MS + BACKSTOP_MS).unref();
    await stopAll();
    process.exit(code);
  };
  // Installed before anything starts: the sandbox's processes run in process
  // groups of their own, so no signal reaches them but through this.
  onTerminationSignals((signal) => void shutdown(signal));
  const namespace = values.namespace ?? env.TIMEBOX_NAMESPACE ?? 'timebox-system';
  const workers = Number(values.workers ?? env.TIMEBOX_WORKERS ?? 16);
  if (!Number.isInteger(workers) || workers < 1)
    throw new Error(`--workers must be a positive integer`);
  const revokeWorkers = Number(values['revoke-workers'] ?? env.TIMEBOX_REVOKE_WORKERS ?? 16);
  if (!Number.isInteger(revokeWorkers) || revokeWorkers < 1)
    throw new Error(`--revoke-workers must be a positive integer`);
  const leaderElect = (values['leader-elect'] ?? 'true') !== 'false';
  const endedGrantRetentionMs = retention(
    values['ended-grant-retention'] ?? env.TIMEBOX_ENDED_GRANT_RETENTION,
  );
  // Checked now, so a mistake is told before a sandbox starts; where to bind by
  // default depends on whether one does (bindAddress).
  for (const flag of ['metrics-bind-address', 'health-probe-bind-address'] as const) {
    const given = values[flag];
    if (given !== undefined) parseBindAddress(given, `--${flag}`);
  }
  const providers = parseProviders(values.providers ?? env.TIMEBOX_PROVIDERS ?? '');
  const flags: Record<string, string | undefined> = Object.fromEntries(
    providerFlags().map((f) => [
      f.name,
      ((values as Record<string, unknown>)[f.name] as string | undefined) ?? env[f.env],
    ]),
  );
  const timing = {
    leaseDurationMs: seconds(
      values['lease-duration'] ?? env.TIMEBOX_LEASE_DURATION,
      '--lease-duration',
    ),
    renewDeadlineMs: seconds(
      values['renew-deadline'] ?? env.TIMEBOX_RENEW_DEADLINE,
      '--renew-deadline',
    ),
    retryPeriodMs: seconds(values['retry-period'] ?? env.TIMEBOX_RETRY_PERIOD, '--retry-period'),
    resyncPeriodMs: seconds(
      values['resync-period'] ?? env.TIMEBOX_RESYNC_PERIOD,
      '--resync-period',
    ),
  };

  const slackAddr = parseBindAddress(values['slack-bind-address'] ?? '0', '--slack-bind-address');
  const webhookAddr = parseBindAddress(
    values['webhook-bind-address'] ?? ':9443',
    '--webhook-bind-address',
  );

  // A sandbox's API server trusts its own OpenID Connect issuer (the portal's
  // sign-in), which must run before it: the API server reads it at start.
  const signIn = runsSandbox(values.sandbox)
    ? await (
        await import('./sandbox/oidc.ts')
      ).startSandboxSignIn(resolve(SANDBOX_DIR), (m) => log.debug(m))
    : undefined;
  const issuer: SandboxIssuer | undefined = signIn?.issuer;
  // A sandbox's API server sends its audit events to the operator: the files it
  // reads at start are made first.
  const sandboxAudit = runsSandbox(values.sandbox)
    ? await prepareSandboxAudit(resolve(SANDBOX_DIR))
    : undefined;
  parts.issuer = issuer;
  const failed = async (err: unknown): Promise<never> => {
    await stopAll();
    // Stopping for a signal fails what was still starting: shutdown() exits, not this.
    if (signalled) await new Promise(() => {});
    throw err;
  };
  const cluster = await startRunEnvironment(resolve(SANDBOX_DIR), {
    log: (msg) => log.info(msg),
    forceSandbox: values.sandbox,
    people: DEMO_PEOPLE,
    detached: true,
    ...(signIn ? { oidc: signIn.oidc } : {}),
    ...(sandboxAudit ? { auditWebhook: sandboxAudit } : {}),
  }).catch(failed);
  parts.cluster = cluster;
  let mailpit: MailpitProcess | undefined;
  let portal: RunningPortal | undefined;
  const sandboxed = cluster.kind === 'sandbox' && cluster.kubeconfigPath !== undefined;
  let operatorConfig: KubeConfig = cluster.admin();
  try {
    if (sandboxed && cluster.kubeconfigPath) {
      // The operator runs as its shipped service account, not as the sandbox admin.
      operatorConfig = await setUpSandbox(cluster.admin());
      // A real SMTP server with a web UI, so a newcomer sees the notifications.
      mailpit = await startMailpitProcess({
        dir: resolve(SANDBOX_DIR),
        // Loopback only, and it takes any login: nothing to protect over plain SMTP.
        args: ['--smtp-auth-allow-insecure'],
        detached: true,
        log: (msg) => log.info(msg),
      }).catch((err: unknown) => {
        log.warn('no Mailpit: the demo channel will not deliver', { err });
        return undefined;
      });
      parts.mailpit = mailpit;
      await installDemo(cluster.admin(), mailpit?.smtpPort);
      if (issuer) {
        // The self-service portal, as the demo people sign in to it.
        const { startSandboxPortal } = await import('./sandbox/portal.ts');
        portal = await startSandboxPortal(resolve(SANDBOX_DIR), issuer, cluster.admin(), log);
        parts.portal = portal;
      }
      log.info('the operator runs as its service account, with the RBAC of config/rbac', {
        user: 'system:serviceaccount:timebox-system:timebox-controller',
      });
      const path = relative(process.cwd(), cluster.kubeconfigPath) || cluster.kubeconfigPath;
      console.log(
        values.sandbox
          ? 'Started a local sandbox control plane (--sandbox).'
          : 'No kubeconfig found: started a local sandbox control plane.',
      );
      console.log(`Sandbox kubeconfig: ${path}`);
      console.log(`  export KUBECONFIG=${cluster.kubeconfigPath}`);
    } else {
      log.info(
        cluster.kind === 'in-cluster'
          ? 'using the in-cluster service account'
          : 'using the current kubeconfig',
        {
          kubeconfig: cluster.kubeconfigPath,
        },
      );
    }
  } catch (err) {
    await failed(err);
  }

  const service = values['webhook-service'] ?? 'timebox-webhook';
  const webhook: WebhookOptions | undefined = webhookAddr && {
    // A sandbox's API server reaches the operator on loopback.
    host: sandboxed ? '127.0.0.1' : webhookAddr.host,
    port: webhookAddr.port,
    tls: values['webhook-cert-dir']
      ? { certDir: values['webhook-cert-dir'] }
      : {
          secretNamespace: namespace,
          secretName: values['webhook-secret'] ?? WEBHOOK_SECRET,
          configName: values['webhook-config'] ?? WEBHOOK_CONFIG,
          hosts: values['webhook-hosts']
            ? values['webhook-hosts']
                .split(',')
                .map((h) => h.trim())
                .filter(Boolean)
            : sandboxed
              ? ['127.0.0.1', 'localhost']
              : [`${service}.${namespace}.svc`, `${service}.${namespace}.svc.cluster.local`],
        },
  };

  const activity = activityOptions(values, env, sandboxed ? sandboxAudit : undefined);

  const notify = notificationOptions(values, env);
  // Notifications link to the sandbox's portal unless told of another.
  if (portal && notify.act && !notify.act.portalUrl)
    notify.act = { ...notify.act, portalUrl: portal.url };
  let operator: Awaited<ReturnType<typeof startOperator>> | undefined;
  try {
    operator = await startOperator(operatorConfig, log, {
      namespace,
      leaderElection: leaderElect,
      workers,
      revokeWorkers,
      providers,
      providerFlags: flags,
      ...(endedGrantRetentionMs ? { endedGrantRetentionMs } : {}),
      ...Object.fromEntries(Object.entries(timing).filter(([, v]) => v !== undefined)),
      onLostLeadership: () => void shutdown('lost leadership', 1),
      ...(webhook ? { webhook } : {}),
      ...(activity ? { activity } : {}),
      notifications: notify,
      ...(slackAddr
        ? {
            slack: {
              host: slackAddr.host,
              port: slackAddr.port,
              namespace,
              secretName: values['slack-secret'] ?? 'timebox-slack',
              usersConfigMap: values['slack-users'] ?? 'timebox-slack-users',
              ...(values['slack-team-id'] ? { teamId: values['slack-team-id'] } : {}),
              ...(notify.slackApiUrl ? { apiUrl: notify.slackApiUrl } : {}),
              act: notify.act!,
            },
          }
        : {}),
    });
    parts.operator = operator;
    if (sandboxed && operator.webhookPort)
      await connectWebhook(cluster.admin(), operator.webhookPort);
    if (sandboxed) {
      console.log(
        demoInstructions(
          resolve(SANDBOX_DIR),
          process.cwd(),
          mailpit?.webUrl,
          portal && issuer ? { url: portal.url, people: issuer.people } : undefined,
        ),
      );
    }
  } catch (err) {
    await failed(err);
  }
  const op = operator!;
  const metricsAddr = bindAddress(
    values['metrics-bind-address'],
    8080,
    '--metrics-bind-address',
    sandboxed,
  );
  const healthAddr = bindAddress(
    values['health-probe-bind-address'],
    8081,
    '--health-probe-bind-address',
    sandboxed,
  );
  try {
    if (metricsAddr) await serveMetrics(op.metrics.registry, metricsAddr.host, metricsAddr.port);
    if (healthAddr) await serveHealth(() => op.ready(), healthAddr.host, healthAddr.port);
  } catch (err) {
    await failed(
      new Error(`cannot serve metrics or health probes: ${(err as Error).message}`, {
        cause: err,
      }),
    );
  }
  log.info('operator started', {
    identity: op.identity,
    metrics: metricsAddr ? `http://${metricsAddr.host}:${metricsAddr.port}/metrics` : 'off',
    health: healthAddr ? `${healthAddr.host}:${healthAddr.port}` : 'off',
    namespace,
    leaderElection: leaderElect,
    providers: providers.join(','),
  });
  // Keep the event loop alive until a signal arrives.
  setInterval(() => {}, 1 << 30);
}

/** What main has started, filled in as it starts, so a signal at any moment stops just that. */
interface Parts {
  issuer?: SandboxIssuer;
  cluster?: ClusterEnvironment;
  mailpit?: MailpitProcess;
  portal?: RunningPortal;
  operator?: { stop(): Promise<void> };
}

/**
 * The order things stop in: the operator first (a client of the API server),
 * then what serves people, then the control plane, last started first. The last
 * step ends any child the others did not know of yet (one mid-start when the
 * signal came).
 */
function stopSteps(parts: Parts): StopStep[] {
  return [
    { name: 'operator', budgetMs: OPERATOR_STOP_MS, stop: () => parts.operator?.stop() },
    { name: 'portal', budgetMs: 1_000, stop: () => parts.portal?.stop() },
    { name: 'Mailpit', budgetMs: 2_000, stop: (ms) => parts.mailpit?.stop(ms) },
    { name: 'control plane', stop: (ms) => parts.cluster?.stop(ms) },
    { name: 'OIDC issuer', budgetMs: 1_000, stop: () => parts.issuer?.stop() },
    {
      name: 'child processes',
      stop: (ms) => stopInOrder(runningProcesses(), Date.now() + ms),
    },
  ];
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  if (err instanceof TypeError && /Unknown option|Unexpected argument/i.test(String(err)))
    console.error(USAGE);
  process.exit(1);
});
