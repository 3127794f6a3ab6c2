import { createHash, timingSafeEqual } from 'node:crypto';
import { createServer, type Server } from 'node:https';
import type { KeyPair } from '../admission/certs.ts';
import type { Logger } from '../log/logger.ts';
import { listenTls, type TlsListener } from '../admission/listen.ts';
import { auditEventsOf, type AuditEvent } from './audit-event.ts';

/** The path the API server's audit webhook kubeconfig names. */
export const AUDIT_PATH = '/audit';
/**
 * A batch of Metadata-level events is about 1 KiB each, and at most
 * --audit-webhook-batch-max-size (400 by default) in one request; but an event
 * carries the request URL, which anyone, even unauthenticated, can make ~1 MiB
 * long. With --audit-webhook-truncate-enabled the API server splits batches to
 * --audit-webhook-truncate-max-batch-size (10 MiB by default; docs/activity.md
 * says 12 MiB); this leaves room above that.
 * Anything larger is refused before it is buffered, and counted as lost (the
 * idle clock starts again: a lost event may have been someone's use). Only the
 * API server, with the token, gets this far.
 */
export const MAX_AUDIT_BODY = 16 * 1024 * 1024;

export type AuditWebhook = TlsListener;

const digest = (s: string) => createHash('sha256').update(s).digest();

/**
 * The audit webhook backend: the API server POSTs EventLists here (its
 * --audit-webhook-config-file names this URL, a CA and a bearer token). Only a
 * caller presenting the token is heard: anyone else who can reach the port,
 * forging events to make a grant look used (or to flood it), gets 401 and counts
 * for nothing. Accepted batches are answered at once; attribution happens later,
 * off the request (see AuditIntake).
 */
export async function startAuditWebhook(opts: {
  host: string;
  port: number;
  certificate: KeyPair;
  /** The bearer token the API server presents. */
  token: string;
  onEvents(events: AuditEvent[]): void;
  log: Logger;
  /** Refused posts, for the metrics (result="unauthorized"). */
  onRefused?: () => void;
  /** A batch from the API server that could not be taken (too large, not JSON): its events are lost. */
  onLost?: () => void;
}): Promise<AuditWebhook> {
  if (opts.token.length < 16)
    throw new Error('the audit webhook token must be at least 16 characters long');
  const want = digest(opts.token);
  const authorized = (header: string | undefined): boolean => {
    const m = /^Bearer (.+)$/.exec(header ?? '');
    // Compared as digests: equal lengths, constant time, whatever was sent.
    return m !== null && timingSafeEqual(digest(m[1]!), want);
  };
  const server: Server = createServer(
    { cert: opts.certificate.certPem, key: opts.certificate.keyPem, minVersion: 'TLSv1.2' },
    (req, res) => {
      const reply = (status: number, message: string) => {
        res.writeHead(status, { 'Content-Type': 'application/json' });
        res.end(JSON.stringify({ message }));
      };
      if (req.method !== 'POST' || (req.url ?? '').split('?')[0] !== AUDIT_PATH) {
        reply(404, `POST audit EventLists to ${AUDIT_PATH}`);
        return;
      }
      if (!authorized(req.headers.authorization)) {
        opts.onRefused?.();
        res.setHeader('Connection', 'close');
        reply(401, 'the bearer token of the audit webhook kubeconfig is required');
        // Nothing of the body is kept; the connection closes once it is sent.
        req.resume();
        return;
      }
      let size = 0;
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => {
        size += c.length;
        if (size <= MAX_AUDIT_BODY) chunks.push(c);
        else if (!res.headersSent) {
          opts.onLost?.();
          opts.log.warn('an audit batch too large was refused; its events are lost', {
            limitBytes: MAX_AUDIT_BODY,
          });
          reply(
            413,
            `batches larger than ${MAX_AUDIT_BODY} bytes are refused; set --audit-webhook-truncate-enabled=true`,
          );
          req.destroy();
        }
      });
      req.on('end', () => {
        if (size > MAX_AUDIT_BODY) return;
        let body: unknown;
        try {
          body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
        } catch {
          opts.onLost?.();
          reply(400, 'not JSON: expected an audit.k8s.io/v1 EventList');
          return;
        }
        opts.onEvents(auditEventsOf(body));
        // Always 200 once heard, even when the intake sheds: a failure would make
        // the API server retry the batch and add to the load.
        reply(200, 'ok');
      });
    },
  );
  server.headersTimeout = 10_000;
  server.requestTimeout = 30_000;
  server.maxConnections = 64;
  const listener = await listenTls(server, opts.host, opts.port);
  opts.log.info('audit webhook serving', {
    address: `${opts.host}:${listener.port}`,
    path: AUDIT_PATH,
  });
  return listener;
}

/**
 * Pure: the kubeconfig the API server's --audit-webhook-config-file names: where
 * to post, which CA to trust, and the token to present.
 */
export function auditWebhookKubeconfig(url: string, caPem: string, token: string): string {
  return [
    'apiVersion: v1',
    'kind: Config',
    'clusters:',
    '- name: timebox-audit',
    '  cluster:',
    `    server: ${url}`,
    `    certificate-authority-data: ${Buffer.from(caPem).toString('base64')}`,
    'users:',
    '- name: kube-apiserver',
    '  user:',
    `    token: ${token}`,
    'contexts:',
    '- name: timebox-audit',
    '  context:',
    '    cluster: timebox-audit',
    '    user: kube-apiserver',
    'current-context: timebox-audit',
    '',
  ].join('\n');
}
