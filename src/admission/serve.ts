import type { KubeConfig } from '@kubernetes/client-node';
import type { AccessGrant } from '../api/v1alpha1/types.ts';
import type { Logger } from '../log/logger.ts';
import type { Clock } from '../runtime/clock.ts';
import { CERT_DIR_RECHECK_MS, readCertDir, reloadCertificate } from './cert-reload.ts';
import type { KeyPair } from './certs.ts';
import { caBundlePort, grantUidLookup, tlsSecretPort } from './kube.ts';
import { startWebhookServer } from './server.ts';
import { SelfManagedTls } from './tls.ts';

export interface WebhookOptions {
  host: string;
  port: number;
  tls:
    | { certDir: string }
    | {
        /** Namespace and name of the Secret holding the CA and serving pair. */
        secretNamespace: string;
        secretName: string;
        /** The MutatingWebhookConfiguration whose caBundle to keep. */
        configName: string;
        /** DNS names and IPs the API server dials, e.g. timebox-webhook.timebox-system.svc. */
        hosts: string[];
      };
}

/** How often certificates are checked: renewal, or a rotated cert-manager Secret. */
const RECHECK_MS = 60 * 60_000;

/** Serves the identity webhook with TLS from cert-manager (certDir) or self-managed. */
export async function serveWebhook(
  kc: KubeConfig,
  opts: WebhookOptions,
  deps: {
    clock: Clock;
    log: Logger;
    cachedGrant: (ns: string, name: string) => AccessGrant | undefined;
  },
): Promise<{ port: number; stop(): Promise<void> }> {
  const log = deps.log.with({ component: 'webhook' });
  const source: () => Promise<KeyPair> =
    'certDir' in opts.tls
      ? () => readCertDir((opts.tls as { certDir: string }).certDir)
      : (() => {
          const t = opts.tls as Extract<WebhookOptions['tls'], { hosts: string[] }>;
          const keeper = new SelfManagedTls({
            secret: tlsSecretPort(kc, t.secretNamespace, t.secretName),
            caBundle: caBundlePort(kc, t.configName),
            hosts: t.hosts,
            clock: deps.clock,
            log,
          });
          return () => keeper.ensure();
        })();
  const current = await source();
  const server = await startWebhookServer({
    host: opts.host,
    port: opts.port,
    certificate: current,
    lookup: grantUidLookup(kc, deps.cachedGrant),
    log,
  });
  const reload = reloadCertificate({
    source,
    current,
    apply: (pair) => server.setCertificate(pair),
    intervalMs: 'certDir' in opts.tls ? CERT_DIR_RECHECK_MS : RECHECK_MS,
    clock: deps.clock,
    log,
    what: 'webhook',
  });
  return {
    port: server.port,
    async stop() {
      reload.stop();
      await server.close();
    },
  };
}
