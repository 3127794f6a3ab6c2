import * as client from 'openid-client';
import { Agent, fetch as undiciFetch } from 'undici';
import type { SandboxIssuer } from '../../src/sandbox/oidc.ts';

/** A page the browser was shown instead of being sent back to the application. */
export interface Refused {
  status: number;
  body: string;
  /** Every redirect the browser followed before it, as status and Location. */
  hops: string[];
}

export type SignInResult =
  { ok: true; idToken: string; claims: client.IDToken } | ({ ok: false } & Refused);

function isLoopbackHttp(url: string | undefined): boolean {
  const u = url ? URL.parse(url) : null;
  return u?.protocol === 'http:' && ['127.0.0.1', 'localhost', '[::1]'].includes(u.hostname);
}

/** A fetch that trusts the issuer's private CA, as a portal configured with it does. */
export function fetchTrusting(caPem: string | Buffer): typeof undiciFetch {
  const dispatcher = new Agent({ connect: { ca: caPem } });
  return (url, init) => undiciFetch(url, { ...init, dispatcher });
}

/**
 * Cookies by name, as a browser keeps them for one loopback host; oidc-provider
 * expires a cookie by setting it again with a date in the past.
 */
class CookieJar {
  private readonly cookies = new Map<string, string>();

  take(res: Response): void {
    for (const line of res.headers.getSetCookie()) {
      const [pair = '', ...attrs] = line.split(';');
      const eq = pair.indexOf('=');
      const name = pair.slice(0, eq).trim();
      const expires = attrs.find((a) => /^\s*expires=/i.test(a))?.split('=')[1];
      if (expires && Date.parse(expires) <= Date.now()) this.cookies.delete(name);
      else this.cookies.set(name, pair.slice(eq + 1).trim());
    }
  }

  header(): string {
    return [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; ');
  }
}

/**
 * The authorization code flow with PKCE, as a browser and a server-side portal
 * go through it, without a browser: openid-client is the portal; plain fetch
 * follows the redirects by hand, keeps the interaction cookies and posts the
 * sign-in form. The browser side uses the issuer's http origin, the portal its
 * https one, as in the sandbox.
 */
export async function signIn(
  issuer: SandboxIssuer,
  who: { email: string; password: string },
  app: { id: string; secret?: string } = { id: issuer.clientId, secret: issuer.clientSecret },
): Promise<SignInResult> {
  const config = await client.discovery(
    new URL(issuer.issuer),
    app.id,
    undefined,
    app.secret ? client.ClientSecretBasic(app.secret) : client.None(),
    { [client.customFetch]: fetchTrusting(issuer.caPem) as unknown as client.CustomFetch },
  );
  // The sandbox sends browsers to its plain-http loopback origin (no certificate
  // warning); openid-client builds no http URL unless told to. Every endpoint the
  // portal itself calls stays https.
  if (isLoopbackHttp(config.serverMetadata().authorization_endpoint)) {
    client.allowInsecureRequests(config);
  }
  const verifier = client.randomPKCECodeVerifier();
  const state = client.randomState();
  const redirectUri = 'http://127.0.0.1:9/callback';
  let url = client.buildAuthorizationUrl(config, {
    redirect_uri: redirectUri,
    scope: 'openid email profile groups',
    code_challenge: await client.calculatePKCECodeChallenge(verifier),
    code_challenge_method: 'S256',
    state,
  });
  const jar = new CookieJar();
  const hops: string[] = [];
  let submitted = false;
  for (let i = 0; i < 10; i++) {
    if (url.href.startsWith(redirectUri)) {
      const tokens = await client.authorizationCodeGrant(config, url, {
        pkceCodeVerifier: verifier,
        expectedState: state,
        idTokenExpected: true,
      });
      return { ok: true, idToken: tokens.id_token!, claims: tokens.claims()! };
    }
    const res = await fetch(url, { redirect: 'manual', headers: { cookie: jar.header() } });
    jar.take(res);
    const location = res.headers.get('location');
    if (res.status >= 300 && res.status < 400 && location) {
      hops.push(`${res.status} ${location}`);
      url = new URL(location, url);
      continue;
    }
    const body = await res.text();
    const action = /<form method="post" action="([^"]+\/login)"/.exec(body)?.[1];
    if (res.status !== 200 || !action || submitted)
      return { ok: false, status: res.status, body, hops };
    // The sign-in page: post its form, as a browser would.
    submitted = true;
    const post = await fetch(new URL(action, url), {
      method: 'POST',
      redirect: 'manual',
      headers: { cookie: jar.header(), 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ email: who.email, password: who.password }),
    });
    jar.take(post);
    const next = post.headers.get('location');
    if (post.status !== 303 || !next) {
      return { ok: false, status: post.status, body: await post.text(), hops };
    }
    hops.push(`${post.status} ${next}`);
    url = new URL(next, url);
  }
  throw new Error(`sign-in did not end after 10 redirects: ${hops.join(', ')}`);
}
