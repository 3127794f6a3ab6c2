import { Hono, type Context } from 'hono';
import { deleteCookie, getCookie, setCookie } from 'hono/cookie';
import { streamSSE } from 'hono/streaming';
import { bodyLimit } from 'hono/body-limit';
import { ApiException } from '@kubernetes/client-node';
import { isTerminal, type AccessGrant, type AccessPolicy } from '../api/v1alpha1/types.ts';
import { apiMessage, httpStatus } from '../kube/errors.ts';
import type { Logger } from '../log/logger.ts';
import { specHash } from '../policy/evaluate.ts';
import { precheck } from '../policy/precheck.ts';
import { readActivity } from './activity.ts';
import { auditRecord, filterGrants, parseAuditFilter, toCsv } from './audit.ts';
import { watchGrants, type LiveUpdate } from './live.ts';
import {
  awaitingMe,
  cannotDecide,
  draftFromForm,
  eligiblePolicies,
  isApproverOf,
  myGrants,
  policyChoices,
  type Me,
  type RequestForm,
} from './model.ts';
import { identityFromClaims, type SignIn } from './oidc.ts';
import { PersonApi, type PeopleConfigs } from './person.ts';
import {
  liveSession,
  MAX_COOKIE_VALUE,
  safeReturnTo,
  type CookieSealer,
  type LoginState,
  type Session,
} from './session.ts';
import type { StaticFiles } from './static.ts';
import { activitySection } from './views/activity.ts';
import { approvalCard, approvalsPage, decidedNote } from './views/approvals.ts';
import { auditPage } from './views/audit.ts';
import { accessPage, detailPage, grantPath, grantRow } from './views/grants.ts';
import { html, type Html } from './views/html.ts';
import { errorPage, layout, signInPage, type LayoutOptions } from './views/layout.ts';
import { choosePolicyPage, requestForm } from './views/request.ts';
import { randomBytes } from 'node:crypto';

/** The issuer, as the portal uses it (src/portal/oidc.ts; a fake in unit tests). */
export interface IssuerPort {
  begin(returnTo: string, nowMs: number): Promise<{ url: string; state: LoginState }>;
  finish(callbackUrl: URL, login: LoginState): Promise<SignIn>;
  signOutUrl(after: string): Promise<string | undefined>;
}

export interface PortalAppOptions {
  /** Where people reach the portal, e.g. https://timebox.example.com. */
  publicUrl: string;
  issuer: IssuerPort;
  people: PeopleConfigs;
  sealer: CookieSealer;
  /** For the impersonate mode: how the API server would map the token's claims. */
  claims: {
    usernameClaim: string;
    groupsClaim: string;
    usernamePrefix: string;
    groupsPrefix: string;
  };
  staticFiles: StaticFiles;
  log: Logger;
  now?: () => number;
}

const SESSION = 'timebox-session';
const LOGIN = 'timebox-login';
/** `__Host-`: Secure, path /, no Domain, so no sibling site can set or shadow it. */
const COOKIE = {
  prefix: 'host',
  secure: true,
  httpOnly: true,
  sameSite: 'Lax',
  path: '/',
} as const;

/**
 * The Content-Security-Policy: only the portal's own script and stylesheet, no
 * inline script or style, no framing, forms post only to the portal.
 */
export const CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self'",
  "connect-src 'self'",
  "form-action 'self'",
  "frame-ancestors 'none'",
  "base-uri 'none'",
].join('; ');

type Env = { Variables: { session: Session | undefined } };

const MAX_BODY_BYTES = 64 * 1024;
/** Live pages one session may have open at once: each holds a watch on the API server. */
export const MAX_STREAMS_PER_SESSION = 5;

class Refusal extends Error {
  readonly status: 400 | 403 | 404 | 409 | 422;
  readonly hint: string | undefined;
  constructor(status: 400 | 403 | 404 | 409 | 422, message: string, hint?: string) {
    super(message);
    this.status = status;
    this.hint = hint;
  }
}

export function portalApp(o: PortalAppOptions): Hono<Env> {
  const now = o.now ?? Date.now;
  const origin = new URL(o.publicUrl).origin;
  const app = new Hono<Env>();

  app.use('*', async (c, next) => {
    await next();
    c.header('Content-Security-Policy', CSP);
    c.header('X-Content-Type-Options', 'nosniff');
    c.header('X-Frame-Options', 'DENY');
    // same-origin, not no-referrer: with no-referrer, browsers send `Origin: null` on our own posts.
    c.header('Referrer-Policy', 'same-origin');
    c.header('Cross-Origin-Opener-Policy', 'same-origin');
    c.header('Permissions-Policy', 'camera=(), microphone=(), geolocation=()');
    if (!c.res.headers.has('Cache-Control')) c.header('Cache-Control', 'no-store');
    if (origin.startsWith('https:')) c.header('Strict-Transport-Security', 'max-age=31536000');
  });

  // No form here is larger than a few kilobytes.
  app.use(
    '*',
    bodyLimit({
      maxSize: MAX_BODY_BYTES,
      onError: (c) => c.text('The request is too large.', 413),
    }),
  );

  // The session, from its sealed cookie; a forged, altered or expired one is no session.
  app.use('*', async (c, next) => {
    const s = liveSession(o.sealer.open<Session>('session', getCookie(c, SESSION, 'host')), now());
    if (!s && getCookie(c, SESSION, 'host')) deleteCookie(c, SESSION, COOKIE);
    c.set('session', s);
    await next();
  });

  // Every change must come from the portal's own pages: the CSRF token of the
  // session, and, when the browser says where the request comes from, this origin.
  app.use('*', async (c, next) => {
    if (c.req.method === 'GET' || c.req.method === 'HEAD') return next();
    const from = c.req.header('Origin');
    const site = c.req.header('Sec-Fetch-Site');
    if ((from && from !== origin) || (site && site !== 'same-origin' && site !== 'none')) {
      o.log.warn('refused a cross-site request', { path: c.req.path, origin: from, site });
      return c.html(
        page(c, 'Refused', 'This request came from another site, so it was refused.'),
        403,
      );
    }
    const s = c.get('session');
    if (!s)
      return c.html(signInPage(c.req.path, 'Your session has ended; sign in again.').text, 401);
    const token =
      c.req.header('X-CSRF-Token') ??
      (c.req.header('Content-Type')?.includes('form')
        ? ((await c.req.parseBody())['_csrf'] as string | undefined)
        : undefined);
    if (!o.sealer.csrfValid(s.sid, token)) {
      o.log.warn('refused a request without a valid CSRF token', {
        path: c.req.path,
        user: s.user,
      });
      return c.html(
        page(
          c,
          'Refused',
          'This form is out of date or did not come from this portal, so nothing was done.',
          'Reload the page and try again.',
        ),
        403,
      );
    }
    return next();
  });

  const opts = (
    c: Context<Env>,
    title: string,
    extra: Partial<LayoutOptions> = {},
  ): LayoutOptions => {
    const s = c.get('session');
    return {
      title,
      ...(s
        ? { me: { user: s.user, groups: s.groups, name: s.name }, csrf: o.sealer.csrfToken(s.sid) }
        : {}),
      ...extra,
    };
  };
  const page = (c: Context<Env>, title: string, what: string, hint?: string) =>
    errorPage(opts(c, title), what, hint).text;
  const me = (s: Session): Me => ({ user: s.user, groups: s.groups });
  const api = (s: Session) => {
    if (
      o.people.authMode === 'impersonate' &&
      [s.user, ...s.groups].some((n) => n.startsWith('system:'))
    ) {
      // Checked at sign-in too; again here, so that even a session forged with a
      // stolen key is never lent a system: identity.
      throw new Refusal(403, 'The portal never acts as a system: user or group.');
    }
    return new PersonApi(
      o.people.configFor(
        o.people.authMode === 'token' ? { token: s.idToken } : { impersonate: me(s) },
      ),
    );
  };
  const streams = new Map<string, number>();
  /** A grant's activity section, read as the person: RBAC decides whether there is one. */
  const activityOf = async (person: PersonApi, g: AccessGrant, s: Session) =>
    activitySection(
      await readActivity(
        (ns, name) => person.activity(ns, name),
        g,
        (err) =>
          o.log.warn('cannot read an activity record', {
            user: s.user,
            grant: `${g.metadata.namespace}/${g.metadata.name}`,
            err,
          }),
      ),
    );
  /**
   * Refuses, before anything is recorded, a decision by someone who approves
   * under another policy or none: the controller would not count it, and a
   * record that counts for nothing only misleads whoever reads it.
   */
  const mustApprove = async (person: PersonApi, g: AccessGrant, s: Session) => {
    const policy = (await person.policies()).find((p) => p.metadata.name === g.spec.policy);
    if (!isApproverOf(policy, me(s))) {
      throw new Refusal(
        403,
        `You do not approve under AccessPolicy '${g.spec.policy}', so you cannot decide on or end this grant. Nothing was recorded.`,
      );
    }
  };

  /** Routes that need a person: signed out, they go to sign-in and come back. */
  const signedIn =
    (handler: (c: Context<Env>, s: Session) => Promise<Response>) => async (c: Context<Env>) => {
      const s = c.get('session');
      if (!s) {
        if (c.req.method !== 'GET')
          return c.html(signInPage('/', 'Your session has ended; sign in again.').text, 401);
        return c.html(signInPage(c.req.path + (new URL(c.req.url).search || '')).text, 401);
      }
      try {
        return await handler(c, s);
      } catch (err) {
        if (err instanceof Refusal) {
          return c.html(page(c, 'Not done', err.message, err.hint), err.status);
        }
        const code = httpStatus(err);
        if (code === 401) {
          // The API server no longer accepts the token (expired, revoked): sign in again.
          deleteCookie(c, SESSION, COOKIE);
          return c.html(
            signInPage(c.req.path, 'The cluster no longer accepts your sign-in; sign in again.')
              .text,
            401,
          );
        }
        if (err instanceof ApiException && code && code < 500) {
          return c.html(
            page(c, 'The cluster refused', apiMessage(err)),
            code === 403 ? 403 : code === 404 ? 404 : code === 409 ? 409 : 422,
          );
        }
        o.log.error('portal request failed', { path: c.req.path, user: s.user, err });
        return c.html(
          page(
            c,
            'Something went wrong',
            'The portal could not reach the cluster; try again in a moment.',
          ),
          502,
        );
      }
    };

  const render = (
    c: Context<Env>,
    title: string,
    body: Html,
    extra: Partial<LayoutOptions> = {},
    status: 200 | 409 | 422 = 200,
  ) => c.html(layout(opts(c, title, extra), body).text, status);

  // ---- static files and health
  app.get('/static/:file', (c) => {
    const f = o.staticFiles.get(c.req.param('file'));
    if (!f) return c.notFound();
    if (c.req.header('If-None-Match') === f.etag) return c.body(null, 304);
    c.header('Content-Type', f.type);
    c.header('ETag', f.etag);
    c.header('Cache-Control', 'public, max-age=300');
    return c.body(new Uint8Array(f.body));
  });
  app.get('/healthz', (c) => c.text('ok'));

  // ---- sign-in
  app.get('/login', async (c) => {
    const returnTo = safeReturnTo(c.req.query('returnTo'));
    let begun;
    try {
      begun = await o.issuer.begin(returnTo, now());
    } catch (err) {
      o.log.error('cannot start a sign-in', { err });
      return c.html(
        signInPage(returnTo, `Cannot reach the sign-in service: ${(err as Error).message}`).text,
        502,
      );
    }
    setCookie(c, LOGIN, o.sealer.seal('login', begun.state), { ...COOKIE, maxAge: 600 });
    return c.redirect(begun.url, 302);
  });

  app.get('/callback', async (c) => {
    const login = o.sealer.open<LoginState>('login', getCookie(c, LOGIN, 'host'));
    if (!login || login.expiresAtMs < now()) {
      return c.html(
        signInPage(
          '/',
          'That sign-in was started too long ago, or in another browser; sign in again.',
        ).text,
        400,
      );
    }
    // Only the answer to this browser's own sign-in counts, an error included: a
    // link someone else made can neither cancel it nor put words on this page.
    if (c.req.query('state') !== login.state) {
      return c.html(
        signInPage(login.returnTo, 'That sign-in answer was not for this sign-in; sign in again.')
          .text,
        400,
      );
    }
    deleteCookie(c, LOGIN, COOKIE);
    const error = c.req.query('error');
    if (error) {
      o.log.warn('the issuer refused a sign-in', {
        error,
        description: c.req.query('error_description'),
      });
      return c.html(
        signInPage(
          login.returnTo,
          error === 'access_denied'
            ? 'The sign-in was cancelled or refused.'
            : `The sign-in service refused the sign-in (${error}); try again, or ask your identity team.`,
        ).text,
        400,
      );
    }
    let signIn: SignIn;
    try {
      signIn = await o.issuer.finish(
        new URL(c.req.url.replace(/^[a-z]+:\/\/[^/]+/, origin)),
        login,
      );
    } catch (err) {
      o.log.warn('a sign-in failed its checks', { err });
      return c.html(
        signInPage(
          login.returnTo,
          `The sign-in could not be verified (${(err as Error).message}); sign in again.`,
        ).text,
        400,
      );
    }
    // Who the cluster says this is: in token mode the API server reads the token
    // itself; in impersonate mode the token's claims are mapped as it would.
    let who: Me;
    try {
      const creds =
        o.people.authMode === 'token'
          ? { token: signIn.idToken }
          : { impersonate: identityFromClaims(signIn.claims, o.claims) };
      who = await new PersonApi(o.people.configFor(creds)).whoAmI();
    } catch (err) {
      const status = httpStatus(err);
      const msg =
        status === 401
          ? 'the cluster does not accept sign-ins from this issuer; its API server must trust the issuer with this client ID as audience (see docs/portal.md)'
          : (err as Error).message;
      o.log.warn('the cluster refused a signed-in person', { reason: msg, err });
      return c.html(signInPage(login.returnTo, `Signed in, but ${msg}.`).text, 403);
    }
    const name =
      typeof signIn.claims.name === 'string' && signIn.claims.name ? signIn.claims.name : who.user;
    const session: Session = {
      sid: randomBytes(16).toString('base64url'),
      user: who.user,
      groups: who.groups,
      name,
      idToken: signIn.idToken,
      expiresAtMs: signIn.expiresAtMs,
    };
    const sealed = o.sealer.seal('session', session);
    if (sealed.length > MAX_COOKIE_VALUE) {
      return c.html(
        signInPage(
          '/',
          `Your ID token is too large for a cookie (${sealed.length} bytes): ask your issuer's admin to send fewer groups to this client.`,
        ).text,
        400,
      );
    }
    setCookie(c, SESSION, sealed, {
      ...COOKIE,
      maxAge: Math.max(1, Math.floor((session.expiresAtMs - now()) / 1000)),
    });
    o.log.info('signed in', { user: who.user });
    return c.redirect(safeReturnTo(login.returnTo), 303);
  });

  app.post('/logout', async (c) => {
    const s = c.get('session');
    deleteCookie(c, SESSION, COOKIE);
    const after = `${origin}/signed-out`;
    const url = s ? await o.issuer.signOutUrl(after) : undefined;
    return c.redirect(url ?? '/signed-out', 303);
  });
  app.get('/signed-out', (c) =>
    c.html(
      layout(
        { title: 'Signed out' },
        html`<h1>Signed out</h1>
          <p><a href="/login">Sign in again</a></p>`,
      ).text,
    ),
  );

  // ---- pages
  app.get('/', (c) =>
    c.get('session') ? c.redirect('/access', 303) : c.html(signInPage('/access').text),
  );

  app.get(
    '/access',
    signedIn(async (c, s) => {
      const person = api(s);
      const policies = await person.policies();
      const { items } = await person.grants(policies);
      const waiting = awaitingMe(items, byName(policies), me(s)).length;
      return render(
        c,
        'My access',
        accessPage(myGrants(items, me(s)), me(s), o.sealer.csrfToken(s.sid)),
        {
          active: 'access',
          live: 'access',
          waiting,
          ...flash(c),
        },
      );
    }),
  );

  app.get(
    '/grants/:ns/:name',
    signedIn(async (c, s) => {
      const person = api(s);
      const g = await person.grant(c.req.param('ns') ?? '', c.req.param('name') ?? '');
      if (!g)
        throw new Refusal(
          404,
          `There is no access grant ${c.req.param('ns')}/${c.req.param('name')}, or you may not read it.`,
        );
      const [policies, activity] = await Promise.all([person.policies(), activityOf(person, g, s)]);
      const mayDecide = isApproverOf(byName(policies).get(g.spec.policy), me(s));
      return render(
        c,
        g.metadata.name ?? 'Grant',
        detailPage(g, me(s), o.sealer.csrfToken(s.sid), mayDecide, activity),
        {
          active: 'none',
          live: `grant:${g.metadata.uid}`,
          ...flash(c),
        },
      );
    }),
  );

  app.get(
    '/request',
    signedIn(async (c, s) => {
      const eligible = eligiblePolicies(await api(s).policies(), me(s));
      const chosen = c.req.query('policy');
      if (!chosen)
        return render(c, 'Request access', choosePolicyPage(eligible, me(s)), {
          active: 'request',
        });
      const policy = eligible.find((p) => p.metadata.name === chosen);
      if (!policy) {
        throw new Refusal(
          404,
          `You may not request under AccessPolicy '${chosen}', or it does not exist.`,
          'Choose one of the policies on the Request access page.',
        );
      }
      return render(
        c,
        'Request access',
        requestForm(policyChoices(policy, me(s)), o.sealer.csrfToken(s.sid)),
        { active: 'request' },
      );
    }),
  );

  /** The request as the controller would judge it now: the CLI's and Slack's precheck. */
  const judge = async (s: Session, form: RequestForm) => {
    const eligible = eligiblePolicies(await api(s).policies(), me(s));
    const policy = eligible.find((p) => p.metadata.name === form.policy);
    if (!policy)
      return {
        policy,
        problems: [`you may not request under AccessPolicy '${form.policy ?? ''}'`],
      };
    const draft = draftFromForm(form, me(s));
    if ('errors' in draft) return { policy, problems: draft.errors };
    const [check] = precheck(draft.grant, [policy], new Date(now()));
    if (check?.decision.verdict === 'Denied')
      return { policy, problems: [check.decision.message], draft: draft.grant };
    return { policy, problems: [] as string[], draft: draft.grant, verdict: check?.decision };
  };

  app.post(
    '/request/check',
    signedIn(async (c, s) => {
      const form = (await c.req.json().catch(() => ({}))) as RequestForm;
      const { problems, verdict } = await judge(s, form);
      return c.json({
        ok: problems.length === 0,
        problems,
        ...(verdict ? { message: verdict.message } : {}),
      });
    }),
  );

  app.post(
    '/request',
    signedIn(async (c, s) => {
      const form = formFields(await c.req.parseBody()) as RequestForm;
      const { policy, problems, draft } = await judge(s, form);
      if (!policy) throw new Refusal(403, problems[0]!);
      if (problems.length || !draft) {
        // Nothing is made: the form comes back with the policy's own words.
        return render(
          c,
          'Request access',
          requestForm(policyChoices(policy, me(s)), o.sealer.csrfToken(s.sid), form, problems),
          { active: 'request' },
          422,
        );
      }
      const made = await api(s).create(draft);
      o.log.info('access requested', {
        user: s.user,
        grant: `${made.metadata.namespace}/${made.metadata.name}`,
      });
      return c.redirect(`${grantPath(made)}?done=requested`, 303);
    }),
  );

  app.get(
    '/approvals',
    signedIn(async (c, s) => {
      const person = api(s);
      const policies = await person.policies();
      const { items } = await person.grants(policies);
      const byPolicy = byName(policies);
      const waiting = awaitingMe(items, byPolicy, me(s));
      const approverOfAny = policies.some((p) => isApproverOf(p, me(s)));
      return render(
        c,
        'Approvals',
        approvalsPage(waiting, byPolicy, o.sealer.csrfToken(s.sid), approverOfAny),
        {
          active: 'approvals',
          live: 'approvals',
          waiting: waiting.length,
          ...flash(c),
        },
      );
    }),
  );

  app.post(
    '/grants/:ns/:name/decision',
    signedIn(async (c, s) => {
      const f = formFields(await c.req.parseBody());
      const decision = f.decision;
      if (decision !== 'Approve' && decision !== 'Deny')
        throw new Refusal(400, 'Choose Approve or Deny.');
      const comment = f.comment?.trim();
      if (decision === 'Deny' && !comment)
        throw new Refusal(
          422,
          'Say why you deny it: the requester reads your comment.',
          'Go back, add a comment, and deny again.',
        );
      const person = api(s);
      const g = await person.grant(c.req.param('ns') ?? '', c.req.param('name') ?? '');
      // The decision binds to what the approver saw: the same grant (UID) and the
      // same spec (hash). A grant deleted and made again under the same name, or any
      // other version, is not what they reviewed.
      if (!g || g.metadata.uid !== f.uid || specHash(g.spec) !== f.specHash) {
        throw new Refusal(
          409,
          `This request changed after you saw it, so nothing was ${decision === 'Approve' ? 'approved' : 'denied'}.`,
          g ? `Review it again: ${grantPath(g)}` : 'It no longer exists.',
        );
      }
      const why = cannotDecide(g, me(s));
      if (why)
        throw new Refusal(403, `You cannot decide on this request: ${why}. Nothing was recorded.`);
      await mustApprove(person, g, s);
      if (g.status?.phase !== 'Pending')
        throw new Refusal(
          409,
          `This request is ${g.status?.phase ?? 'not evaluated yet'}; only a Pending request can be decided.`,
        );
      await person.decide(
        g,
        me(s),
        decision,
        { uid: g.metadata.uid!, specHash: specHash(g.spec) },
        comment,
      );
      o.log.info('decision recorded', {
        user: s.user,
        decision,
        grant: `${g.metadata.namespace}/${g.metadata.name}`,
        specHash: f.specHash,
      });
      return c.redirect(`/approvals?done=${decision === 'Approve' ? 'approved' : 'denied'}`, 303);
    }),
  );

  app.post(
    '/grants/:ns/:name/revoke',
    signedIn(async (c, s) => {
      const f = formFields(await c.req.parseBody());
      const person = api(s);
      const g = await person.grant(c.req.param('ns') ?? '', c.req.param('name') ?? '');
      if (!g || g.metadata.uid !== f.uid)
        throw new Refusal(
          409,
          'This grant changed after you saw it, so nothing was revoked.',
          'Reload the page.',
        );
      if (isTerminal(g.status?.phase))
        throw new Refusal(409, `This grant is already ${g.status?.phase}.`);
      const requester =
        g.status?.requestedBy ?? g.metadata.annotations?.['timebox.dev/requested-by'];
      if (requester === s.user) {
        await person.revokeOwn(g);
      } else {
        await mustApprove(person, g, s);
        const comment = f.comment?.trim();
        if (!comment)
          throw new Refusal(
            422,
            "Say why you end someone else's access: it is recorded with your name.",
          );
        await person.decide(g, me(s), 'Revoke', { uid: g.metadata.uid! }, comment);
      }
      o.log.info('revoke asked', {
        user: s.user,
        grant: `${g.metadata.namespace}/${g.metadata.name}`,
      });
      return c.redirect(`${grantPath(g)}?done=revoked`, 303);
    }),
  );

  const auditData = async (c: Context<Env>, s: Session) => {
    const parsed = parseAuditFilter(c.req.query());
    const person = api(s);
    const policies = await person.policies();
    const { items, namespaces } = await person.grants(policies);
    const filter = 'filter' in parsed ? parsed.filter : {};
    return {
      grants: filterGrants(items, filter),
      filter,
      problem: 'error' in parsed ? parsed.error : undefined,
      policies: [...new Set(items.map((g) => g.spec.policy))].sort(),
      scope: namespaces ? `namespaces ${namespaces.join(', ') || '(none)'}` : undefined,
    };
  };

  app.get(
    '/audit',
    signedIn(async (c, s) => {
      const d = await auditData(c, s);
      const query = new URL(c.req.url).search;
      return render(
        c,
        'Audit',
        auditPage(d.grants, d.filter, query, d.policies, d.problem, d.scope),
        { active: 'audit' },
      );
    }),
  );
  app.get(
    '/audit.csv',
    signedIn(async (c, s) => {
      const d = await auditData(c, s);
      c.header('Content-Disposition', 'attachment; filename="timebox-audit.csv"');
      c.header('Content-Type', 'text/csv; charset=utf-8');
      return c.body(toCsv(d.grants.map(auditRecord)));
    }),
  );
  app.get(
    '/audit.json',
    signedIn(async (c, s) => {
      const d = await auditData(c, s);
      c.header('Content-Disposition', 'attachment; filename="timebox-audit.json"');
      return c.json({ filter: d.filter, items: d.grants.map(auditRecord) });
    }),
  );

  // ---- live updates: Server-Sent Events from a watch made as the person
  app.get(
    '/events',
    signedIn(async (c, s) => {
      const site = c.req.header('Sec-Fetch-Site');
      if (site && site !== 'same-origin')
        return c.text("Live updates are for the portal's own pages.", 403);
      if ((streams.get(s.sid) ?? 0) >= MAX_STREAMS_PER_SESSION) {
        return c.text(`At most ${MAX_STREAMS_PER_SESSION} live pages at once: close some.`, 429);
      }
      const view = c.req.query('view') ?? 'access';
      const person = api(s);
      const csrf = o.sealer.csrfToken(s.sid);
      const policies = byName(await person.policies());
      const list = await person.grants([...policies.values()]);
      const render1 = (
        g: AccessGrant,
        deleted: boolean,
        activity?: Html,
      ): LiveUpdate | undefined => {
        const uid = g.metadata.uid ?? '';
        if (view === 'access') {
          if (myGrants([g], me(s)).length === 0) return undefined;
          return deleted
            ? { id: `g-${uid}` }
            : { id: `g-${uid}`, html: grantRow(g, me(s), csrf).text, container: 'grants' };
        }
        if (view === 'approvals') {
          const waits = !deleted && awaitingMe([g], policies, me(s)).length > 0;
          if (waits)
            return {
              id: `a-${uid}`,
              html: approvalCard(g, policies.get(g.spec.policy), csrf).text,
              container: 'approvals',
            };
          if (isApproverOf(policies.get(g.spec.policy), me(s)))
            return { id: `a-${uid}`, html: decidedNote(g).text, replaceOnly: true };
          return undefined;
        }
        if (view === `grant:${uid}`) {
          return {
            id: 'main',
            inner: true,
            html: detailPage(
              g,
              me(s),
              csrf,
              isApproverOf(policies.get(g.spec.policy), me(s)),
              activity,
            ).text,
          };
        }
        return undefined;
      };
      return streamSSE(c, async (stream) => {
        let closed = false;
        let failed = false;
        let wake: () => void = () => {};
        const ended = new Promise<void>((r) => (wake = r));
        // First of all: a page closed while the stream is being set up ends it.
        stream.onAbort(() => wake());
        streams.set(s.sid, (streams.get(s.sid) ?? 0) + 1);
        const send = (u: object | undefined) => {
          if (!u || closed) return;
          void stream.writeSSE({ event: 'update', data: JSON.stringify(u) });
        };
        // A grant's page also shows its activity, read as the person at each change;
        // in order, so that an older read never overwrites a newer one.
        let inOrder = Promise.resolve();
        const push = (g: AccessGrant, deleted: boolean) => {
          if (view !== `grant:${g.metadata.uid}`) return send(render1(g, deleted));
          inOrder = inOrder.then(async () =>
            send(render1(g, deleted, deleted ? undefined : await activityOf(person, g, s))),
          );
        };
        let stop = () => {};
        let timer: NodeJS.Timeout | undefined;
        let ping: NodeJS.Timeout | undefined;
        try {
          // A dropped stream comes back within seconds, and is brought up to date.
          await stream.write('retry: 3000\n\n');
          // The page may be older than this stream: bring every row up to date first.
          for (const g of list.items) push(g, false);
          if (stream.aborted) return;
          stop = await watchGrants(
            person.kc,
            list,
            (type, g) => push(g, type === 'DELETED'),
            (err) => {
              failed = err !== undefined && err !== null;
              wake();
            },
          );
          if (stream.aborted) wake();
          // The session ends when its token does: so does the stream.
          timer = setTimeout(() => wake(), Math.max(0, s.expiresAtMs - now()));
          ping = setInterval(() => void stream.write(': ping\n\n'), 25_000);
          await ended;
          // A watch that fails (RBAC changed, the API server is away) is not retried every few seconds.
          if (failed && !stream.aborted) await stream.write('retry: 30000\n\n');
        } finally {
          closed = true;
          clearTimeout(timer);
          clearInterval(ping);
          stop();
          const left = (streams.get(s.sid) ?? 1) - 1;
          if (left > 0) streams.set(s.sid, left);
          else streams.delete(s.sid);
        }
      });
    }),
  );

  return app;
}

function byName(policies: readonly AccessPolicy[]): Map<string, AccessPolicy> {
  return new Map(policies.map((p) => [p.metadata.name ?? '', p]));
}

/** Form fields as strings; files and repeated fields are not part of any form here. */
function formFields(body: Record<string, unknown>): Record<string, string | undefined> {
  return Object.fromEntries(
    Object.entries(body).map(([k, v]) => [k, typeof v === 'string' ? v : undefined]),
  );
}

const DONE: Record<string, string> = {
  requested: 'Requested. This page follows it live.',
  approved: 'Approved: your decision is recorded for the version you saw.',
  denied: 'Denied: the requester sees your comment.',
  revoked: 'Revoke asked: access ends now.',
};

function flash(c: Context<Env>): Partial<LayoutOptions> {
  const done = DONE[c.req.query('done') ?? ''];
  return done ? { flash: { kind: 'ok', text: done } } : {};
}
