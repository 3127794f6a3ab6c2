import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { KubeConfig } from '@kubernetes/client-node';
import type { AccessGrant } from '../api/v1alpha1/types.ts';
import type { Logger } from '../log/logger.ts';
import type { Clock, Timer } from '../runtime/clock.ts';
import type { KeyPair } from './certs.ts';
import { caBundlePort, grantUidLookup, tlsSecretPort } from './kube.ts';
import { startWebhookServer } from './server.ts';
import { SelfManagedTls, TLS_CRT, TLS_KEY } from './tls.ts';

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
const CERT_DIR_RECHECK_MS = 60_000;

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
      ? async () => {
          const dir = (opts.tls as { certDir: string }).certDir;
          return {
            certPem: await readFile(join(dir, TLS_CRT), 'utf8'),
            keyPem: await readFile(join(dir, TLS_KEY), 'utf8'),
          };
        }
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
  let current = await source();
  const server = await startWebhookServer({
    host: opts.host,
    port: opts.port,
    certificate: current,
    lookup: grantUidLookup(kc, deps.cachedGrant),
    log,
  });
  let timer: Timer | undefined;
  let stopped = false;
  const recheck = () => {
    timer = deps.clock.after('certDir' in opts.tls ? CERT_DIR_RECHECK_MS : RECHECK_MS, () => {
      void source()
        .then((next) => {
          if (next.certPem !== current.certPem || next.keyPem !== current.keyPem) {
            server.setCertificate(next);
            current = next;
            log.info('webhook certificate reloaded');
          }
        })
        .catch((err: unknown) => log.warn('webhook certificate check failed; retrying', { err }))
        .finally(() => {
          if (!stopped) recheck();
        });
    });
  };
  recheck();
  return {
    port: server.port,
    async stop() {
      stopped = true;
      timer?.cancel();
      await server.close();
    },
  };
}
