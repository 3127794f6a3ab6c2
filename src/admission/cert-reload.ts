import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from '../log/logger.ts';
import type { Clock, Timer } from '../runtime/clock.ts';
import type { KeyPair } from './certs.ts';
import { TLS_CRT, TLS_KEY } from './tls.ts';

/** How often a certificate directory is read again: a mounted Secret updates within a minute or so. */
export const CERT_DIR_RECHECK_MS = 60_000;

/** The serving pair in a directory (cert-manager's Secret mounted, or any tls.crt and tls.key). */
export async function readCertDir(dir: string): Promise<KeyPair> {
  return {
    certPem: await readFile(join(dir, TLS_CRT), 'utf8'),
    keyPem: await readFile(join(dir, TLS_KEY), 'utf8'),
  };
}

/**
 * Checks the certificate every `intervalMs` and hands a changed one to `apply`
 * (a server's setSecureContext): a rotated certificate is served without a
 * restart. A failed check (a half-written Secret update) keeps the current one
 * and is tried again.
 */
export function reloadCertificate(o: {
  source: () => Promise<KeyPair>;
  current: KeyPair;
  apply: (pair: KeyPair) => void;
  intervalMs: number;
  clock: Clock;
  log: Logger;
  /** What is served, for the log, e.g. `webhook`. */
  what: string;
}): { stop(): void } {
  let current = o.current;
  let timer: Timer | undefined;
  let stopped = false;
  const recheck = () => {
    timer = o.clock.after(o.intervalMs, () => {
      void o
        .source()
        .then((next) => {
          if (stopped) return;
          if (next.certPem !== current.certPem || next.keyPem !== current.keyPem) {
            o.apply(next);
            current = next;
            o.log.info(`${o.what} certificate reloaded`);
          }
        })
        .catch((err: unknown) =>
          o.log.warn(`${o.what} certificate check failed; retrying`, { err }),
        )
        .finally(() => {
          if (!stopped) recheck();
        });
    });
  };
  recheck();
  return {
    stop() {
      stopped = true;
      timer?.cancel();
    },
  };
}
