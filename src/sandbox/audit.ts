import { randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { newCA, newServingCert } from '../admission/certs.ts';
import { AUDIT_PATH, auditWebhookKubeconfig } from '../activity/webhook.ts';
import { freePort } from './ports.ts';

/**
 * What grant activity needs of an API server: every completed request at
 * Metadata level (who, which verb on which object, the answer; no bodies). The
 * health and discovery endpoints are left out: nobody's access shows in them.
 */
export const ACTIVITY_AUDIT_POLICY = `apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: [RequestReceived]
rules:
  - level: None
    nonResourceURLs: ['/healthz*', '/livez*', '/readyz*', '/version', '/openapi*', '/api', '/apis', '/api/*', '/apis/*']
  - level: Metadata
`;

/** The sandbox's audit webhook: files the API server reads at start, and what the operator serves. */
export interface SandboxAudit {
  /** For kube-apiserver --audit-webhook-config-file. */
  configFile: string;
  policyFile: string;
  /** Where the operator serves the webhook (loopback). */
  port: number;
  /** tls.crt and tls.key for the operator. */
  certDir: string;
  tokenFile: string;
}

/**
 * Made before the API server starts, since it reads them at start: a port, a CA
 * and serving certificate for the operator, and a bearer token only the API
 * server is given. The operator starts later; until it serves, the API server's
 * batch backend drops what it cannot send, and serves on regardless.
 */
export async function prepareSandboxAudit(dir: string): Promise<SandboxAudit> {
  const auditDir = join(dir, 'audit');
  mkdirSync(auditDir, { recursive: true, mode: 0o700 });
  const now = new Date();
  const ca = newCA(now);
  const pair = newServingCert(ca, ['127.0.0.1'], now);
  writeFileSync(join(auditDir, 'tls.crt'), pair.certPem);
  writeFileSync(join(auditDir, 'tls.key'), pair.keyPem, { mode: 0o600 });
  const token = randomBytes(32).toString('hex');
  const tokenFile = join(auditDir, 'token');
  writeFileSync(tokenFile, token, { mode: 0o600 });
  const port = await freePort();
  const configFile = join(auditDir, 'webhook-kubeconfig.yaml');
  writeFileSync(
    configFile,
    auditWebhookKubeconfig(`https://127.0.0.1:${port}${AUDIT_PATH}`, ca.certPem, token),
    { mode: 0o600 },
  );
  const policyFile = join(auditDir, 'policy.yaml');
  writeFileSync(policyFile, ACTIVITY_AUDIT_POLICY);
  return { configFile, policyFile, port, certDir: auditDir, tokenFile };
}

/** kube-apiserver flags that send its audit events to the operator, in small, quick batches. */
export function auditWebhookFlags(a: Pick<SandboxAudit, 'configFile'>): string[] {
  return [
    `--audit-webhook-config-file=${a.configFile}`,
    '--audit-webhook-mode=batch',
    '--audit-webhook-batch-max-wait=1s',
    '--audit-webhook-batch-max-size=200',
    '--audit-webhook-batch-throttle-enable=false',
    // Batches split to fit the operator's 16 MiB limit, instead of a whole batch
    // lost to a few requests with ~1 MiB URLs. Events are let up to 3 MiB (such a
    // URL appears twice in one): the default 100 KiB would drop them whole.
    '--audit-webhook-truncate-enabled=true',
    '--audit-webhook-truncate-max-batch-size=12582912',
    '--audit-webhook-truncate-max-event-size=3145728',
    '--audit-webhook-initial-backoff=1s',
  ];
}
