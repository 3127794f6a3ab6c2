import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { parseAllDocuments, stringify } from 'yaml';
import { chartCopies } from '../../hack/chart-files.ts';
import { REPO_ROOT } from '../../src/kube/manifests.ts';
import type { ClusterEnvironment } from '../../src/sandbox/environment.ts';
import { CLUSTER_START_TIMEOUT_MS, testCluster } from '../support/cluster.ts';
import {
  createNamespace,
  grant,
  grantsApi,
  installTimebox,
  kubeconfigAs,
  OperatorProcess,
  waitForPhase,
} from '../support/timebox.ts';
import { eventually } from '../support/wait.ts';

const run = promisify(execFile);
const CHART = join(REPO_ROOT, 'charts', 'timebox');

interface K8sObject {
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string> };
  spec?: Record<string, unknown>;
  rules?: {
    apiGroups?: string[];
    resources?: string[];
    verbs?: string[];
    resourceNames?: string[];
  }[];
}

describe('Helm chart', function () {
  this.timeout(120_000);
  let helm: string;

  before(async function () {
    this.timeout(CLUSTER_START_TIMEOUT_MS);
    // helm is built from the Go module proxy once and cached (hack/install-helm.sh).
    helm = (await run('bash', [join(REPO_ROOT, 'hack', 'install-helm.sh')])).stdout.trim();
  });

  // The values the portal cannot run without, and helm's flags to turn it on.
  const required = {
    'portal.publicUrl': 'https://timebox.example.com/',
    'portal.oidc.issuerUrl': 'https://login.example.com',
    'portal.oidc.clientId': 'timebox-portal',
  };
  const on = (...more: string[]) => [
    '--set',
    'portal.enabled=true',
    ...Object.entries(required).flatMap(([k, v]) => ['--set', `${k}=${v}`]),
    ...more,
  ];

  async function template(...args: string[]): Promise<K8sObject[]> {
    const { stdout } = await run(helm, [
      'template',
      'tb',
      CHART,
      '--namespace',
      'timebox-system',
      '--kube-version',
      '1.35.4',
      ...args,
    ]);
    return parseAllDocuments(stdout)
      .map((d) => d.toJS() as K8sObject)
      .filter(Boolean);
  }

  it('passes helm lint --strict', async () => {
    const { stdout } = await run(helm, ['lint', '--strict', CHART]);
    assert.match(stdout, /1 chart\(s\) linted, 0 chart\(s\) failed/);
  });

  it('renders two replicas, non-root and read-only, with a PDB and a NetworkPolicy', async () => {
    const objs = await template();
    const deploy = objs.find((o) => o.kind === 'Deployment')!;
    const pod = deploy.spec as { replicas: number; template: { spec: Record<string, unknown> } };
    assert.equal(pod.replicas, 2);
    const podSpec = pod.template.spec as {
      securityContext: { runAsNonRoot: boolean };
      containers: {
        securityContext: {
          readOnlyRootFilesystem: boolean;
          allowPrivilegeEscalation: boolean;
          capabilities: { drop: string[] };
        };
        args: string[];
      }[];
    };
    assert.equal(podSpec.securityContext.runAsNonRoot, true);
    const c = podSpec.containers[0]!;
    assert.deepEqual(
      [
        c.securityContext.readOnlyRootFilesystem,
        c.securityContext.allowPrivilegeEscalation,
        c.securityContext.capabilities.drop,
      ],
      [true, false, ['ALL']],
    );
    assert.ok(c.args.includes('--namespace=timebox-system'));
    assert.ok(objs.some((o) => o.kind === 'PodDisruptionBudget'));
    assert.ok(objs.some((o) => o.kind === 'NetworkPolicy'));
    assert.deepEqual(
      objs
        .filter((o) => o.kind === 'ValidatingAdmissionPolicy')
        .map((o) => o.metadata.name)
        .sort(),
      [
        'timebox-approval-identity',
        'timebox-approval-withdrawal',
        'timebox-grant-changes',
        'timebox-grant-identity',
        'timebox-operator-bindings',
        'timebox-operator-webhook',
      ],
    );
    assert.ok(
      !objs.some((o) => o.kind === 'ServiceMonitor' || o.kind === 'PrometheusRule'),
      'monitoring is opt-in',
    );
  });

  it("sizes V8's old generation from the container's memory limit", async () => {
    const nodeOptions = async (...set: string[]) => {
      const deploy = (await template(...set.flatMap((s) => ['--set', s]))).find(
        (o) => o.kind === 'Deployment' && !o.metadata.name.includes('portal'),
      ) as unknown as {
        spec: { template: { spec: { containers: { env?: { name: string; value: string }[] }[] } } };
      };
      return deploy.spec.template.spec.containers[0]!.env?.find((e) => e.name === 'NODE_OPTIONS')
        ?.value;
    };
    assert.equal(await nodeOptions(), '--max-old-space-size=256', 'half of the default 512Mi');
    assert.equal(await nodeOptions('resources.limits.memory=1Gi'), '--max-old-space-size=512');
    assert.equal(
      await nodeOptions('resources.limits.memory=600M', 'nodejs.maxOldSpacePercent=75'),
      '--max-old-space-size=429',
    );
    assert.equal(await nodeOptions('nodejs.maxOldSpacePercent=0'), undefined);
    assert.equal(await nodeOptions('resources.limits.memory=null'), undefined, 'no limit');
  });

  it('lets the controller bind only the roles listed in values', async () => {
    const objs = await template(
      '--set',
      'rbac.bindableClusterRoles={view}',
      '--set',
      'rbac.bindableRoles={deployer}',
    );
    const role = objs.find(
      (o) => o.kind === 'ClusterRole' && o.metadata.name === 'tb-timebox-controller',
    )!;
    const binds = role.rules!.filter((r) => r.verbs?.includes('bind'));
    assert.deepEqual(
      binds.map((r) => [r.resources, r.resourceNames]),
      [
        [['clusterroles'], ['view']],
        [['roles'], ['deployer']],
      ],
    );
    assert.ok(
      !role.rules!.some((r) => r.verbs?.includes('*') || r.resources?.includes('*')),
      'no wildcards',
    );
  });

  it('adds the ServiceMonitor and PrometheusRule on request, and the trusted GitOps identities', async () => {
    const objs = await template(
      '--set',
      'metrics.serviceMonitor.enabled=true',
      '--set',
      'prometheusRule.enabled=true',
      '--set',
      'gitops.trustedIdentities={system:serviceaccount:flux-system:kustomize-controller}',
    );
    assert.ok(objs.some((o) => o.kind === 'ServiceMonitor'));
    const rule = objs.find((o) => o.kind === 'PrometheusRule')!;
    const alerts = (rule.spec as { groups: { rules: { alert: string }[] }[] }).groups[0]!.rules.map(
      (r) => r.alert,
    );
    assert.ok(alerts.includes('TimeboxRevocationOverdue'));
    for (const name of ['timebox-grant-identity', 'timebox-grant-changes']) {
      const vap = objs.find(
        (o) => o.metadata.name === name && o.kind === 'ValidatingAdmissionPolicy',
      )!;
      const trusted = (
        vap.spec as { variables: { name: string; expression: string }[] }
      ).variables.find((v) => v.name === 'trusted');
      assert.equal(
        trusted?.expression,
        "['system:serviceaccount:flux-system:kustomize-controller']",
        name,
      );
    }
  });

  it("ships the Grafana dashboard for Grafana's sidecar only on request, with its label", async () => {
    type ConfigMap = K8sObject & {
      metadata: { annotations?: Record<string, string> };
      data: Record<string, string>;
    };
    const dashboards = async (...set: string[]) =>
      (await template(...set.flatMap((s) => ['--set', s]))).filter(
        (o): o is ConfigMap => o.kind === 'ConfigMap' && o.metadata.name.endsWith('-dashboard'),
      );
    assert.deepEqual(await dashboards(), [], 'off by default');

    const [cm, ...more] = await dashboards('grafana.dashboards.enabled=true');
    assert.equal(more.length, 0);
    assert.equal(cm!.metadata.namespace, 'timebox-system');
    assert.equal(cm!.metadata.labels?.grafana_dashboard, '1', "the sidecar's default label");
    assert.equal(cm!.metadata.labels?.['app.kubernetes.io/name'], 'timebox');
    assert.equal(
      cm!.data['timebox-dashboard.json'],
      readFileSync(join(REPO_ROOT, 'config', 'grafana', 'timebox-dashboard.json'), 'utf8').trim(),
      'the dashboard of config/grafana, as is',
    );

    const [custom] = await dashboards(
      'grafana.dashboards.enabled=true',
      'grafana.dashboards.namespace=monitoring',
      'grafana.dashboards.label=example.com/dashboard',
      'grafana.dashboards.labelValue=timebox',
      'grafana.dashboards.annotations.grafana_folder=Access',
    );
    assert.equal(custom!.metadata.namespace, 'monitoring');
    assert.equal(custom!.metadata.labels?.['example.com/dashboard'], 'timebox');
    assert.equal(custom!.metadata.labels?.grafana_dashboard, undefined);
    assert.deepEqual(custom!.metadata.annotations, { grafana_folder: 'Access' });

    await assert.rejects(
      dashboards('grafana.dashboards.enabled=true', 'grafana.dashboards.label=not a label'),
      /grafana\/dashboards\/label/,
    );
  });

  it('turns on the cloud providers the values ask for, and only those', async () => {
    const container = async (...args: string[]) => {
      const d = (await template(...args)).find((o) => o.kind === 'Deployment')!;
      return (
        d.spec as {
          template: { spec: { containers: { args: string[]; env?: { name: string }[] }[] } };
        }
      ).template.spec.containers[0]!;
    };
    const off = await container();
    assert.ok(!off.args.some((a) => a.startsWith('--providers')), 'Kubernetes only by default');
    const on = await container(
      '--set',
      'providers.aws.enabled=true',
      '--set',
      'providers.gcp.enabled=true',
      '--set',
      'providers.gcp.endpoint=https://psc.example.com',
    );
    assert.ok(on.args.includes('--providers=aws,gcp'));
    assert.ok(on.args.includes('--gcp-endpoint=https://psc.example.com'));
    assert.deepEqual(
      on.env?.map((e) => e.name),
      ['NODE_OPTIONS', 'AWS_REGION'],
    );
    await assert.rejects(
      template('--set', 'providers.aws.region=nowhere'),
      /providers\/aws\/region.*does not match pattern/s,
    );
  });

  it('takes grant activity from the audit webhook, an audit log, CloudWatch Logs or CloudTrail files, only when asked', async () => {
    type Pod = {
      containers: {
        args: string[];
        ports: { name: string; containerPort: number }[];
        volumeMounts?: { name: string; mountPath: string; readOnly?: boolean }[];
      }[];
      volumes?: (Record<string, unknown> & { name: string })[];
    };
    const render = async (...set: string[]) => {
      const objects = await template(...set);
      const pod = (
        objects.find((o) => o.kind === 'Deployment')!.spec as { template: { spec: Pod } }
      ).template.spec;
      return { objects, pod, c: pod.containers[0]! };
    };
    const off = await render();
    assert.ok(!off.c.args.some((a) => /audit|activity|cloudtrail/.test(a)), 'off by default');
    assert.ok(!off.objects.some((o) => o.metadata.name === 'tb-timebox-audit'));

    const hook = [
      '--set',
      'activity.auditWebhook.enabled=true',
      '--set',
      'activity.auditWebhook.tlsSecretName=audit-tls',
      '--set',
      'activity.auditWebhook.tokenSecretName=audit-token',
    ];
    const on = await render(
      ...hook,
      '--set',
      'activity.auditWebhook.service.type=NodePort',
      '--set',
      'activity.auditWebhook.service.nodePort=30444',
      '--set',
      'activity.flushInterval=10',
    );
    for (const arg of [
      '--activity-flush-interval=10',
      '--audit-webhook-bind-address=:9444',
      '--audit-webhook-cert-dir=/etc/timebox/audit-webhook',
      '--audit-webhook-token-file=/etc/timebox/audit-token/token',
    ])
      assert.ok(on.c.args.includes(arg), `${arg} in ${on.c.args.join(' ')}`);
    assert.ok(on.c.ports.some((p) => p.name === 'audit-webhook' && p.containerPort === 9444));
    assert.deepEqual(
      on.pod.volumes?.map((v) => `${v.name} ${JSON.stringify(v.secret)}`),
      ['audit-webhook-tls {"secretName":"audit-tls"}', 'audit-token {"secretName":"audit-token"}'],
    );
    assert.ok(on.c.volumeMounts?.every((m) => m.readOnly));
    const svc = on.objects.find(
      (o) => o.kind === 'Service' && o.metadata.name === 'tb-timebox-audit',
    )!;
    assert.deepEqual(svc.spec?.ports, [
      { name: 'audit-webhook', port: 443, targetPort: 'audit-webhook', nodePort: 30444 },
    ]);
    assert.equal(svc.spec?.type, 'NodePort');
    const np = on.objects.find((o) => o.kind === 'NetworkPolicy')!;
    assert.ok(JSON.stringify(np.spec).includes('{"port":9444,"protocol":"TCP"}'));
    for (const missing of ['tlsSecretName', 'tokenSecretName'])
      await assert.rejects(
        template(...hook, '--set', `activity.auditWebhook.${missing}=`),
        new RegExp(
          `activity\\.auditWebhook\\.${missing} is required with activity\\.auditWebhook\\.enabled`,
        ),
      );

    const log = await render(
      '--set',
      'activity.auditLog.enabled=true',
      '--set',
      'activity.auditLog.path=/var/log/kube/audit.json',
    );
    assert.ok(log.c.args.includes('--audit-log-path=/var/log/kube/audit.json'));
    assert.deepEqual(log.pod.volumes, [
      { name: 'audit-log', hostPath: { path: '/var/log/kube', type: 'Directory' } },
    ]);
    assert.deepEqual(log.c.volumeMounts, [
      { name: 'audit-log', mountPath: '/var/log/kube', readOnly: true },
    ]);
    await assert.rejects(
      template('--set', 'activity.auditLog.path=/var/log/'),
      /activity\/auditLog\/path.*does not match pattern/s,
    );

    const trail = await render(
      '--set',
      'providers.aws.cloudTrailVolume.persistentVolumeClaim.claimName=cloudtrail',
    );
    assert.ok(trail.c.args.includes('--aws-cloudtrail-dir=/var/lib/timebox/cloudtrail'));
    assert.deepEqual(trail.pod.volumes, [
      { name: 'cloudtrail', persistentVolumeClaim: { claimName: 'cloudtrail' } },
    ]);

    const eks = await render(
      '--set',
      'activity.cloudWatchLogs.logGroup=/aws/eks/prod/cluster',
      '--set',
      'activity.cloudWatchLogs.region=eu-west-1',
    );
    for (const arg of [
      '--audit-cloudwatch-log-group=/aws/eks/prod/cluster',
      '--audit-cloudwatch-region=eu-west-1',
      '--audit-cloudwatch-poll-interval=10',
      '--activity-flush-interval=30',
    ])
      assert.ok(eks.c.args.includes(arg), arg);
    assert.equal(eks.pod.volumes, undefined, 'nothing mounted: read through the AWS API');
    await assert.rejects(
      template('--set', 'activity.cloudWatchLogs.logGroup=/aws/eks/prod cluster'),
      /activity\/cloudWatchLogs\/logGroup.*does not match pattern/s,
    );
    await assert.rejects(
      template('--set', 'activity.cloudWatchLogs.region=eu-west'),
      /activity\/cloudWatchLogs\/region.*does not match pattern/s,
    );

    const { stdout } = await run(helm, ['lint', '--strict', CHART, ...hook]);
    assert.match(stdout, /1 chart\(s\) linted, 0 chart\(s\) failed/);
    const readme = readFileSync(join(CHART, 'README.md'), 'utf8');
    for (const v of [
      'activity.flushInterval',
      'activity.auditWebhook.enabled',
      '.tlsSecretName',
      '.tokenSecretName',
      '.tokenSecretKey',
      'activity.auditWebhook.service.type',
      '.clusterIP',
      '.nodePort',
      'activity.auditLog.enabled',
      '.path',
      'activity.cloudWatchLogs.logGroup',
      '.region',
      '.pollInterval',
      'providers.aws.cloudTrailVolume',
    ])
      assert.ok(readme.includes(`\`${v}\``), `${v} is in charts/timebox/README.md`);
  });

  it("appends extraArgs to the operator's arguments", async () => {
    const args = async (...set: string[]) =>
      (
        (await template(...set)).find((o) => o.kind === 'Deployment')!.spec as {
          template: { spec: { containers: { args: string[] }[] } };
        }
      ).template.spec.containers[0]!.args;
    const today = await args();
    assert.deepEqual(
      await args('--set', 'extraArgs={--log-level=debug,--gcp-endpoint=https://psc.example.com}'),
      [...today, '--log-level=debug', '--gcp-endpoint=https://psc.example.com'],
      "after the chart's, so the operator's last --log-level wins",
    );
    await assert.rejects(template('--set', 'extraArgs[0]='), /extraArgs\/0.*minLength/s);
  });

  it('deletes ended grants only when endedGrantRetention is set, and only then may delete them', async () => {
    const rendered = async (...set: string[]) => {
      const objs = await template(...set);
      const args = (
        objs.find((o) => o.kind === 'Deployment')!.spec as {
          template: { spec: { containers: { args: string[] }[] } };
        }
      ).template.spec.containers[0]!.args;
      const role = objs.find(
        (o) => o.kind === 'ClusterRole' && o.metadata.name === 'tb-timebox-controller',
      )!;
      return {
        flag: args.filter((a) => a.startsWith('--ended-grant-retention')),
        deletes: role
          .rules!.filter((r) => r.apiGroups?.includes('timebox.dev') && r.verbs?.includes('delete'))
          .map((r) => [r.resources, r.verbs]),
      };
    };
    for (const off of [[], ['--set', 'endedGrantRetention=0']])
      assert.deepEqual(await rendered(...off), { flag: [], deletes: [] }, `off: ${off.join(' ')}`);
    assert.deepEqual(await rendered('--set', 'endedGrantRetention=720h'), {
      flag: ['--ended-grant-retention=720h'],
      deletes: [
        [['accessgrants'], ['delete']],
        [['accessapprovals'], ['delete', 'deletecollection']],
      ],
    });
    await assert.rejects(
      template('--set', 'endedGrantRetention=30d'),
      /endedGrantRetention.*does not match pattern/s,
    );
  });

  it('rejects invalid values with a message naming the value', async () => {
    await assert.rejects(
      template('--set', 'replicaCount=0'),
      /replicaCount.*minimum: got 0, want 1/s,
    );
    await assert.rejects(template('--set', 'logLevel=loud'), /logLevel.*must be one of/s);
  });

  it('serves the identity webhook, with a self-managed CA or with cert-manager', async () => {
    const [source] = parseAllDocuments(
      readFileSync(join(REPO_ROOT, 'config', 'webhook', 'mutating.yaml'), 'utf8'),
    ).map((d) => d.toJS() as { webhooks: { rules: unknown }[] });
    const selfManaged = await template();
    const hook = selfManaged.find((o) => o.kind === 'MutatingWebhookConfiguration') as unknown as {
      metadata: { name: string };
      webhooks: {
        rules: unknown;
        failurePolicy: string;
        clientConfig: { service: { name: string } };
      }[];
    };
    assert.equal(hook.metadata.name, 'tb-timebox-identity');
    assert.deepEqual(
      hook.webhooks[0]!.rules,
      source!.webhooks[0]!.rules,
      'the rules of config/webhook',
    );
    assert.equal(hook.webhooks[0]!.failurePolicy, 'Fail');
    assert.equal(hook.webhooks[0]!.clientConfig.service.name, 'tb-timebox-webhook');
    const args = (objs: K8sObject[]) =>
      (
        objs.find((o) => o.kind === 'Deployment')!.spec as {
          template: { spec: { containers: { args: string[] }[] } };
        }
      ).template.spec.containers[0]!.args;
    assert.ok(args(selfManaged).includes('--webhook-secret=tb-timebox-webhook-tls'));
    const role = selfManaged.find((o) => o.kind === 'Role')!;
    assert.deepEqual(
      role
        .rules!.filter((r) => r.resources?.includes('secrets'))
        .map((r) => [r.verbs, r.resourceNames]),
      [
        [['create'], undefined],
        [['get', 'update'], ['tb-timebox-webhook-tls']],
        // NotificationChannels' Secrets, in this namespace only (a Role, not a ClusterRole).
        [['get'], undefined],
      ],
    );

    const bindings = selfManaged.find(
      (o) =>
        o.kind === 'ValidatingAdmissionPolicy' && o.metadata.name === 'timebox-operator-bindings',
    )!;
    assert.equal(
      (bindings.spec as { matchConditions: { expression: string }[] }).matchConditions[0]!
        .expression,
      "request.userInfo.username in ['system:serviceaccount:timebox-system:tb-timebox-controller']",
      "admission holds the chart's own service account to the bindings it owns",
    );

    const withCertManager = await template('--set', 'webhook.certManager.enabled=true');
    assert.ok(args(withCertManager).includes('--webhook-cert-dir=/etc/timebox/webhook'));
    const cert = withCertManager.find((o) => o.kind === 'Certificate')!;
    assert.deepEqual((cert.spec as { dnsNames: string[] }).dnsNames, [
      'tb-timebox-webhook.timebox-system.svc',
      'tb-timebox-webhook.timebox-system.svc.cluster.local',
    ]);
    assert.ok(withCertManager.some((o) => o.kind === 'Issuer'));
    const injected = withCertManager.find(
      (o) => o.kind === 'MutatingWebhookConfiguration',
    ) as unknown as {
      metadata: { annotations: Record<string, string> };
    };
    assert.equal(
      injected.metadata.annotations['cert-manager.io/inject-ca-from'],
      'timebox-system/tb-timebox-webhook',
    );
    assert.deepEqual(
      withCertManager
        .find((o) => o.kind === 'Role')!
        .rules!.filter((r) => r.resources?.includes('secrets'))
        .map((r) => r.verbs),
      [['get']],
      "no Secret access but the channels' when cert-manager issues the certificate",
    );
    assert.ok(
      !withCertManager
        .filter((o) => o.kind === 'ClusterRole')
        .some((o) => o.rules!.some((r) => r.resources?.includes('secrets'))),
      'never Secrets cluster-wide',
    );
  });

  it('lets the controller act in Slack clicks as the mapped people only, and only when on', async () => {
    const off = await template();
    assert.ok(!off.some((o) => o.metadata.name.includes('slack')));
    const on = await template(
      '--set',
      'slack.enabled=true',
      '--set',
      'slack.users.U0BOB.user=bob@example.com',
      '--set',
      'slack.users.U0BOB.groups={payments-leads}',
    );
    const role = on.find(
      (o) => o.kind === 'ClusterRole' && o.metadata.name === 'tb-timebox-slack-impersonation',
    )!;
    assert.deepEqual(
      role.rules!.map((r) => [r.resources, r.resourceNames]),
      [
        [['users'], ['bob@example.com']],
        [['groups'], ['payments-leads']],
        [['userextras/timebox.dev/via', 'userextras/timebox.dev/slack-user-id'], undefined],
      ],
    );
    const args = (
      on.find((o) => o.kind === 'Deployment')!.spec as {
        template: { spec: { containers: { args: string[] }[] } };
      }
    ).template.spec.containers[0]!.args;
    assert.ok(args.includes('--slack-bind-address=:3000'));
    assert.ok(args.includes('--slack-users=tb-timebox-slack-users'));
    await assert.rejects(
      template('--set', 'slack.enabled=true', '--set', 'slack.users.U0BOB.user=system:admin'),
      /slack\/users\/U0BOB\/user/,
    );
  });

  it('renders as a newcomer runs it, and operates like the charts people know', async () => {
    // No --kube-version: the project's helm knows which Kubernetes it is for.
    const { stdout } = await run(helm, ['template', 'tb', CHART]);
    assert.match(stdout, /kind: Deployment/);

    const two = await template('--set', 'metrics.serviceMonitor.enabled=true');
    const monitor = two.find((o) => o.kind === 'ServiceMonitor')!;
    assert.equal(
      (monitor.spec as { endpoints: { honorLabels?: boolean }[] }).endpoints[0]!.honorLabels,
      true,
      "the grant's namespace label survives the scrape",
    );
    assert.equal(monitor.metadata.namespace, 'timebox-system');
    assert.equal(monitor.spec!.namespaceSelector, undefined);
    // Where the Prometheus looks for ServiceMonitors, with its relabelings.
    const relabel = { sourceLabels: ['__meta_kubernetes_pod_node_name'], targetLabel: 'node' };
    const drop = { sourceLabels: ['__name__'], regex: 'nodejs_.*', action: 'drop' };
    const elsewhere = (
      await template(
        '--set',
        'metrics.serviceMonitor.enabled=true',
        '--set',
        'metrics.serviceMonitor.namespace=monitoring',
        '--set',
        'metrics.serviceMonitor.scrapeTimeout=10s',
        '--set-json',
        `metrics.serviceMonitor.relabelings=${JSON.stringify([relabel])}`,
        '--set-json',
        `metrics.serviceMonitor.metricRelabelings=${JSON.stringify([drop])}`,
      )
    ).find((o) => o.kind === 'ServiceMonitor')!;
    assert.equal(elsewhere.metadata.namespace, 'monitoring');
    assert.deepEqual(elsewhere.spec, {
      namespaceSelector: { matchNames: ['timebox-system'] },
      selector: monitor.spec!.selector,
      endpoints: [
        {
          port: 'metrics',
          path: '/metrics',
          interval: '30s',
          scrapeTimeout: '10s',
          honorLabels: true,
          relabelings: [relabel],
          metricRelabelings: [drop],
        },
      ],
    });
    const service = two.find((o) => o.metadata.name === 'tb-timebox-metrics')!;
    assert.deepEqual(
      (monitor.spec as { selector: { matchLabels: unknown } }).selector.matchLabels,
      service.metadata.labels,
      'it selects the metrics Service',
    );
    const pod = (objs: K8sObject[]) =>
      (
        objs.find((o) => o.kind === 'Deployment')!.spec as {
          template: { spec: { topologySpreadConstraints?: { topologyKey: string }[] } };
        }
      ).template.spec;
    assert.equal(pod(two).topologySpreadConstraints?.[0]?.topologyKey, 'kubernetes.io/hostname');
    assert.ok(two.some((o) => o.kind === 'PodDisruptionBudget'));

    const one = await template('--set', 'replicaCount=1');
    assert.ok(!one.some((o) => o.kind === 'PodDisruptionBudget'), 'a PDB would block every drain');
    assert.equal(pod(one).topologySpreadConstraints, undefined);

    await assert.rejects(
      template('--set', 'leaderElection.leaseDuration=5'),
      /leaseDuration \(5 s\) must be longer than leaderElection.renewDeadline \(10 s\)/,
    );
    // As a subchart, a parent's global values come along.
    assert.ok((await template('--set', 'global.imageRegistry=example.com')).length > 0);
  });

  it('names the objects after nameOverride or fullnameOverride, as today by default', async () => {
    const names = async (...set: string[]) =>
      (await template(...on(...set.flatMap((s) => ['--set', s])))).map(
        (o) => `${o.kind}/${o.metadata.name}`,
      );
    const today = await names();
    assert.ok(today.includes('Deployment/tb-timebox'));
    assert.ok(today.includes('Deployment/tb-timebox-portal'));
    assert.ok(today.includes('ServiceAccount/tb-timebox-controller'));
    const renamed = (prefix: string) => today.map((n) => n.replace('/tb-timebox', `/${prefix}`));
    assert.deepEqual(await names('nameOverride=jit'), renamed('tb-jit'));
    assert.deepEqual(await names('fullnameOverride=access'), renamed('access'));
    // A release named after the chart is not named twice.
    const { stdout } = await run(helm, ['template', 'timebox-prod', CHART]);
    assert.match(stdout, /kind: Deployment\nmetadata:\n {2}name: timebox-prod\n/);

    // nameOverride is the app's name in the labels, so in the selectors too.
    const objs = await template(...on('--set', 'nameOverride=jit'));
    const selector = (name: string) =>
      (
        objs.find((o) => o.kind === 'Deployment' && o.metadata.name === name)!.spec as {
          selector: { matchLabels: Record<string, string> };
        }
      ).selector.matchLabels;
    assert.deepEqual(selector('tb-jit'), {
      'app.kubernetes.io/name': 'jit',
      'app.kubernetes.io/instance': 'tb',
    });
    assert.equal(selector('tb-jit-portal')['app.kubernetes.io/name'], 'jit-portal');
    const bindings = objs.find(
      (o) =>
        o.kind === 'ValidatingAdmissionPolicy' && o.metadata.name === 'timebox-operator-bindings',
    )!;
    assert.match(
      JSON.stringify(bindings.spec),
      /system:serviceaccount:timebox-system:tb-jit-controller/,
      'admission knows the renamed controller',
    );
  });

  it("takes the pods' security contexts and priority class from values, as OpenShift needs", async () => {
    interface Pod {
      priorityClassName?: string;
      securityContext?: Record<string, unknown>;
      containers: { securityContext?: Record<string, unknown> }[];
    }
    const pods = async (...set: string[]) => {
      const objs = await template(...on(...set.flatMap((s) => ['--set', s])));
      return ['tb-timebox', 'tb-timebox-portal'].map(
        (name) =>
          (
            objs.find((o) => o.kind === 'Deployment' && o.metadata.name === name)!.spec as {
              template: { spec: Pod };
            }
          ).template.spec,
      );
    };
    for (const pod of await pods()) {
      assert.deepEqual(pod.securityContext, {
        runAsNonRoot: true,
        runAsUser: 65532,
        runAsGroup: 65532,
        seccompProfile: { type: 'RuntimeDefault' },
      });
      assert.deepEqual(pod.containers[0]!.securityContext, {
        allowPrivilegeEscalation: false,
        readOnlyRootFilesystem: true,
        capabilities: { drop: ['ALL'] },
      });
      assert.equal(pod.priorityClassName, undefined);
    }
    const openShift = await pods(
      'podSecurityContext.runAsUser=null',
      'podSecurityContext.runAsGroup=null',
      'portal.podSecurityContext.runAsUser=null',
      'portal.podSecurityContext.runAsGroup=null',
      'securityContext.privileged=false',
      'priorityClassName=timebox-critical',
      'portal.priorityClassName=timebox-web',
    );
    for (const pod of openShift) {
      assert.deepEqual(pod.securityContext, {
        runAsNonRoot: true,
        seccompProfile: { type: 'RuntimeDefault' },
      });
    }
    assert.deepEqual(openShift[0]!.containers[0]!.securityContext, {
      allowPrivilegeEscalation: false,
      readOnlyRootFilesystem: true,
      capabilities: { drop: ['ALL'] },
      privileged: false,
    });
    assert.deepEqual(
      openShift.map((pod) => pod.priorityClassName),
      ['timebox-critical', 'timebox-web'],
    );
  });

  it('adds commonLabels to every object and podLabels to the pods, and no selector changes', async () => {
    const everything = [
      'metrics.serviceMonitor.enabled=true',
      'prometheusRule.enabled=true',
      'slack.enabled=true',
      'webhook.certManager.enabled=true',
      'portal.ingress.enabled=true',
      'portal.authMode=impersonate',
      'portal.session.existingSecret=timebox-session',
    ];
    const set = (...values: string[]) => values.flatMap((v) => ['--set', v]);
    const plain = await template(...on(...set(...everything)));
    const labelled = await template(
      ...on(
        ...set(
          ...everything,
          'commonLabels.team=payments',
          'commonLabels.app\\.kubernetes\\.io/name=not-timebox',
          'podLabels.sidecar\\.istio\\.io/inject=false',
          'podLabels.team=controllers',
          'portal.podLabels.tier=web',
        ),
      ),
    );
    type Labelled = K8sObject & { spec?: { template?: { metadata: { labels?: unknown } } } };
    const withoutLabels = (o: K8sObject) => {
      const copy = structuredClone(o) as Labelled;
      delete copy.metadata.labels;
      if (copy.spec?.template) delete copy.spec.template.metadata.labels;
      return copy;
    };
    assert.deepEqual(
      labelled.map(withoutLabels),
      plain.map(withoutLabels),
      'nothing but labels changes: selectors, names and specs stay',
    );
    assert.ok(plain.length > 40);
    plain.forEach((o, i) => {
      const { team, ...rest } = labelled[i]!.metadata.labels ?? {};
      assert.equal(team, 'payments', `${o.kind}/${o.metadata.name}`);
      assert.deepEqual(rest, o.metadata.labels ?? {}, "the chart's own labels stay");
    });
    const podLabels = (name: string) =>
      (labelled.find((o) => o.kind === 'Deployment' && o.metadata.name === name) as Labelled).spec!
        .template!.metadata.labels;
    assert.deepEqual(podLabels('tb-timebox'), {
      'app.kubernetes.io/name': 'timebox',
      'app.kubernetes.io/instance': 'tb',
      'sidecar.istio.io/inject': 'false',
      team: 'controllers',
    });
    assert.deepEqual(podLabels('tb-timebox-portal'), {
      'app.kubernetes.io/name': 'timebox-portal',
      'app.kubernetes.io/instance': 'tb',
      team: 'payments',
      tier: 'web',
    });
  });

  it('renders the CRDs, kept on uninstall, so that helm upgrade upgrades them (crds.enabled, crds.keep)', async () => {
    const sources = readdirSync(join(REPO_ROOT, 'crds')).map(
      (f) =>
        parseAllDocuments(readFileSync(join(REPO_ROOT, 'crds', f), 'utf8'))[0]!.toJS() as K8sObject,
    );
    assert.ok(sources.length > 0);
    const crds = (objs: K8sObject[]) =>
      objs.filter((o) => o.kind === 'CustomResourceDefinition') as (K8sObject & {
        apiVersion: string;
        metadata: { annotations?: Record<string, string> };
      })[];
    // As a newcomer renders it: no --include-crds.
    const { stdout } = await run(helm, ['template', 'tb', CHART]);
    const rendered = crds(parseAllDocuments(stdout).map((d) => d.toJS() as K8sObject));
    assert.deepEqual(
      rendered.map((o) => o.metadata.name),
      sources.map((o) => o.metadata.name),
    );
    rendered.forEach((crd, i) => {
      const source = sources[i]!;
      assert.deepEqual(crd.spec, source.spec, crd.metadata.name);
      assert.equal(crd.apiVersion, 'apiextensions.k8s.io/v1');
      assert.deepEqual(crd.metadata.annotations, { 'helm.sh/resource-policy': 'keep' });
      assert.deepEqual(
        crd.metadata.labels,
        {
          ...source.metadata.labels,
          'app.kubernetes.io/instance': 'tb',
          'app.kubernetes.io/managed-by': 'Helm',
          'app.kubernetes.io/version': '0.1.0',
          'helm.sh/chart': 'timebox-0.1.0',
        },
        crd.metadata.name,
      );
    });
    const unkept = crds(await template('--set', 'crds.keep=false'));
    assert.equal(unkept.length, sources.length);
    assert.ok(unkept.every((o) => o.metadata.annotations === undefined));
    assert.deepEqual(crds(await template('--set', 'crds.enabled=false')), []);
  });

  describe('the self-service portal', () => {
    interface Pod {
      serviceAccountName: string;
      automountServiceAccountToken?: boolean;
      securityContext: { runAsNonRoot: boolean; seccompProfile: { type: string } };
      containers: {
        command: string[];
        args?: string[];
        env: { name: string; value?: string; valueFrom?: unknown }[];
        ports: { name: string; containerPort: number }[];
        readinessProbe: { httpGet: { path: string; port: string } };
        securityContext: {
          readOnlyRootFilesystem: boolean;
          allowPrivilegeEscalation: boolean;
          capabilities: { drop: string[] };
        };
        volumeMounts: { name: string; mountPath: string }[];
      }[];
      volumes: {
        name: string;
        secret?: { secretName: string; items: { key: string; path: string }[] };
        configMap?: { name: string; items?: { key: string; path: string }[] };
      }[];
    }
    const portalPod = (objs: K8sObject[]) =>
      (
        objs.find((o) => o.kind === 'Deployment' && o.metadata.name === 'tb-timebox-portal')!
          .spec as { template: { spec: Pod } }
      ).template.spec;
    const envOf = (pod: Pod) =>
      Object.fromEntries(pod.containers[0]!.env.map((e) => [e.name, e.value ?? e.valueFrom]));
    const portalObjects = (objs: K8sObject[]) =>
      objs.filter((o) => o.metadata.name.includes('portal')).map((o) => o.kind);
    const controllerArgs = (objs: K8sObject[]) =>
      (
        objs.find((o) => o.kind === 'Deployment' && o.metadata.name === 'tb-timebox')!.spec as {
          template: { spec: { containers: { args: string[] }[] } };
        }
      ).template.spec.containers[0]!.args;

    it('is off by default', async () => {
      const objs = await template();
      assert.deepEqual(portalObjects(objs), []);
      assert.ok(!controllerArgs(objs).some((a) => a.startsWith('--portal-url')));
    });

    it('runs `timebox portal` in token mode, holding no Kubernetes permissions at all', async () => {
      const objs = await template(...on());
      const pod = portalPod(objs);
      const c = pod.containers[0]!;
      assert.deepEqual(c.command, ['/nodejs/bin/node', 'dist/cli/main.js', 'portal']);
      assert.equal(c.args, undefined);
      assert.equal(pod.serviceAccountName, 'tb-timebox-portal');
      assert.equal(pod.automountServiceAccountToken, false, 'no ServiceAccount token');
      const sa = objs.find(
        (o) => o.kind === 'ServiceAccount' && o.metadata.name === 'tb-timebox-portal',
      ) as unknown as { automountServiceAccountToken: boolean };
      assert.equal(sa.automountServiceAccountToken, false);
      const rbac = objs.filter((o) => /Role|RoleBinding/.test(o.kind));
      assert.deepEqual(
        rbac.filter((o) => o.metadata.name.includes('portal')).map((o) => o.metadata.name),
        [],
      );
      assert.ok(
        !rbac.some((o) =>
          (o as unknown as { subjects?: { name: string }[] }).subjects?.some(
            (s) => s.name === 'tb-timebox-portal',
          ),
        ),
        'nothing is bound to the portal',
      );

      assert.deepEqual(envOf(pod), {
        TIMEBOX_PORTAL_LISTEN: ':8080',
        TIMEBOX_PORTAL_PUBLIC_URL: 'https://timebox.example.com',
        TIMEBOX_PORTAL_AUTH_MODE: 'token',
        TIMEBOX_OIDC_ISSUER: 'https://login.example.com',
        TIMEBOX_OIDC_CLIENT_ID: 'timebox-portal',
        TIMEBOX_OIDC_USERNAME_CLAIM: 'email',
        TIMEBOX_OIDC_GROUPS_CLAIM: 'groups',
        TIMEBOX_OIDC_USERNAME_PREFIX: '',
        TIMEBOX_OIDC_GROUPS_PREFIX: '',
        TIMEBOX_PORTAL_SESSION_KEY_FILE: '/etc/timebox/session/session-key',
        TIMEBOX_PORTAL_API_SERVER: 'https://kubernetes.default.svc',
        TIMEBOX_PORTAL_API_CA: '/etc/timebox/kube-ca/ca.crt',
      });
      // The API server's CA, from the ConfigMap every namespace has.
      assert.deepEqual(pod.volumes.find((v) => v.name === 'kube-ca')?.configMap, {
        name: 'kube-root-ca.crt',
        items: [{ key: 'ca.crt', path: 'ca.crt' }],
      });
      assert.ok(
        c.volumeMounts.some((m) => m.name === 'kube-ca' && m.mountPath === '/etc/timebox/kube-ca'),
      );
      assert.deepEqual(c.readinessProbe.httpGet, { path: '/healthz', port: 'http' });
      assert.deepEqual(c.ports, [{ name: 'http', containerPort: 8080 }]);
      assert.deepEqual(
        [
          pod.securityContext.runAsNonRoot,
          pod.securityContext.seccompProfile.type,
          c.securityContext.readOnlyRootFilesystem,
          c.securityContext.allowPrivilegeEscalation,
          c.securityContext.capabilities.drop,
        ],
        [true, 'RuntimeDefault', true, false, ['ALL']],
      );

      // The session key: 32 random bytes, base64, in a Secret the pod mounts.
      const secret = objs.find(
        (o) => o.kind === 'Secret' && o.metadata.name === 'tb-timebox-portal-session',
      ) as unknown as { data: Record<string, string> };
      const key = Buffer.from(secret.data['session-key']!, 'base64').toString();
      assert.equal(Buffer.from(key, 'base64').length, 32);
      assert.equal(
        pod.volumes.find((v) => v.name === 'session')?.secret?.secretName,
        'tb-timebox-portal-session',
      );
      const again = (await template(...on())).find(
        (o) => o.kind === 'Secret' && o.metadata.name === 'tb-timebox-portal-session',
      ) as unknown as { data: Record<string, string> };
      assert.notEqual(again.data['session-key'], secret.data['session-key'], 'random');

      // Reached through its Service, which the controller's pods are not behind,
      // and the controller's Services never reach the portal.
      const service = objs.find(
        (o) => o.kind === 'Service' && o.metadata.name === 'tb-timebox-portal',
      )!;
      const selector = (service.spec as { selector: Record<string, string> }).selector;
      assert.deepEqual(service.spec!.ports, [{ name: 'http', port: 80, targetPort: 'http' }]);
      assert.equal(service.spec!.type, 'ClusterIP');
      const webhook = objs.find(
        (o) => o.kind === 'Service' && o.metadata.name === 'tb-timebox-webhook',
      )!;
      assert.notDeepEqual((webhook.spec as { selector: unknown }).selector, selector);
      const policy = objs.find(
        (o) => o.kind === 'NetworkPolicy' && o.metadata.name === 'tb-timebox-portal',
      )!;
      assert.deepEqual(policy.spec!.podSelector, { matchLabels: selector });
      assert.deepEqual(policy.spec!.ingress, [{ ports: [{ port: 8080, protocol: 'TCP' }] }]);

      assert.ok(!objs.some((o) => o.kind === 'Ingress'), 'an Ingress only when asked for');
      assert.ok(
        objs.some(
          (o) => o.kind === 'PodDisruptionBudget' && o.metadata.name === 'tb-timebox-portal',
        ),
      );
      const one = await template(...on('--set', 'portal.replicaCount=1'));
      assert.deepEqual(
        one.filter((o) => o.kind === 'PodDisruptionBudget').map((o) => o.metadata.name),
        ['tb-timebox'],
        'a PDB would block every drain',
      );
      // Notifications link to it.
      assert.ok(controllerArgs(objs).includes('--portal-url=https://timebox.example.com'));
    });

    it('takes its Ingress, client secret, issuer CA and session key from values', async () => {
      const ca = '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n';
      const objs = await template(
        ...on(
          '--set',
          'portal.ingress.enabled=true',
          '--set',
          'portal.ingress.className=nginx',
          '--set',
          'portal.ingress.tls[0].secretName=timebox-tls',
          '--set',
          'portal.oidc.clientSecret.existingSecret=timebox-oidc',
          '--set-string',
          `portal.oidc.caBundle=${ca}`,
          '--set',
          'portal.oidc.usernameClaim=preferred_username',
          '--set',
          'portal.oidc.usernamePrefix=oidc:',
          '--set',
          'portal.session.existingSecret=timebox-session',
          '--set',
          'portal.session.key=key',
        ),
      );
      const ingress = objs.find((o) => o.kind === 'Ingress')!;
      assert.deepEqual(ingress.spec, {
        ingressClassName: 'nginx',
        tls: [{ secretName: 'timebox-tls', hosts: ['timebox.example.com'] }],
        rules: [
          {
            host: 'timebox.example.com',
            http: {
              paths: [
                {
                  path: '/',
                  pathType: 'Prefix',
                  backend: { service: { name: 'tb-timebox-portal', port: { name: 'http' } } },
                },
              ],
            },
          },
        ],
      });
      const pod = portalPod(objs);
      const env = envOf(pod);
      assert.deepEqual(env.TIMEBOX_OIDC_CLIENT_SECRET, {
        secretKeyRef: { name: 'timebox-oidc', key: 'client-secret' },
      });
      assert.equal(env.TIMEBOX_OIDC_USERNAME_CLAIM, 'preferred_username');
      assert.equal(env.TIMEBOX_OIDC_USERNAME_PREFIX, 'oidc:');
      assert.equal(env.TIMEBOX_OIDC_ISSUER_CA, '/etc/timebox/issuer-ca/ca.crt');
      const bundle = objs.find(
        (o) => o.kind === 'ConfigMap' && o.metadata.name === 'tb-timebox-portal-issuer-ca',
      ) as unknown as { data: Record<string, string> };
      assert.equal(bundle.data['ca.crt'], ca);
      assert.deepEqual(pod.volumes.find((v) => v.name === 'issuer-ca')?.configMap, {
        name: 'tb-timebox-portal-issuer-ca',
      });
      // A session key of one's own: the chart makes none.
      assert.ok(!objs.some((o) => o.kind === 'Secret'));
      assert.deepEqual(pod.volumes.find((v) => v.name === 'session')?.secret, {
        secretName: 'timebox-session',
        items: [{ key: 'key', path: 'session-key' }],
      });
    });

    it('may impersonate users and groups, and nothing else, in impersonate mode', async () => {
      const objs = await template(...on('--set', 'portal.authMode=impersonate'));
      const roles = objs.filter(
        (o) =>
          /Role/.test(o.kind) && !o.kind.endsWith('Binding') && o.metadata.name.includes('portal'),
      );
      assert.deepEqual(
        roles.map((o) => [o.kind, o.metadata.name]),
        [['ClusterRole', 'tb-timebox-portal-impersonation']],
      );
      assert.deepEqual(roles[0]!.rules, [
        { apiGroups: [''], resources: ['users', 'groups'], verbs: ['impersonate'] },
      ]);
      const binding = objs.find(
        (o) => o.kind === 'ClusterRoleBinding' && o.metadata.name.includes('portal'),
      ) as unknown as { roleRef: { kind: string; name: string }; subjects: unknown[] };
      assert.deepEqual(binding.roleRef, {
        apiGroup: 'rbac.authorization.k8s.io',
        kind: 'ClusterRole',
        name: 'tb-timebox-portal-impersonation',
      });
      assert.deepEqual(binding.subjects, [
        { kind: 'ServiceAccount', name: 'tb-timebox-portal', namespace: 'timebox-system' },
      ]);
      assert.equal(
        objs.filter(
          (o) =>
            o.kind.endsWith('Binding') &&
            (o as unknown as { subjects?: { name: string }[] }).subjects?.some(
              (s) => s.name === 'tb-timebox-portal',
            ),
        ).length,
        1,
        'bound to nothing else',
      );
      const pod = portalPod(objs);
      assert.equal(pod.automountServiceAccountToken, true, 'its own token, to impersonate with');
      assert.equal(envOf(pod).TIMEBOX_PORTAL_AUTH_MODE, 'impersonate');
      assert.ok(!pod.volumes.some((v) => v.name === 'kube-ca'));
    });

    it('refuses to render without what it needs, naming the value', async () => {
      for (const missing of Object.keys(required)) {
        await assert.rejects(
          template(...on('--set', `${missing}=`)),
          new RegExp(
            `${missing.replaceAll('.', '\\.')} is required with portal\\.enabled.*--set ${missing.replaceAll('.', '\\.')}=`,
          ),
          missing,
        );
      }
      await assert.rejects(
        template(...on('--set', 'portal.publicUrl=http://timebox.example.com')),
        /portal\/publicUrl.*does not match pattern/s,
        'session cookies are Secure: https',
      );
      assert.ok(await template(...on('--set', 'portal.publicUrl=http://localhost:8080')));
      await assert.rejects(
        template(...on('--set', 'portal.authMode=anonymous')),
        /portal\/authMode.*must be one of/s,
      );
      await assert.rejects(template(...on('--set', 'portal.oidc.clientID=x')), /clientID/);
    });

    it('passes helm lint --strict with the portal on', async () => {
      const { stdout } = await run(helm, [
        'lint',
        '--strict',
        CHART,
        ...on('--set', 'portal.ingress.enabled=true', '--set', 'portal.authMode=impersonate'),
      ]);
      assert.match(stdout, /1 chart\(s\) linted, 0 chart\(s\) failed/);
    });

    it('documents every value of the portal in the README', () => {
      const readme = readFileSync(join(CHART, 'README.md'), 'utf8');
      const values = parseAllDocuments(
        readFileSync(join(CHART, 'values.yaml'), 'utf8'),
      )[0]!.toJS() as {
        portal: Record<string, unknown>;
      };
      const leaves = (prefix: string, v: unknown): string[] =>
        v !== null &&
        typeof v === 'object' &&
        !Array.isArray(v) &&
        Object.keys(v).length > 0 &&
        !['portal.resources', 'portal.podSecurityContext', 'portal.securityContext'].includes(
          prefix,
        )
          ? Object.entries(v).flatMap(([k, w]) => leaves(`${prefix}.${k}`, w))
          : [prefix];
      for (const path of leaves('portal', values.portal)) {
        assert.ok(readme.includes(`\`${path}\``), `${path} is in charts/timebox/README.md`);
      }
    });
  });

  it('carries up-to-date copies of the CRDs, admission policies, roles, rules and dashboard (npm run generate)', () => {
    for (const f of chartCopies(REPO_ROOT)) {
      assert.equal(readFileSync(join(REPO_ROOT, f.path), 'utf8'), f.content, f.path);
    }
    assert.ok(
      !existsSync(join(CHART, 'crds')),
      'no crds/ directory: Helm would install it once, never upgrade it',
    );
  });

  describe('installed on the sandbox', () => {
    let cluster: ClusterEnvironment;
    let work: string;
    let operator: OperatorProcess | undefined;

    before(async function () {
      this.timeout(CLUSTER_START_TIMEOUT_MS);
      cluster = await testCluster();
      await installTimebox(cluster, []);
      work = mkdtempSync(join(tmpdir(), 'timebox-helm-'));
    });
    after(async () => {
      await operator?.stop();
      // Put back the test configuration of the admission policies for later suites.
      await installTimebox(cluster, []);
      rmSync(work, { recursive: true, force: true });
    });

    it("keeps the portal's session key across upgrades", async () => {
      const ns = await createNamespace(cluster, 'timebox-portal');
      const kubectl = cluster.sandbox?.binaries.kubectl ?? 'kubectl';
      // --dry-run=server: helm reads the cluster, as `helm upgrade` does.
      const sessionSecret = async () => {
        const { stdout } = await run(helm, [
          'template',
          'chart',
          CHART,
          '--namespace',
          ns,
          '--kubeconfig',
          cluster.kubeconfigPath!,
          '--dry-run=server',
          '--show-only',
          'templates/portal.yaml',
          ...on(),
        ]);
        return parseAllDocuments(stdout)
          .map((d) => d.toJS() as K8sObject & { data?: Record<string, string> })
          .find((o) => o?.kind === 'Secret')!;
      };
      const first = await sessionSecret();
      assert.notDeepEqual((await sessionSecret()).data, first.data, 'a new key before install');
      const file = join(work, 'session.yaml');
      writeFileSync(file, stringify(first));
      await run(kubectl, ['--kubeconfig', cluster.kubeconfigPath!, 'apply', '-f', file]);
      assert.deepEqual((await sessionSecret()).data, first.data, 'the same key after');
    });

    it('runs the operator with exactly the permissions the chart grants', async () => {
      const ns = await createNamespace(cluster, 'timebox-chart');
      const { stdout } = await run(helm, [
        'template',
        'chart',
        CHART,
        '--namespace',
        ns,
        '--kube-version',
        '1.35.4',
        '--set',
        'rbac.bindableClusterRoles={view}',
      ]);
      // The sandbox has no kubelet, so nothing would answer behind the webhook's
      // Service, and with failurePolicy Fail every create would be refused: the
      // tests' own identity webhook stands in for it.
      const rendered = parseAllDocuments(stdout)
        .map((d) => d.toJS() as K8sObject | null)
        .filter((o): o is K8sObject => o !== null && o.kind !== 'MutatingWebhookConfiguration');
      const file = join(work, 'rendered.yaml');
      writeFileSync(file, rendered.map((o) => stringify(o)).join('---\n'));
      const kubectl = cluster.sandbox?.binaries.kubectl ?? 'kubectl';
      await run(kubectl, [
        '--kubeconfig',
        cluster.kubeconfigPath!,
        'apply',
        '--server-side',
        '--force-conflicts',
        '-f',
        file,
      ]);

      // The sandbox has no kubelet, so the chart's pod would never start: run the
      // same operator as the chart's ServiceAccount instead.
      const sa = `system:serviceaccount:${ns}:chart-timebox-controller`;
      operator = OperatorProcess.start('chart-operator', kubeconfigAs(cluster, sa, work), [
        `--namespace=${ns}`,
      ]);
      await operator.waitForLog(/starting controllers/);

      const target = await createNamespace(cluster, 'payments');
      const api = grantsApi(cluster.admin());
      await api.create(grant(target, 'may-view'));
      await waitForPhase(cluster, target, 'may-view', 'Active');
      await api.create(
        grant(target, 'may-not-edit', {
          access: [{ kubernetes: { clusterRole: 'edit', namespaces: [target] } }],
        }),
      );
      const failed = await waitForPhase(cluster, target, 'may-not-edit', 'Failed');
      const ready = failed.status?.conditions?.find((c) => c.type === 'Ready');
      assert.equal(ready?.reason, 'Forbidden');
      assert.match(ready?.message ?? '', /edit/);

      // Ending access: the operator's DELETE of the binding is classified by the
      // chart's FlowSchema into workload-high, not workload-low with every other
      // ServiceAccount; its Lease renewals into leader-election. The API server's
      // own counters say so.
      const dispatched = async (schema: string, level: string) => {
        const { stdout: metrics } = await run(
          kubectl,
          ['--kubeconfig', cluster.kubeconfigPath!, 'get', '--raw', '/metrics'],
          { maxBuffer: 256 * 1024 * 1024 },
        );
        return metrics
          .split('\n')
          .filter(
            (l) =>
              l.startsWith('apiserver_flowcontrol_dispatched_requests_total{') &&
              l.includes(`flow_schema="${schema}"`) &&
              l.includes(`priority_level="${level}"`),
          )
          .reduce((sum, l) => sum + Number(l.split(' ').pop()), 0);
      };
      const before = await dispatched('chart-timebox-revocations', 'workload-high');
      await api.delete(target, 'may-view');
      // The finalizer goes only once the binding is deleted.
      await eventually(
        async () =>
          api.get(target, 'may-view').then(
            () => false,
            (err: { code?: number }) => err.code === 404,
          ),
        { timeoutMs: 10_000, what: 'the revoked grant to be gone' },
      );
      assert.ok(
        (await dispatched('chart-timebox-revocations', 'workload-high')) > before,
        'the revocation went through the revocations FlowSchema',
      );
      assert.ok((await dispatched('chart-timebox-leader-election', 'leader-election')) > 0);
    });
  });
});
