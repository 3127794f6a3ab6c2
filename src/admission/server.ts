import { createServer, type Server } from 'node:https';
import type { Logger } from '../log/logger.ts';
import { listenTls, type TlsListener } from './listen.ts';
import type { KeyPair } from './certs.ts';
import { review, type AdmissionRequest, type GrantUidLookup } from './stamp.ts';

/** The path the webhook configuration calls. */
export const WEBHOOK_PATH = '/mutate';
/**
 * An AdmissionReview of a grant or an approval is a few KiB; anything larger is
 * refused before it is buffered, so nobody can exhaust the operator's memory by
 * posting to the webhook (its port is reachable from the cluster network).
 */
const MAX_BODY = 256 * 1024;

export type WebhookServer = TlsListener;

/**
 * The mutating admission webhook that stamps identity into new AccessGrants and
 * AccessApprovals (see stamp.ts), speaking AdmissionReview v1 over HTTPS.
 */
export async function startWebhookServer(opts: {
  host: string;
  port: number;
  certificate: KeyPair;
  lookup: GrantUidLookup;
  log: Logger;
}): Promise<WebhookServer> {
  const { log } = opts;
  const server: Server = createServer(
    { cert: opts.certificate.certPem, key: opts.certificate.keyPem, minVersion: 'TLSv1.2' },
    (req, res) => {
      const reply = (status: number, body: unknown) => {
        res.writeHead(status, { 'Content-Type': 'application/json' });
        res.end(JSON.stringify(body));
      };
      if (req.method !== 'POST' || (req.url ?? '').split('?')[0] !== WEBHOOK_PATH) {
        reply(404, { message: `POST AdmissionReviews to ${WEBHOOK_PATH}` });
        return;
      }
      let size = 0;
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => {
        size += c.length;
        if (size <= MAX_BODY) chunks.push(c);
        else if (!res.headersSent) {
          reply(413, { message: `AdmissionReviews larger than ${MAX_BODY} bytes are refused` });
          req.destroy();
        }
      });
      req.on('end', () => {
        if (size > MAX_BODY) return;
        void (async () => {
          let request: AdmissionRequest | undefined;
          try {
            const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as {
              apiVersion?: string;
              request?: AdmissionRequest;
            };
            request = body.request;
            if (!request?.uid) throw new Error('not an AdmissionReview: no request.uid');
            const verdict = await review(request, opts.lookup);
            const response = verdict.allowed
              ? {
                  uid: request.uid,
                  allowed: true,
                  ...(verdict.patch.length
                    ? {
                        patchType: 'JSONPatch',
                        patch: Buffer.from(JSON.stringify(verdict.patch)).toString('base64'),
                      }
                    : {}),
                }
              : {
                  uid: request.uid,
                  allowed: false,
                  status: { code: 403, reason: 'Forbidden', message: verdict.message },
                };
            reply(200, { apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', response });
          } catch (err) {
            log.warn('admission review failed', { err, kind: request?.kind?.kind });
            if (!request?.uid) {
              reply(400, { message: (err as Error).message });
              return;
            }
            // Fail closed, saying why: the API server's failurePolicy is Fail too.
            reply(200, {
              apiVersion: 'admission.k8s.io/v1',
              kind: 'AdmissionReview',
              response: {
                uid: request.uid,
                allowed: false,
                status: {
                  code: 500,
                  message: `timebox webhook: ${(err as Error).message}; try again`,
                },
              },
            });
          }
        })();
      });
    },
  );
  // Slow or piled-up clients are cut off: the API server answers within its own
  // 5 s webhook timeout, and nothing else has reason to hold a connection.
  server.headersTimeout = 5_000;
  server.requestTimeout = 10_000;
  server.maxConnections = 256;
  const listener = await listenTls(server, opts.host, opts.port);
  log.info('admission webhook serving', {
    address: `${opts.host}:${listener.port}`,
    path: WEBHOOK_PATH,
  });
  return listener;
}
