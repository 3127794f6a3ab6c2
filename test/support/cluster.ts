import { randomBytes } from 'node:crypto';
import { DEMO_PEOPLE } from '../../src/sandbox/demo.ts';
import { startTestEnvironment, type ClusterEnvironment } from '../../src/sandbox/environment.ts';
import type { SandboxIssuer, SandboxPerson } from '../../src/sandbox/oidc.ts';

let shared: Promise<ClusterEnvironment> | undefined;
let issuer: Promise<SandboxIssuer> | undefined;

const verbose = (msg: string) =>
  process.env.TIMEBOX_TEST_VERBOSE && console.error(`[sandbox] ${msg}`);

/** A client of the test issuer whose ID tokens the API server must refuse: another audience. */
export const OTHER_CLIENT = { id: 'not-kubernetes', secret: randomBytes(24).toString('base64url') };

/**
 * Someone the test issuer vouches for as a member of `system:masters`: what a
 * compromised or careless issuer could claim. The API server must refuse them.
 */
export const ISSUER_CLAIMS_MASTERS: SandboxPerson = {
  user: 'eve@example.com',
  groups: ['payments-oncall', 'system:masters'],
  password: randomBytes(12).toString('base64url'),
};

/**
 * The OpenID Connect issuer the test cluster's API server trusts (audience: its
 * first client, `timebox-portal`): the demo people with fresh passwords, plus
 * ISSUER_CLAIMS_MASTERS, and OTHER_CLIENT besides the portal's. Stopped after
 * the whole run (see hooks.ts).
 */
export function testIssuer(): Promise<SandboxIssuer> {
  issuer ??= import('../../src/sandbox/oidc.ts').then(({ PORTAL_CLIENT_ID, startSandboxIssuer }) =>
    startSandboxIssuer({
      people: [
        ...DEMO_PEOPLE.map((p) => ({
          user: p.user,
          groups: p.groups ?? [],
          password: randomBytes(12).toString('base64url'),
        })),
        ISSUER_CLAIMS_MASTERS,
      ],
      clients: [
        { id: PORTAL_CLIENT_ID, secret: randomBytes(24).toString('base64url') },
        OTHER_CLIENT,
      ],
      log: verbose,
    }),
  );
  return issuer;
}

/**
 * The cluster shared by the integration tests, started on first use and stopped
 * after the whole run (see hooks.ts). Start-up includes the one-off build of the
 * control plane when it is not cached yet, so callers give it a long timeout.
 * A sandbox's API server also accepts the ID tokens of testIssuer().
 */
export function testCluster(): Promise<ClusterEnvironment> {
  shared ??= testIssuer().then(async (oidc) => {
    const { apiServerTrust } = await import('../../src/sandbox/oidc.ts');
    return startTestEnvironment({ auditLog: true, log: verbose, oidc: apiServerTrust(oidc) });
  });
  return shared;
}

export async function stopTestCluster(): Promise<void> {
  if (!shared) return;
  const env = await shared.catch(() => undefined);
  shared = undefined;
  await env?.stop();
}

/** After the cluster: its API server would log failed fetches of the issuer's keys. */
export async function stopTestIssuer(): Promise<void> {
  if (!issuer) return;
  const running = await issuer.catch(() => undefined);
  issuer = undefined;
  await running?.stop();
}

/** Start-up budget for `before` hooks that need the cluster (a cold build takes far longer). */
export const CLUSTER_START_TIMEOUT_MS = 60 * 60 * 1000;
