import { createHash, generateKeyPairSync, randomBytes, timingSafeEqual } from 'node:crypto';
import { once } from 'node:events';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer as createHttpServer, type RequestListener, type Server } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { tmpdir } from 'node:os';
import { join, relative, resolve } from 'node:path';
import Provider, { type KoaContext, type Middleware } from 'oidc-provider';
import { newCA, newServingCert, type KeyPair } from '../admission/certs.ts';
import { DEMO_PEOPLE } from './demo.ts';
import type { SandboxOidcTrust } from './sandbox.ts';

/** Someone who signs in at the sandbox issuer with an email and a password. */
export interface SandboxPerson {
  /** The email address, which is also the Kubernetes user name. */
  user: string;
  groups: string[];
  name?: string;
  password: string;
}

/** An application that signs people in at the sandbox issuer. */
export interface SandboxClient {
  id: string;
  /** Absent: a public client (token endpoint auth `none`), protected by PKCE alone. */
  secret?: string;
  /**
   * Where the issuer may send the browser back. Loopback http URIs match any port
   * (RFC 8252 §7.3), so a portal on whatever port it got is accepted.
   */
  redirectUris?: string[];
  postLogoutRedirectUris?: string[];
}

export interface SandboxIssuerOptions {
  /**
   * The sandbox directory: keys, passwords, the CA and the ports are kept in
   * `<dir>/oidc/` so a restarted sandbox has the same issuer and people. Without
   * it, a temporary directory, removed on stop.
   */
  dir?: string;
  /** Default: DEMO_PEOPLE, with passwords generated once per `dir`. */
  people?: SandboxPerson[];
  /** Default: one confidential client, `timebox-portal`, with a secret generated once per `dir`. */
  clients?: SandboxClient[];
  /** ID token lifetime in seconds (default one hour). */
  idTokenTtlSeconds?: number;
  log?: (msg: string) => void;
}

/** A running OpenID Connect provider for the sandbox. */
export interface SandboxIssuer {
  /** `https://127.0.0.1:<port>`: what servers (API server, portal) use, trusting `caPem`. */
  issuer: string;
  /** `http://127.0.0.1:<port>`: the same provider, where browsers sign in without a certificate warning. */
  browserUrl: string;
  caPem: string;
  /** `caPem` on disk, e.g. for a portal's `--issuer-ca` or NODE_EXTRA_CA_CERTS. */
  caFile: string;
  /** The first client's ID and secret. */
  clientId: string;
  clientSecret: string | undefined;
  clients: SandboxClient[];
  people: SandboxPerson[];
  stop(): Promise<void>;
}

export const PORTAL_CLIENT_ID = 'timebox-portal';
/** The scopes the issuer knows; a first-party client is granted all of them without a consent page. */
export const SANDBOX_SCOPES = ['openid', 'email', 'profile', 'groups'] as const;
const ID_TOKEN_TTL_S = 3600;
const LOGIN_BODY_LIMIT_BYTES = 8 * 1024;
const WRONG_LOGIN = 'Wrong email or password';

/** The loopback redirect URIs of a client, any port: `/callback` after sign-in, `/signed-out` after sign-out. */
export function loopbackUris(path: string): string[] {
  return [`http://127.0.0.1${path}`, `http://localhost${path}`];
}

interface IssuerState {
  jwk: Record<string, unknown>;
  cookieKeys: string[];
  ca: KeyPair;
  portalSecret: string;
  ports?: { tls: number; http: number };
}

function readJson<T>(file: string): T | undefined {
  if (!existsSync(file)) return undefined;
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as T;
  } catch {
    // A damaged file is replaced: the sandbox's issuer state is disposable.
    return undefined;
  }
}

function writeSecret(file: string, data: unknown): void {
  writeFileSync(file, JSON.stringify(data, null, 2) + '\n', { mode: 0o600 });
  // writeFileSync's mode applies only when it creates the file.
  chmodSync(file, 0o600);
}

/** Easy to type from a terminal, and 72 random bits. */
function newPassword(): string {
  return randomBytes(9).toString('base64url');
}

function loadState(oidcDir: string): IssuerState {
  const file = join(oidcDir, 'keys.json');
  const saved = readJson<IssuerState>(file);
  if (saved?.jwk && saved.cookieKeys?.length && saved.ca?.certPem && saved.portalSecret) {
    return saved;
  }
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const state: IssuerState = {
    jwk: {
      ...privateKey.export({ format: 'jwk' }),
      kid: randomBytes(8).toString('hex'),
      alg: 'RS256',
      use: 'sig',
    },
    cookieKeys: [randomBytes(32).toString('base64url')],
    ca: newCA(new Date()),
    portalSecret: randomBytes(24).toString('base64url'),
  };
  writeSecret(file, state);
  return state;
}

/**
 * The demo people (DEMO_PEOPLE) with their passwords, generated on first use
 * and kept in `<dir>/oidc/people.json` (mode 0600), so that `npm start` can
 * print them and they survive a restart. Groups always come from DEMO_PEOPLE.
 */
export function demoPeople(dir: string): SandboxPerson[] {
  const oidcDir = join(resolve(dir), 'oidc');
  mkdirSync(oidcDir, { recursive: true, mode: 0o700 });
  const file = join(oidcDir, 'people.json');
  const saved = readJson<{ user: string; password: string }[]>(file) ?? [];
  const people = DEMO_PEOPLE.map((p) => ({
    user: p.user,
    groups: [...(p.groups ?? [])],
    name: displayName(p.user),
    password: saved.find((s) => s.user === p.user)?.password ?? newPassword(),
  }));
  const changed = people.some((p) => !saved.some((s) => s.user === p.user));
  if (changed || !existsSync(file)) {
    writeSecret(
      file,
      people.map(({ user, password }) => ({ user, password })),
    );
  }
  return people;
}

/** `alice@example.com` → `Alice`. */
function displayName(email: string): string {
  const local = email.split('@')[0] ?? email;
  return local.charAt(0).toUpperCase() + local.slice(1);
}

/** Listens on loopback, on `preferred` if it is still free, else on any free port. */
async function listen(server: Server, preferred: number | undefined): Promise<number> {
  for (const port of preferred ? [preferred, 0] : [0]) {
    try {
      server.listen(port, '127.0.0.1');
      await once(server, 'listening');
      const addr = server.address();
      if (addr && typeof addr === 'object') return addr.port;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EADDRINUSE' || port === 0) throw err;
    }
  }
  throw new Error('could not listen on loopback');
}

/**
 * Pure: the discovery document with the endpoints a browser visits
 * (authorization, end of session) on the plain-http `browserUrl`, and every
 * other endpoint on the https issuer. oidc-provider builds each URL from the
 * request, so without this a document fetched over https would send browsers to
 * the https port and its certificate warning, and one fetched over http would
 * send servers' token requests over plain http.
 */
export function rewriteDiscovery(
  doc: Record<string, unknown>,
  urls: { issuer: string; browserUrl: string },
): Record<string, unknown> {
  const browserFacing = new Set(['authorization_endpoint', 'end_session_endpoint']);
  const out: Record<string, unknown> = { ...doc };
  for (const [key, value] of Object.entries(doc)) {
    if (typeof value !== 'string' || !(key.endsWith('_endpoint') || key === 'jwks_uri')) continue;
    const url = URL.parse(value);
    if (!url) continue;
    const base = new URL(browserFacing.has(key) ? urls.browserUrl : urls.issuer);
    url.protocol = base.protocol;
    url.host = base.host;
    out[key] = url.href;
  }
  return out;
}

/** Pure: text safe to put in HTML content and in quoted attribute values. */
export function escapeHtml(value: unknown): string {
  return String(value ?? '').replace(/[&<>"'`=]/g, (c) => `&#${c.charCodeAt(0)};`);
}

const CSS = `body{font-family:system-ui,sans-serif;margin:0;background:#f4f5f7;color:#1d2330}
main{max-width:22rem;margin:4rem auto;padding:2rem;background:#fff;border-radius:8px;box-shadow:0 1px 3px #0003}
h1{font-size:1.4rem;margin-top:0}label{display:block;font-weight:600;margin:1rem 0 .25rem}
input{box-sizing:border-box;width:100%;padding:.6rem;font-size:1rem;border:1px solid #6b7280;border-radius:4px}
button{margin-top:1.25rem;width:100%;padding:.7rem;font-size:1rem;border:0;border-radius:4px;background:#1d4ed8;color:#fff;cursor:pointer}
button.secondary{background:#e5e7eb;color:#1d2330}
:focus-visible{outline:3px solid #f59e0b;outline-offset:2px}
.error{color:#b91c1c;font-weight:600}.hint{color:#4b5563;font-size:.9rem}`;

/**
 * No script runs on these pages, and the one inline stylesheet is allowed by its
 * hash. oidc-provider adds the hash of its own auto-submitting form (the
 * form_post response mode and the sign-out confirmation) to script-src. No
 * form-action: browsers apply it to the redirects after a submit too, and the
 * login form ends at the application's redirect URI, another origin.
 */
const CSP = [
  "default-src 'none'",
  "script-src 'self'",
  `style-src 'sha256-${createHash('sha256').update(CSS).digest('base64')}'`,
  "base-uri 'none'",
  "frame-ancestors 'none'",
].join('; ');

function page(title: string, body: string): string {
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)} · Timebox sandbox</title>
<style>${CSS}</style>
</head>
<body>
<main>
${body}
</main>
</body>
</html>
`;
}

function render(ctx: KoaContext, status: number, title: string, body: string): void {
  ctx.status = status;
  ctx.type = 'html';
  ctx.set('Cache-Control', 'no-store');
  ctx.body = page(title, body);
}

/** Pure: the sign-in page of interaction `uid`. */
export function loginPage(opts: {
  uid: string;
  clientId: string;
  email?: string;
  error?: string;
}): { title: string; body: string } {
  const uid = encodeURIComponent(opts.uid);
  const invalid = opts.error ? ' aria-invalid="true" aria-describedby="error"' : '';
  return {
    title: 'Sign in',
    body: `<h1>Sign in to ${escapeHtml(opts.clientId)}</h1>
${opts.error ? `<p id="error" class="error" role="alert">${escapeHtml(opts.error)}</p>` : ''}
<form method="post" action="/interaction/${uid}/login">
<label for="email">Email</label>
<input id="email" name="email" type="email" autocomplete="username" required autofocus value="${escapeHtml(opts.email)}"${invalid}>
<label for="password">Password</label>
<input id="password" name="password" type="password" autocomplete="current-password" required${invalid}>
<button type="submit">Sign in</button>
</form>
<form method="post" action="/interaction/${uid}/abort">
<button type="submit" class="secondary">Cancel</button>
</form>
<p class="hint">The sandbox printed the demo people and their passwords when it started (npm start).</p>`,
  };
}

/** Constant-time in the password; an unknown email costs the same as a wrong password. */
function checkPassword(
  people: SandboxPerson[],
  email: string,
  password: string,
): SandboxPerson | undefined {
  const digest = (s: string) => createHash('sha256').update(s).digest();
  const person = people.find((p) => p.user.toLowerCase() === email.trim().toLowerCase());
  const expected = digest(person?.password ?? randomBytes(16).toString('hex'));
  const ok = timingSafeEqual(digest(password), expected);
  return ok && person ? person : undefined;
}

async function readForm(ctx: KoaContext): Promise<URLSearchParams> {
  const type = ctx.get('content-type').split(';')[0]?.trim();
  if (type !== 'application/x-www-form-urlencoded') {
    throw Object.assign(new Error('expected a form (application/x-www-form-urlencoded)'), {
      status: 415,
    });
  }
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of ctx.req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > LOGIN_BODY_LIMIT_BYTES) {
      throw Object.assign(new Error('the form is too large'), { status: 413 });
    }
    chunks.push(chunk);
  }
  return new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
}

/**
 * Starts an OpenID Connect provider (oidc-provider) in this process for the
 * sandbox: over https at `issuer`, which the API server requires and trusts
 * through `caPem`, and over plain http at `browserUrl` for browsers (loopback
 * http is a secure context, and a newcomer sees no certificate warning). Both
 * serve the same provider, sessions and keys.
 */
export async function startSandboxIssuer(opts: SandboxIssuerOptions = {}): Promise<SandboxIssuer> {
  const log = opts.log ?? (() => {});
  const ownDir = opts.dir === undefined;
  const dir = resolve(opts.dir ?? (await mkdtemp(join(tmpdir(), 'timebox-oidc-'))));
  const oidcDir = join(dir, 'oidc');
  mkdirSync(oidcDir, { recursive: true, mode: 0o700 });
  const state = loadState(oidcDir);
  const people = opts.people ?? demoPeople(dir);
  const clients = opts.clients ?? [
    {
      id: PORTAL_CLIENT_ID,
      secret: state.portalSecret,
      redirectUris: loopbackUris('/callback'),
      postLogoutRedirectUris: loopbackUris('/signed-out'),
    },
  ];
  if (clients.length === 0) throw new Error('startSandboxIssuer: give at least one client');
  const caFile = join(oidcDir, 'ca.crt');
  writeFileSync(caFile, state.ca.certPem);
  // Serving certificates are cheap, and a fresh one never needs renewing.
  const serving = newServingCert(state.ca, ['127.0.0.1', 'localhost'], new Date());

  // The servers listen before the provider exists: the issuer URL names the port.
  let handler: RequestListener | undefined;
  const dispatch: RequestListener = (req, res) => {
    if (handler) return void handler(req, res);
    res.writeHead(503).end();
  };
  const tls = createHttpsServer({ key: serving.keyPem, cert: serving.certPem }, dispatch);
  const plain = createHttpServer(dispatch);
  const stopServers = async () => {
    for (const s of [tls, plain]) {
      if (!s.listening) continue;
      s.closeAllConnections();
      await new Promise<void>((r) => s.close(() => r()));
    }
  };
  try {
    const ports = {
      tls: await listen(tls, state.ports?.tls),
      http: await listen(plain, state.ports?.http),
    };
    if (ports.tls !== state.ports?.tls || ports.http !== state.ports?.http) {
      // The same ports next time keep the issuer URL, and so its old ID tokens, valid.
      writeSecret(join(oidcDir, 'keys.json'), { ...state, ports });
    }
    const issuer = `https://127.0.0.1:${ports.tls}`;
    const browserUrl = `http://127.0.0.1:${ports.http}`;
    const provider = newProvider({ issuer, browserUrl, state, people, clients, opts, log });
    handler = provider.callback();
    log(`sandbox OIDC issuer at ${issuer} (browsers: ${browserUrl})`);
    return {
      issuer,
      browserUrl,
      caPem: state.ca.certPem,
      caFile,
      clientId: clients[0]!.id,
      clientSecret: clients[0]!.secret,
      clients,
      people,
      stop: async () => {
        await stopServers();
        if (ownDir) await rm(dir, { recursive: true, force: true });
      },
    };
  } catch (err) {
    await stopServers();
    if (ownDir) await rm(dir, { recursive: true, force: true });
    throw err;
  }
}

function newProvider(init: {
  issuer: string;
  browserUrl: string;
  state: IssuerState;
  people: SandboxPerson[];
  clients: SandboxClient[];
  opts: SandboxIssuerOptions;
  log: (msg: string) => void;
}): Provider {
  const { issuer, browserUrl, state, people, clients, log } = init;
  const findPerson = (id: string) => people.find((p) => p.user.toLowerCase() === id.toLowerCase());
  const provider = new Provider(issuer, {
    adapter: memoryAdapter(),
    clients: clients.map((c) => ({
      client_id: c.id,
      ...(c.secret ? { client_secret: c.secret } : { token_endpoint_auth_method: 'none' }),
      application_type: 'native',
      redirect_uris: c.redirectUris ?? loopbackUris('/callback'),
      post_logout_redirect_uris: c.postLogoutRedirectUris ?? loopbackUris('/signed-out'),
      grant_types: ['authorization_code'],
      response_types: ['code'],
    })),
    jwks: { keys: [state.jwk] },
    cookies: { keys: state.cookieKeys },
    claims: {
      openid: ['sub'],
      email: ['email', 'email_verified'],
      profile: ['name'],
      groups: ['groups'],
      acr: null,
      auth_time: null,
      iss: null,
      sid: null,
    },
    scopes: ['openid'],
    responseTypes: ['code'],
    pkce: { required: () => true },
    // The API server reads the ID token only (never userinfo): it must carry
    // the email and groups itself, even when an access token is issued too.
    conformIdTokenClaims: false,
    findAccount: (_ctx: unknown, sub: string) => {
      const p = findPerson(sub);
      return (
        p && {
          accountId: p.user,
          claims: () => ({
            sub: p.user,
            email: p.user,
            email_verified: true,
            name: p.name ?? displayName(p.user),
            groups: p.groups,
          }),
        }
      );
    },
    ttl: {
      IdToken: init.opts.idTokenTtlSeconds ?? ID_TOKEN_TTL_S,
      AccessToken: init.opts.idTokenTtlSeconds ?? ID_TOKEN_TTL_S,
      AuthorizationCode: 60,
      Interaction: 600,
      Session: 8 * 3600,
      Grant: 8 * 3600,
    },
    interactions: {
      url: (_ctx: unknown, interaction: { uid: string }) => `/interaction/${interaction.uid}`,
    },
    features: {
      devInteractions: { enabled: false },
      // A `resource` parameter would need a resource-server policy; no client sends one.
      resourceIndicators: { enabled: false },
      rpInitiatedLogout: {
        enabled: true,
        logoutSource: (ctx: KoaContext, form: string) => {
          // `form` is oidc-provider's own markup, with its xsrf token: not user input.
          render(
            ctx,
            200,
            'Sign out',
            `<h1>Sign out of the Timebox sandbox?</h1>
${form}
<button type="submit" form="op.logoutForm" name="logout" value="yes">Yes, sign me out</button>
<button type="submit" form="op.logoutForm" class="secondary">No, stay signed in</button>`,
          );
        },
        postLogoutSuccessSource: (ctx: KoaContext) => {
          render(ctx, 200, 'Signed out', '<h1>You are signed out</h1>');
        },
      },
    },
    // Server-side clients only: no origin may call the endpoints from a browser.
    clientBasedCORS: () => false,
    renderError: (ctx: KoaContext, out: Record<string, unknown>) => {
      render(
        ctx,
        ctx.status,
        'Sign-in error',
        `<h1>Sign-in failed</h1>
<p role="alert">${escapeHtml(out.error_description ?? out.error)}</p>
<p class="hint">Go back to the application and sign in again.</p>`,
      );
    },
  });
  provider.on('server_error', (_ctx, err) => log(`OIDC issuer error: ${String(err)}`));
  // Koa prints unhandled errors to the console unless something listens.
  provider.on('error', (err) => log(`OIDC issuer error: ${String(err)}`));
  provider.use(securityHeaders);
  provider.use(async (ctx, next) => {
    await next();
    if (ctx.path === '/.well-known/openid-configuration' && ctx.status === 200) {
      ctx.body = rewriteDiscovery(ctx.body as Record<string, unknown>, { issuer, browserUrl });
    }
  });
  provider.use(interactions(provider, people));
  return provider;
}

const securityHeaders: Middleware = async (ctx, next) => {
  ctx.set('Content-Security-Policy', CSP);
  ctx.set('X-Content-Type-Options', 'nosniff');
  ctx.set('Referrer-Policy', 'no-referrer');
  await next();
};

/**
 * The sign-in pages: GET /interaction/:uid shows the form, POST …/login checks
 * the password, POST …/abort cancels. Consent is never asked: every client is
 * the sandbox's own, so it is granted all the scopes at once. oidc-provider
 * still asks for it (a consent prompt) whenever a native client signs someone
 * in from an existing session; that interaction is answered at once too.
 */
function interactions(provider: Provider, people: SandboxPerson[]): Middleware {
  const grantAll = async (accountId: string, clientId: string, grantId?: string) => {
    const grant =
      (grantId ? await provider.Grant.find(grantId) : undefined) ??
      new provider.Grant({ accountId, clientId });
    grant.addOIDCScope(SANDBOX_SCOPES.join(' '));
    return grant.save();
  };
  const finish = async (ctx: KoaContext, result: Parameters<Provider['interactionResult']>[2]) => {
    const returnTo = await provider.interactionResult(ctx.req, ctx.res, result, {
      mergeWithLastSubmission: false,
    });
    ctx.status = 303;
    ctx.redirect(returnTo);
  };
  return async (ctx, next) => {
    const m = /^\/interaction\/([^/]+)(?:\/(login|abort))?$/.exec(ctx.path);
    if (!m) return next();
    const [, uid, action] = m;
    const expected = action ? 'POST' : 'GET';
    if (ctx.method !== expected) {
      ctx.set('Allow', expected);
      return render(ctx, 405, 'Sign-in error', '<h1>Method not allowed</h1>');
    }
    try {
      const details = await provider.interactionDetails(ctx.req, ctx.res);
      if (details.uid !== uid) {
        throw Object.assign(new Error('this sign-in page belongs to another sign-in'), {
          name: 'SessionNotFound',
        });
      }
      const clientId = details.params.client_id;
      if (action === 'abort') {
        return await finish(ctx, {
          error: 'access_denied',
          error_description: 'the person cancelled the sign-in',
        });
      }
      if (details.prompt.name === 'consent' && details.session) {
        const grantId = await grantAll(details.session.accountId, clientId, details.grantId);
        return await finish(ctx, { consent: { grantId } });
      }
      if (details.prompt.name !== 'login') {
        return render(ctx, 400, 'Sign-in error', '<h1>This sign-in cannot continue</h1>');
      }
      const hint = typeof details.params.login_hint === 'string' ? details.params.login_hint : '';
      if (!action) {
        const { title, body } = loginPage({ uid: details.uid, clientId, email: hint });
        return render(ctx, 200, title, body);
      }
      const form = await readForm(ctx);
      const email = form.get('email') ?? '';
      const person = checkPassword(people, email, form.get('password') ?? '');
      if (!person) {
        const { title, body } = loginPage({
          uid: details.uid,
          clientId,
          email,
          error: WRONG_LOGIN,
        });
        return render(ctx, 401, title, body);
      }
      const grantId = await grantAll(person.user, clientId);
      return await finish(ctx, { login: { accountId: person.user }, consent: { grantId } });
    } catch (err) {
      const e = err as Error & { status?: number };
      if (e.name === 'SessionNotFound') {
        return render(
          ctx,
          400,
          'Sign-in expired',
          `<h1>This sign-in has expired</h1>
<p class="hint">Go back to the application and sign in again.</p>`,
        );
      }
      if (e.status === 413 || e.status === 415) {
        return render(
          ctx,
          e.status,
          'Sign-in error',
          `<p role="alert">${escapeHtml(e.message)}</p>`,
        );
      }
      throw err;
    }
  };
}

interface Stored {
  payload: Record<string, unknown>;
  expiresAtMs: number;
}

/**
 * oidc-provider's storage interface over one Map per provider: the built-in
 * memory adapter is shared by every provider in the process (the tests run more
 * than one) and warns on the console. Nothing survives a restart: people sign in
 * again; the signing key, which does persist, keeps their ID tokens valid.
 */
export function memoryAdapter(nowMs: () => number = Date.now) {
  const items = new Map<string, Stored>();
  const byGrant = new Map<string, Set<string>>();
  const index = new Map<string, string>();
  const get = (key: string) => {
    const item = items.get(key);
    if (item && item.expiresAtMs <= nowMs()) {
      items.delete(key);
      return undefined;
    }
    return item?.payload;
  };
  const prune = () => {
    const now = nowMs();
    for (const [key, item] of items) if (item.expiresAtMs <= now) items.delete(key);
  };
  return (model: string) => {
    const key = (id: string) => `${model}:${id}`;
    return {
      async upsert(id: string, payload: Record<string, unknown>, expiresInS?: number) {
        if (items.size > 10_000) prune();
        const k = key(id);
        items.set(k, {
          payload,
          expiresAtMs: expiresInS ? nowMs() + expiresInS * 1000 : Number.POSITIVE_INFINITY,
        });
        if (typeof payload.grantId === 'string') {
          const members = byGrant.get(payload.grantId) ?? new Set<string>();
          byGrant.set(payload.grantId, members.add(k));
        }
        if (typeof payload.uid === 'string') index.set(`${model}:uid:${payload.uid}`, id);
        if (typeof payload.userCode === 'string') {
          index.set(`${model}:userCode:${payload.userCode}`, id);
        }
      },
      async find(id: string) {
        return get(key(id));
      },
      async findByUid(uid: string) {
        const id = index.get(`${model}:uid:${uid}`);
        return id === undefined ? undefined : get(key(id));
      },
      async findByUserCode(userCode: string) {
        const id = index.get(`${model}:userCode:${userCode}`);
        return id === undefined ? undefined : get(key(id));
      },
      async consume(id: string) {
        const payload = get(key(id));
        if (payload) payload.consumed = Math.floor(nowMs() / 1000);
      },
      async destroy(id: string) {
        items.delete(key(id));
      },
      async revokeByGrantId(grantId: string) {
        for (const k of byGrant.get(grantId) ?? []) items.delete(k);
        byGrant.delete(grantId);
      },
    };
  };
}

/**
 * What the API server needs to accept the issuer's ID tokens (SandboxOptions.oidc).
 * By default only the first client's (the portal's) tokens: a token minted for
 * another application is not a credential for the cluster.
 */
export function apiServerTrust(
  issuer: SandboxIssuer,
  audiences: string[] = [issuer.clientId],
): SandboxOidcTrust {
  return { issuer: issuer.issuer, caPem: issuer.caPem, audiences };
}

/** What to print so a newcomer can sign in: the people, their groups and passwords. */
export function describeSignIn(issuer: SandboxIssuer, cwd = process.cwd()): string {
  const width = Math.max(...issuer.people.map((p) => p.user.length));
  const ca = relative(cwd, issuer.caFile) || issuer.caFile;
  return [
    `Sign-in (OpenID Connect issuer ${issuer.issuer}, CA ${ca}):`,
    ...issuer.people.map(
      (p) => `  ${p.user.padEnd(width)}  password ${p.password}  (${p.groups.join(', ')})`,
    ),
  ].join('\n');
}

/**
 * For `npm start`: the sandbox's issuer with the demo people, kept in
 * `sandboxDir`, and the trust to pass as SandboxOptions.oidc. Start it before
 * the sandbox: the API server reads its authentication configuration at start.
 */
export async function startSandboxSignIn(
  sandboxDir: string,
  log?: (msg: string) => void,
): Promise<{ issuer: SandboxIssuer; oidc: SandboxOidcTrust }> {
  const issuer = await startSandboxIssuer({ dir: sandboxDir, ...(log ? { log } : {}) });
  return { issuer, oidc: apiServerTrust(issuer) };
}
