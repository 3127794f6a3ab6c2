import type { Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { KeyPair } from './certs.ts';

/** An HTTPS server the API server calls (the identity and the audit webhooks). */
export interface TlsListener {
  readonly port: number;
  /** Serves with a new certificate from now on (renewal, or a rotated cert-manager secret). */
  setCertificate(pair: KeyPair): void;
  close(): Promise<void>;
}

/** Listens on host:port (0 for any free port), and stops with its open connections. */
export async function listenTls(server: Server, host: string, port: number): Promise<TlsListener> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  return {
    port: (server.address() as AddressInfo).port,
    setCertificate(pair) {
      server.setSecureContext({ cert: pair.certPem, key: pair.keyPem });
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
