import { rootCertificates } from 'node:tls';
import * as oidc from 'openid-client';
import { Agent, fetch as undiciFetch } from 'undici';
import type { LoginState } from './session.ts';

export interface IssuerOptions {
  issuer: string;
  clientId: string;
  /** Absent: a public client, protected by PKCE alone. */
  clientSecret?: string;
  /** PEM bundle to trust for the issuer, besides the system's. */
  caPem?: string;
  /** `<public URL>/callback`. */
  redirectUri: string;
  /** The claims the API server maps, for the impersonation mode and for display. */
  usernameClaim: string;
  groupsClaim: string;
}

/** What a finished sign-in yields: the ID token and the claims it carries, verified. */
export interface SignIn {
  idToken: string;
  claims: Record<string, unknown>;
  expiresAtMs: number;
}

/** How long a sign-in may take at the issuer before its state is refused. */
const LOGIN_STATE_TTL_MS = 10 * 60_000;

/**
 * The portal's side of OpenID Connect: authorization code flow with PKCE, state
 * and nonce (openid-client), for a server-side client. openid-client checks the
 * ID token's signature (the issuer's JWKS), issuer, audience, expiry and nonce.
 */
export class Issuer {
  private config: oidc.Configuration | undefined;
  private readonly opts: IssuerOptions;

  constructor(opts: IssuerOptions) {
    this.opts = opts;
  }

  /** Discovery, once; a failure is retried on the next sign-in rather than at start only. */
  private async configuration(): Promise<oidc.Configuration> {
    if (this.config) return this.config;
    const { issuer, clientId, clientSecret, caPem } = this.opts;
    // A `ca` option replaces Node's bundled roots: the private CA is added to them.
    const dispatcher = caPem
      ? new Agent({ connect: { ca: [...rootCertificates, caPem] } })
      : undefined;
    const options: oidc.DiscoveryRequestOptions = dispatcher
      ? {
          [oidc.customFetch]: ((url: string, init: Parameters<typeof undiciFetch>[1]) =>
            undiciFetch(url, { ...init, dispatcher })) as unknown as oidc.CustomFetch,
        }
      : {};
    try {
      this.config = await oidc.discovery(
        new URL(issuer),
        clientId,
        undefined,
        clientSecret ? oidc.ClientSecretBasic(clientSecret) : oidc.None(),
        options,
      );
    } catch (err) {
      throw new Error(
        `cannot read the OpenID Connect discovery document of ${issuer} (${(err as Error).message}); check --issuer, and --issuer-ca if it uses a private CA`,
        { cause: err },
      );
    }
    // A sign-in page on plain http is safe only on loopback (a browser's secure
    // context): the sandbox's issuer serves browsers there. openid-client builds
    // no http URL unless told; everything the portal itself calls stays https.
    const auth = URL.parse(this.config.serverMetadata().authorization_endpoint ?? '');
    if (auth?.protocol === 'http:' && ['127.0.0.1', 'localhost', '[::1]'].includes(auth.hostname)) {
      oidc.allowInsecureRequests(this.config);
    }
    return this.config;
  }

  /** Where to send the browser, and what to remember until it comes back. */
  async begin(returnTo: string, nowMs: number): Promise<{ url: string; state: LoginState }> {
    const config = await this.configuration();
    const codeVerifier = oidc.randomPKCECodeVerifier();
    const state = oidc.randomState();
    const nonce = oidc.randomNonce();
    const url = oidc.buildAuthorizationUrl(config, {
      redirect_uri: this.opts.redirectUri,
      scope: 'openid email profile groups',
      code_challenge: await oidc.calculatePKCECodeChallenge(codeVerifier),
      code_challenge_method: 'S256',
      state,
      nonce,
    });
    return {
      url: url.href,
      state: { state, nonce, codeVerifier, returnTo, expiresAtMs: nowMs + LOGIN_STATE_TTL_MS },
    };
  }

  /** Exchanges the code of the callback URL; throws on any check that fails. */
  async finish(callbackUrl: URL, login: LoginState): Promise<SignIn> {
    const config = await this.configuration();
    const tokens = await oidc.authorizationCodeGrant(config, callbackUrl, {
      pkceCodeVerifier: login.codeVerifier,
      expectedState: login.state,
      expectedNonce: login.nonce,
      idTokenExpected: true,
    });
    const claims = tokens.claims();
    if (!tokens.id_token || !claims) throw new Error('the issuer returned no ID token');
    return { idToken: tokens.id_token, claims: { ...claims }, expiresAtMs: claims.exp * 1000 };
  }

  /**
   * The issuer's sign-out page, when it has one, returning to `after`. It names
   * the client, not the ID token (`id_token_hint`): in token mode the ID token is a
   * working credential for the cluster, and a URL ends up in histories and logs.
   */
  async signOutUrl(after: string): Promise<string | undefined> {
    const config = await this.configuration().catch(() => undefined);
    if (!config?.serverMetadata().end_session_endpoint) return undefined;
    return oidc.buildEndSessionUrl(config, {
      client_id: this.opts.clientId,
      post_logout_redirect_uri: after,
    }).href;
  }
}

/**
 * Pure: the identity a verified token asserts, as the API server would map it
 * (`claimMappings` with these claims and prefixes). Used by the impersonation
 * mode only; with the token mode the API server itself says who it is.
 */
export function identityFromClaims(
  claims: Record<string, unknown>,
  m: { usernameClaim: string; groupsClaim: string; usernamePrefix: string; groupsPrefix: string },
): { user: string; groups: string[] } {
  const user = claims[m.usernameClaim];
  if (typeof user !== 'string' || user === '') {
    throw new Error(
      `the ID token has no '${m.usernameClaim}' claim to name you by; set --username-claim to a claim your issuer sends`,
    );
  }
  if (m.usernameClaim === 'email' && claims.email_verified === false) {
    throw new Error(
      'the issuer says your email address is not verified; verify it and sign in again',
    );
  }
  const raw = claims[m.groupsClaim];
  const groups = Array.isArray(raw) ? raw.filter((g): g is string => typeof g === 'string') : [];
  // Names with a colon are Kubernetes' and its installers' (system:masters,
  // kubeadm:cluster-admins): without a prefix, an issuer's claim must not be one.
  const reserved = [...(m.usernamePrefix ? [] : [user]), ...(m.groupsPrefix ? [] : groups)].filter(
    (n) => n.includes(':'),
  );
  if (reserved.length) {
    throw new Error(
      `the ID token names ${reserved.join(', ')}: names with a colon are reserved in Kubernetes (system:, kubeadm:), so the portal refuses to impersonate them unprefixed; set --username-prefix and --groups-prefix (and the API server's claim mappings) to e.g. oidc:`,
    );
  }
  const out = { user: m.usernamePrefix + user, groups: groups.map((g) => m.groupsPrefix + g) };
  // The portal never lends anyone a system: identity, whatever an issuer says.
  if (out.user.startsWith('system:') || out.groups.some((g) => g.startsWith('system:'))) {
    throw new Error(
      `the ID token asserts a system: user or group (${[out.user, ...out.groups].filter((g) => g.startsWith('system:')).join(', ')}); the portal refuses to act as one`,
    );
  }
  return out;
}
