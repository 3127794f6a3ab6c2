import { generateKeyPairSync, randomBytes, X509Certificate } from 'node:crypto';
import { isIP } from 'node:net';
import forge from 'node-forge';

/** A certificate and its private key, PEM-encoded. */
export interface KeyPair {
  certPem: string;
  keyPem: string;
}

const DAY_MS = 24 * 3600 * 1000;
/** The CA lives long, so the caBundle in the webhook configuration rarely changes. */
export const CA_VALIDITY_MS = 10 * 365 * DAY_MS;
export const SERVING_VALIDITY_MS = 365 * DAY_MS;

function keyPair(): {
  forgeKey: forge.pki.rsa.PrivateKey;
  publicKey: forge.pki.rsa.PublicKey;
  keyPem: string;
} {
  // Node's native key generation; node-forge only builds and signs the certificates.
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const keyPem = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  const forgeKey = forge.pki.privateKeyFromPem(keyPem) as forge.pki.rsa.PrivateKey;
  return { forgeKey, publicKey: forge.pki.setRsaPublicKey(forgeKey.n, forgeKey.e), keyPem };
}

function certificate(
  publicKey: forge.pki.PublicKey,
  subject: string,
  now: Date,
  validityMs: number,
): forge.pki.Certificate {
  const cert = forge.pki.createCertificate();
  cert.publicKey = publicKey;
  // Positive, random serial numbers, as RFC 5280 asks.
  cert.serialNumber = `01${randomBytes(15).toString('hex')}`;
  // A little slack for clocks that disagree.
  cert.validity.notBefore = new Date(now.getTime() - 5 * 60_000);
  cert.validity.notAfter = new Date(now.getTime() + validityMs);
  cert.setSubject([{ name: 'commonName', value: subject }]);
  return cert;
}

/** A self-signed CA that signs the webhook's serving certificates. */
export function newCA(now: Date, validityMs = CA_VALIDITY_MS): KeyPair {
  const k = keyPair();
  const cert = certificate(k.publicKey, 'timebox-webhook-ca', now, validityMs);
  cert.setIssuer(cert.subject.attributes);
  cert.setExtensions([
    { name: 'basicConstraints', cA: true, critical: true },
    { name: 'keyUsage', keyCertSign: true, cRLSign: true, critical: true },
  ]);
  cert.sign(k.forgeKey, forge.md.sha256.create());
  return { certPem: forge.pki.certificateToPem(cert), keyPem: k.keyPem };
}

/** A serving certificate for `hosts` (DNS names or IP addresses), signed by `ca`. */
export function newServingCert(
  ca: KeyPair,
  hosts: string[],
  now: Date,
  validityMs = SERVING_VALIDITY_MS,
): KeyPair {
  const k = keyPair();
  const caCert = forge.pki.certificateFromPem(ca.certPem);
  const cert = certificate(k.publicKey, hosts[0] ?? 'timebox-webhook', now, validityMs);
  cert.setIssuer(caCert.subject.attributes);
  cert.setExtensions([
    { name: 'basicConstraints', cA: false },
    { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
    { name: 'extKeyUsage', serverAuth: true },
    {
      name: 'subjectAltName',
      altNames: hosts.map((h) => (isIP(h) ? { type: 7, ip: h } : { type: 2, value: h })),
    },
  ]);
  cert.sign(
    forge.pki.privateKeyFromPem(ca.keyPem) as forge.pki.rsa.PrivateKey,
    forge.md.sha256.create(),
  );
  return { certPem: forge.pki.certificateToPem(cert), keyPem: k.keyPem };
}

/**
 * Pure: whether a certificate must be replaced: it does not parse, was not issued
 * by `caPem`, lacks one of `hosts`, or has less than a third of its life left
 * (cert-manager's default renewBefore).
 */
export function needsRenewal(
  certPem: string | undefined,
  now: Date,
  hosts: string[] = [],
  caPem?: string,
): boolean {
  if (!certPem) return true;
  try {
    const cert = new X509Certificate(certPem);
    const from = Date.parse(cert.validFrom);
    const to = Date.parse(cert.validTo);
    if (now.getTime() > to - (to - from) / 3) return true;
    if (caPem && !cert.verify(new X509Certificate(caPem).publicKey)) return true;
    return !hosts.every((h) => (isIP(h) ? cert.checkIP(h) : cert.checkHost(h)) !== undefined);
  } catch {
    return true;
  }
}
