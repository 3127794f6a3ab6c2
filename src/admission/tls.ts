import { isConflict } from '../kube/errors.ts';
import type { Clock } from '../runtime/clock.ts';
import type { Logger } from '../log/logger.ts';
import { newCA, newServingCert, needsRenewal, type KeyPair } from './certs.ts';

/** The Secret that holds the CA and the serving pair, shared by every replica. */
export interface TlsSecretPort {
  /** The secret's data (PEM strings) and version; undefined when there is none. */
  read(): Promise<{ data: Record<string, string>; resourceVersion: string } | undefined>;
  /** Creates it; rejects with a conflict if someone else did first. */
  create(data: Record<string, string>): Promise<void>;
  /** Replaces it if still at `resourceVersion`; rejects with a conflict otherwise. */
  update(data: Record<string, string>, resourceVersion: string): Promise<void>;
}

/** Where the API server learns which CA to trust: the webhook configuration's caBundle. */
export interface CaBundlePort {
  /** Sets caBundle on every webhook of the configuration (idempotent). */
  setCaBundle(pem: string): Promise<void>;
}

export const CA_CRT = 'ca.crt';
export const CA_KEY = 'ca.key';
export const TLS_CRT = 'tls.crt';
export const TLS_KEY = 'tls.key';

/**
 * Self-managed TLS for the webhook, for clusters without cert-manager: a CA and a
 * serving certificate in one Secret, renewed when a third of their life is left,
 * with the CA injected into the webhook configuration (as cert-manager's
 * cainjector would). Every replica runs it; the Secret's resourceVersion makes
 * them agree on one pair, and a replica that loses the race adopts the winner's.
 */
export class SelfManagedTls {
  private readonly d: {
    secret: TlsSecretPort;
    caBundle: CaBundlePort;
    hosts: string[];
    clock: Clock;
    log: Logger;
  };

  constructor(deps: SelfManagedTls['d']) {
    this.d = deps;
  }

  /** The serving pair to use now, issued or renewed first if need be. */
  async ensure(): Promise<KeyPair> {
    for (let attempt = 0; attempt < 5; attempt++) {
      const now = this.d.clock.now();
      const current = await this.d.secret.read();
      const data = current?.data ?? {};
      let ca: KeyPair | undefined =
        data[CA_CRT] && data[CA_KEY] ? { certPem: data[CA_CRT], keyPem: data[CA_KEY] } : undefined;
      const renewCa = !ca || needsRenewal(ca.certPem, now);
      if (renewCa) ca = newCA(now);
      const renewServing =
        renewCa || !data[TLS_KEY] || needsRenewal(data[TLS_CRT], now, this.d.hosts, ca!.certPem);
      if (!renewServing) {
        await this.d.caBundle.setCaBundle(ca!.certPem);
        return { certPem: data[TLS_CRT]!, keyPem: data[TLS_KEY]! };
      }
      const serving = newServingCert(ca!, this.d.hosts, now);
      const next = {
        [CA_CRT]: ca!.certPem,
        [CA_KEY]: ca!.keyPem,
        [TLS_CRT]: serving.certPem,
        [TLS_KEY]: serving.keyPem,
      };
      try {
        if (current) await this.d.secret.update(next, current.resourceVersion);
        else await this.d.secret.create(next);
      } catch (err) {
        if (isConflict(err)) continue; // another replica wrote first: adopt theirs
        throw err;
      }
      this.d.log.info(
        renewCa
          ? 'issued a new webhook CA and serving certificate'
          : 'renewed the webhook serving certificate',
        {
          hosts: this.d.hosts.join(','),
        },
      );
      await this.d.caBundle.setCaBundle(ca!.certPem);
      return serving;
    }
    throw new Error('could not agree on a webhook certificate with the other replicas; retrying');
  }
}
