import { readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { serve, type ServerType } from '@hono/node-server';
import { KubeConfig } from '@kubernetes/client-node';
import type { Logger } from '../log/logger.ts';
import { portalApp, type IssuerPort } from './app.ts';
import { Issuer } from './oidc.ts';
import { PeopleConfigs, type AuthMode } from './person.ts';
import { CookieSealer } from './session.ts';
import { loadStaticFiles } from './static.ts';

export interface PortalOptions {
  host: string;
  /** 0 for any free port. */
  port: number;
  publicUrl: string;
  issuer: string;
  clientId: string;
  clientSecret?: string;
  issuerCaPem?: string;
  usernameClaim: string;
  groupsClaim: string;
  usernamePrefix: string;
  groupsPrefix: string;
  authMode: AuthMode;
  /** At least 32 random bytes; shared by all replicas. */
  sessionKey: Buffer;
  /** The API server: its address and CA (token mode), and the portal's own identity (impersonate mode). */
  kubeConfig: KubeConfig;
  log: Logger;
  /** Replaces the OpenID Connect client (tests of the portal's own checks). */
  issuerPort?: IssuerPort;
}

export interface RunningPortal {
  url: string;
  port: number;
  stop(): Promise<void>;
}

/** Pure: the portal's options are sound, or an error that says which flag to fix. */
export function checkPortalOptions(
  o: Pick<PortalOptions, 'publicUrl' | 'issuer' | 'clientId'>,
): void {
  let pub: URL;
  try {
    pub = new URL(o.publicUrl);
  } catch {
    throw new Error(
      `--public-url must be the URL people open, e.g. https://timebox.example.com; got '${o.publicUrl}'`,
    );
  }
  const loopback = ['127.0.0.1', 'localhost', '[::1]'].includes(pub.hostname);
  if (pub.protocol !== 'https:' && !(pub.protocol === 'http:' && loopback)) {
    throw new Error(
      `--public-url must be https (the session cookie is Secure); plain http works on loopback only; got '${o.publicUrl}'`,
    );
  }
  if (pub.pathname !== '/' || pub.search) {
    throw new Error(
      `--public-url must be an origin, with no path (the portal serves from /); got '${o.publicUrl}'`,
    );
  }
  try {
    new URL(o.issuer);
  } catch {
    throw new Error(
      `--issuer must be the OpenID Connect issuer URL, e.g. https://dex.example.com; got '${o.issuer}'`,
    );
  }
  if (!o.clientId)
    throw new Error('--client-id is required: the OpenID Connect client registered for the portal');
}

/** Starts the portal's HTTP server (plain HTTP: TLS is the ingress's job, or loopback). */
export async function startPortal(o: PortalOptions): Promise<RunningPortal> {
  checkPortalOptions(o);
  const publicUrl = new URL(o.publicUrl).origin;
  const people = new PeopleConfigs(o.kubeConfig, o.authMode);
  const issuer =
    o.issuerPort ??
    new Issuer({
      issuer: o.issuer,
      clientId: o.clientId,
      ...(o.clientSecret ? { clientSecret: o.clientSecret } : {}),
      ...(o.issuerCaPem ? { caPem: o.issuerCaPem } : {}),
      redirectUri: `${publicUrl}/callback`,
      usernameClaim: o.usernameClaim,
      groupsClaim: o.groupsClaim,
    });
  const app = portalApp({
    publicUrl,
    issuer,
    people,
    sealer: new CookieSealer(o.sessionKey),
    claims: {
      usernameClaim: o.usernameClaim,
      groupsClaim: o.groupsClaim,
      usernamePrefix: o.usernamePrefix,
      groupsPrefix: o.groupsPrefix,
    },
    staticFiles: loadStaticFiles(),
    log: o.log,
  });
  const server: ServerType = await new Promise((resolve, reject) => {
    const s = serve({ fetch: app.fetch, hostname: o.host, port: o.port }, () => resolve(s));
    s.once('error', reject);
  });
  const port = (server.address() as AddressInfo).port;
  o.log.info('portal serving', {
    url: publicUrl,
    listen: `${o.host}:${port}`,
    authMode: o.authMode,
  });
  return {
    url: publicUrl,
    port,
    stop: async () => {
      // Open event streams would hold close() forever.
      (server as unknown as { closeAllConnections?: () => void }).closeAllConnections?.();
      await new Promise<void>((r) => server.close(() => r()));
      await people.close();
    },
  };
}

/** Reads a session key file: base64 of at least 32 bytes, or the raw bytes. */
export function readSessionKey(path: string): Buffer {
  const raw = readFileSync(path);
  const text = raw.toString('utf8').trim();
  const decoded = /^[A-Za-z0-9+/=_-]+$/.test(text) ? Buffer.from(text, 'base64') : raw;
  return decoded.length >= 32 ? decoded : raw;
}
