import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { KubeConfig } from '@kubernetes/client-node';
import { createLogger, logOptions } from '../log/logger.ts';
import { parseBindAddress } from '../metrics/server.ts';
import type { AuthMode } from './person.ts';
import { readSessionKey, startPortal } from './server.ts';

export const PORTAL_USAGE = `Usage: timebox portal --public-url URL --issuer URL --client-id ID [options]

Runs the self-service portal: people sign in with OpenID Connect, then request,
approve and follow access in a browser. The portal acts toward the API server as
the signed-in person, never as itself. Each option is also read from the
environment variable in brackets.

  --listen ADDR             where to serve plain HTTP (TLS is the ingress's job)
                            [TIMEBOX_PORTAL_LISTEN] (:8080)
  --public-url URL          the URL people open; https, or http on loopback only. The
                            redirect URI to register is <URL>/callback [TIMEBOX_PORTAL_PUBLIC_URL]
  --issuer URL              the OpenID Connect issuer [TIMEBOX_OIDC_ISSUER]
  --client-id ID            the client registered for the portal [TIMEBOX_OIDC_CLIENT_ID]
                            client secret: [TIMEBOX_OIDC_CLIENT_SECRET] (none: a public client, PKCE)
  --issuer-ca FILE          PEM CA bundle for the issuer, besides the system's [TIMEBOX_OIDC_ISSUER_CA]
  --auth-mode MODE          token: the person's ID token is the bearer token (the API server
                            trusts the issuer, audience = the client ID); impersonate: the
                            portal impersonates the token's user and groups (see docs/portal.md)
                            [TIMEBOX_PORTAL_AUTH_MODE] (token)
  --username-claim NAME     [TIMEBOX_OIDC_USERNAME_CLAIM] (email)   as the API server maps
  --groups-claim NAME       [TIMEBOX_OIDC_GROUPS_CLAIM] (groups)    them, for impersonate mode
  --username-prefix TEXT    [TIMEBOX_OIDC_USERNAME_PREFIX] ("")
  --groups-prefix TEXT      [TIMEBOX_OIDC_GROUPS_PREFIX] ("")
  --session-key-file FILE   32+ random bytes (base64) sealing the session cookies; every replica
                            needs the same [TIMEBOX_PORTAL_SESSION_KEY_FILE] (random per process)
  --api-server URL          the API server, with --api-ca; default: the current kubeconfig, or
  --api-ca FILE             the pod's service account [TIMEBOX_PORTAL_API_SERVER, TIMEBOX_PORTAL_API_CA]
  --kubeconfig FILE         a kubeconfig for the API server (and the portal's identity in
                            impersonate mode)
  --log-level LEVEL         debug, info, warn or error [TIMEBOX_LOG_LEVEL] (info)
  --log-format FORMAT       json or text [TIMEBOX_LOG_FORMAT] (text on a terminal, else json)
  -h, --help`;

/** The API server to talk to: given, else the kubeconfig or the pod's service account. */
function kubeConfig(v: Record<string, string | undefined>, env: NodeJS.ProcessEnv): KubeConfig {
  const kc = new KubeConfig();
  const server = v['api-server'] ?? env.TIMEBOX_PORTAL_API_SERVER;
  if (server) {
    const ca = v['api-ca'] ?? env.TIMEBOX_PORTAL_API_CA;
    kc.loadFromOptions({
      clusters: [{ name: 'cluster', server, ...(ca ? { caFile: ca } : {}), skipTLSVerify: false }],
      users: [{ name: 'portal' }],
      contexts: [{ name: 'portal', cluster: 'cluster', user: 'portal' }],
      currentContext: 'portal',
    });
    return kc;
  }
  if (v.kubeconfig) kc.loadFromFile(v.kubeconfig);
  else kc.loadFromDefault();
  return kc;
}

export async function runPortal(
  argv: string[],
  out = (s: string) => console.log(s),
  err = (s: string) => console.error(s),
  env = process.env,
): Promise<number> {
  let values: Record<string, string | boolean | undefined>;
  try {
    values = parseArgs({
      args: argv,
      options: {
        listen: { type: 'string' },
        'public-url': { type: 'string' },
        issuer: { type: 'string' },
        'client-id': { type: 'string' },
        'issuer-ca': { type: 'string' },
        'auth-mode': { type: 'string' },
        'username-claim': { type: 'string' },
        'groups-claim': { type: 'string' },
        'username-prefix': { type: 'string' },
        'groups-prefix': { type: 'string' },
        'session-key-file': { type: 'string' },
        'api-server': { type: 'string' },
        'api-ca': { type: 'string' },
        kubeconfig: { type: 'string' },
        'log-level': { type: 'string' },
        'log-format': { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    }).values;
  } catch (e) {
    err(`error: ${(e as Error).message}\n${PORTAL_USAGE}`);
    return 2;
  }
  if (values.help) {
    out(PORTAL_USAGE);
    return 0;
  }
  const v = values as Record<string, string | undefined>;
  const pick = (flag: string, name: string, fallback?: string) => v[flag] ?? env[name] ?? fallback;
  try {
    const log = createLogger(
      logOptions(pick('log-level', 'TIMEBOX_LOG_LEVEL'), pick('log-format', 'TIMEBOX_LOG_FORMAT')),
      { component: 'portal' },
    );
    const mode = pick('auth-mode', 'TIMEBOX_PORTAL_AUTH_MODE', 'token');
    if (mode !== 'token' && mode !== 'impersonate') {
      throw new Error(`--auth-mode must be token or impersonate, got '${mode}'`);
    }
    const listen = parseBindAddress(pick('listen', 'TIMEBOX_PORTAL_LISTEN', ':8080')!, '--listen');
    if (!listen) throw new Error('--listen must be an address to serve on, e.g. :8080');
    const required = (flag: string, name: string) => {
      const value = pick(flag, name);
      if (!value) throw new Error(`--${flag} (or ${name}) is required; see timebox portal --help`);
      return value;
    };
    const keyFile = pick('session-key-file', 'TIMEBOX_PORTAL_SESSION_KEY_FILE');
    if (!keyFile) {
      log.warn(
        'no --session-key-file: sessions end when this process does, and replicas do not share them',
      );
    }
    const caFile = pick('issuer-ca', 'TIMEBOX_OIDC_ISSUER_CA');
    const secret = env.TIMEBOX_OIDC_CLIENT_SECRET;
    const portal = await startPortal({
      host: listen.host,
      port: listen.port,
      publicUrl: required('public-url', 'TIMEBOX_PORTAL_PUBLIC_URL'),
      issuer: required('issuer', 'TIMEBOX_OIDC_ISSUER'),
      clientId: required('client-id', 'TIMEBOX_OIDC_CLIENT_ID'),
      ...(secret ? { clientSecret: secret } : {}),
      ...(caFile ? { issuerCaPem: readFileSync(caFile, 'utf8') } : {}),
      usernameClaim: pick('username-claim', 'TIMEBOX_OIDC_USERNAME_CLAIM', 'email')!,
      groupsClaim: pick('groups-claim', 'TIMEBOX_OIDC_GROUPS_CLAIM', 'groups')!,
      usernamePrefix: pick('username-prefix', 'TIMEBOX_OIDC_USERNAME_PREFIX', '')!,
      groupsPrefix: pick('groups-prefix', 'TIMEBOX_OIDC_GROUPS_PREFIX', '')!,
      authMode: mode as AuthMode,
      sessionKey: keyFile ? readSessionKey(keyFile) : randomBytes(32),
      kubeConfig: kubeConfig(v, env),
      log,
    });
    out(`Timebox portal: ${portal.url}`);
    await new Promise<void>((resolve) => {
      const stop = () => void portal.stop().then(resolve);
      process.once('SIGTERM', stop);
      process.once('SIGINT', stop);
    });
    return 0;
  } catch (e) {
    err(`error: ${(e as Error).message}`);
    return 1;
  }
}
