import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { KubeConfig } from '@kubernetes/client-node';
import type { Logger } from '../log/logger.ts';
import { startPortal, type RunningPortal } from '../portal/server.ts';
import type { SandboxIssuer } from './oidc.ts';
import { freePort, portFree } from './ports.ts';

/**
 * The portal for `npm start`, signed in through the sandbox's issuer, in token
 * mode (the sandbox's API server trusts the issuer). Its port and session key are
 * kept in `<dir>/portal/`, so after a restart the same URL works and nobody is
 * signed out.
 */
export async function startSandboxPortal(
  dir: string,
  issuer: SandboxIssuer,
  cluster: KubeConfig,
  log: Logger,
): Promise<RunningPortal> {
  const home = join(dir, 'portal');
  mkdirSync(home, { recursive: true });
  const keyFile = join(home, 'session.key');
  if (!existsSync(keyFile))
    writeFileSync(keyFile, randomBytes(32).toString('base64'), { mode: 0o600 });
  const portFile = join(home, 'port');
  const saved = existsSync(portFile) ? Number(readFileSync(portFile, 'utf8')) : NaN;
  const port = Number.isInteger(saved) && (await portFree(saved)) ? saved : await freePort();
  writeFileSync(portFile, String(port));
  return startPortal({
    host: '127.0.0.1',
    port,
    publicUrl: `http://127.0.0.1:${port}`,
    issuer: issuer.issuer,
    clientId: issuer.clientId,
    ...(issuer.clientSecret ? { clientSecret: issuer.clientSecret } : {}),
    issuerCaPem: issuer.caPem,
    usernameClaim: 'email',
    groupsClaim: 'groups',
    usernamePrefix: '',
    groupsPrefix: '',
    authMode: 'token',
    sessionKey: Buffer.from(readFileSync(keyFile, 'utf8').trim(), 'base64'),
    kubeConfig: cluster,
    log: log.with({ component: 'portal' }),
  });
}
