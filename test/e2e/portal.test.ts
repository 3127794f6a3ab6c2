import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { once } from 'node:events';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CoreV1Api, RbacAuthorizationV1Api } from '@kubernetes/client-node';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import type { AccessActivityStatus } from '../../src/api/v1alpha1/activity.ts';
import type { AccessApproval, AccessGrant } from '../../src/api/v1alpha1/types.ts';
import { activityObject } from '../../src/activity/object.ts';
import { timeboxClient } from '../../src/kube/client.ts';
import type { Identity } from '../../src/sandbox/impersonation.ts';
import type { SandboxIssuer, SandboxPerson } from '../../src/sandbox/oidc.ts';
import { freePort } from '../../src/sandbox/ports.ts';
import { withToken } from '../../src/sandbox/setup.ts';
import { specHash } from '../../src/policy/evaluate.ts';
import { CookieSealer } from '../../src/portal/session.ts';
import { MAX_STREAMS_PER_SESSION } from '../../src/portal/app.ts';
import { launchBrowser, signInWithBrowser } from '../support/browser.ts';
import { ISSUER_CLAIMS_MASTERS, testIssuer } from '../support/cluster.ts';
import { allowed, approvalAs, approvalsOf as approvalsIn, requestAs } from '../support/requests.ts';
import {
  createAccessPolicy,
  createNamespace,
  grantsApi,
  OPERATOR_NAMESPACE,
  waitForPhase,
  withOperator,
} from '../support/timebox.ts';
import { eventually } from '../support/wait.ts';

const CLI = fileURLToPath(new URL('../../src/cli/main.ts', import.meta.url));
const AXE = fileURLToPath(new URL('../../node_modules/axe-core/axe.min.js', import.meta.url));
const SCREENSHOTS = process.env.TIMEBOX_SCREENSHOTS;
const AZURE_SCOPE = '/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/payments';
const ALICE_OID = '11111111-2222-3333-4444-555555555555';
/** The page's globals, for code Playwright runs in the browser (the tests compile without the DOM types). */
declare const window: Record<string, unknown>;
declare const document: { cookie: string };

/** The portal as people run it: `timebox portal`, a process of its own (token mode unless told). */
async function startPortalProcess(
  issuer: SandboxIssuer,
  kubeconfig: string,
  dir: string,
  extraArgs: string[] = [],
): Promise<{ url: string; child: ChildProcess; logs: () => string; sessionKey: Buffer }> {
  const port = await freePort();
  const sessionKey = randomBytes(32);
  const keyFile = join(dir, `session-${port}.key`);
  writeFileSync(keyFile, sessionKey.toString('base64'), { mode: 0o600 });
  const url = `http://127.0.0.1:${port}`;
  const child = spawn(
    process.execPath,
    [
      CLI,
      'portal',
      `--listen=127.0.0.1:${port}`,
      `--public-url=${url}`,
      `--issuer=${issuer.issuer}`,
      `--client-id=${issuer.clientId}`,
      `--issuer-ca=${issuer.caFile}`,
      `--session-key-file=${keyFile}`,
      `--kubeconfig=${kubeconfig}`,
      ...extraArgs,
    ],
    {
      env: { ...process.env, TIMEBOX_OIDC_CLIENT_SECRET: issuer.clientSecret ?? '' },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let out = '';
  child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (out += d.toString()));
  await eventually(async () => out.includes(`Timebox portal: ${url}`), {
    timeoutMs: 30_000,
    what: () => `the portal to start; output:\n${out}`,
  });
  return { url, child, logs: () => out, sessionKey };
}

/**
 * The portal end to end in a real browser (Debian's Chromium, driven by
 * Playwright), against the real API server trusting the sandbox's OpenID Connect
 * issuer: people sign in on the issuer's page, the portal acts as them with their
 * ID token, and the real authorizer is the oracle.
 */
describe('Portal: request, approve and watch access in a browser', function () {
  this.timeout(240_000);
  const suite = withOperator('timebox-portal-operator');
  let issuer: SandboxIssuer;
  let portal: Awaited<ReturnType<typeof startPortalProcess>>;
  let browser: Browser;
  let ns: string;
  let policy: string;
  /** A policy that hands out Azure access only (the operator runs no Azure provider: it stays Pending). */
  let azurePolicy: string;
  let alice: SandboxPerson;
  let bob: SandboxPerson;
  let carol: SandboxPerson;
  const contexts: BrowserContext[] = [];
  /** A grant page with an activity section, for the accessibility check. */
  let activityPage: string | undefined;
  const id = (p: SandboxPerson): Identity => ({ user: p.user, groups: p.groups });

  /** A browser context of its own, signed in as `who` at `url`'s portal, on `path`. */
  async function signedIn(who: SandboxPerson, path = '/access', url = portal.url): Promise<Page> {
    const context = await browser.newContext();
    contexts.push(context);
    const page = await context.newPage();
    await signInWithBrowser(page, url, { user: who.user, password: who.password }, path);
    return page;
  }
  const approvalsOf = (grant: string) => approvalsIn(suite.cluster, ns, grant);
  /** bob approves exactly the version of `g` given, through the API server as himself. */
  const approveAsBob = (g: AccessGrant) =>
    approvalAs(suite.cluster, id(bob), ns, {
      metadata: { generateName: `${g.metadata.name}-`, namespace: ns },
      spec: {
        grantRef: { name: g.metadata.name!, uid: g.metadata.uid!, specHash: specHash(g.spec) },
        decision: 'Approve',
        approver: bob.user,
        approverGroups: bob.groups,
      } as AccessApproval['spec'],
    });
  /** A post made by hand with the person's own session and CSRF token: only the portal's checks stand. */
  const crafted = async (page: Page, path: string, form: Record<string, string>) => {
    const csrf = (await page.locator('meta[name="csrf-token"]').getAttribute('content'))!;
    const res = await page.request.post(`${portal.url}${path}`, {
      form: { _csrf: csrf, ...form },
      maxRedirects: 0,
    });
    return { status: res.status(), text: await res.text() };
  };
  const adminActivities = () => timeboxClient(suite.cluster.admin()).activities;
  const shot = async (page: Page, name: string) => {
    if (SCREENSHOTS)
      await page.screenshot({ path: join(SCREENSHOTS, `${name}.png`), fullPage: true });
  };

  before(async function () {
    this.timeout(600_000);
    issuer = await testIssuer();
    const person = (user: string) => issuer.people.find((p) => p.user === user)!;
    [alice, bob, carol] = [
      person('alice@example.com'),
      person('bob@example.com'),
      person('carol@example.com'),
    ];
    ns = await createNamespace(suite.cluster, 'portal');
    policy = `portal-${ns.slice(-6)}`;
    await createAccessPolicy(suite.cluster.admin(), policy, {
      // carol both requests and approves: she must never approve her own.
      requesters: { groups: ['payments-oncall'], users: [carol.user] },
      selfOnly: true,
      namespaces: [ns],
      access: [{ kubernetes: { clusterRoles: ['view', 'edit'], namespaces: [ns] } }],
      maxDuration: '4h',
      requireReason: true,
      allowPersistentEscalation: true,
      approval: { mode: 'Manual', approvers: { groups: ['payments-leads'] }, required: 1 },
    });
    azurePolicy = `${policy}-azure`;
    await createAccessPolicy(suite.cluster.admin(), azurePolicy, {
      requesters: { groups: ['payments-oncall'] },
      namespaces: [ns],
      access: [{ azure: { scopes: [AZURE_SCOPE], roles: ['Reader'], principalIds: [ALICE_OID] } }],
      maxDuration: '1h',
      approval: { mode: 'Manual', approvers: { groups: ['payments-leads'] }, required: 1 },
    });
    if (SCREENSHOTS) mkdirSync(SCREENSHOTS, { recursive: true });
    portal = await startPortalProcess(issuer, suite.cluster.kubeconfigPath!, suite.work);
    browser = await launchBrowser();
  });

  after(async () => {
    for (const c of contexts) await c.close().catch(() => {});
    await browser?.close();
    if (portal && portal.child.exitCode === null) {
      portal.child.kill('SIGTERM');
      await once(portal.child, 'exit');
    }
  });

  it('requests as one person, approves as another, turns Active live, and revokes', async () => {
    const page = await signedIn(alice);
    // A mistake is caught before anything is made, in the policy's own words.
    await page.goto(`${portal.url}/request?policy=${policy}`);
    await page.getByLabel('ClusterRole').selectOption('view');
    await page.getByLabel(/^Duration/).fill('6h');
    await page.getByLabel(/^Reason/).fill('INC-7 payments are slow');
    await page.locator('#check li', { hasText: 'exceeds the maxDuration 4h' }).waitFor();
    await page.getByRole('button', { name: 'Request' }).click();
    await page.getByRole('alert').filter({ hasText: 'exceeds the maxDuration 4h' }).waitFor();
    assert.equal((await grantsApi(suite.cluster.admin()).list(ns)).length, 0, 'nothing was made');
    await shot(page, 'request-refused');

    await page.getByLabel(/^Duration/).fill('1h');
    await page.getByRole('button', { name: 'Request' }).click();
    await page.waitForURL(/\/grants\//);
    const name = decodeURIComponent(new URL(page.url()).pathname.split('/').pop()!);
    const made = await waitForPhase(suite.cluster, ns, name, 'Pending');
    assert.equal(
      made.status?.requestedBy,
      alice.user,
      'the API server, not the portal, says who asked',
    );

    // My access: live; a marker on the window shows the page is never reloaded.
    await page.goto(`${portal.url}/access`);
    const row = page.locator(`#g-${made.metadata.uid}`);
    await row.locator('[data-phase="Pending"]').waitFor();
    await page.locator('body[data-live-connected="true"]').waitFor();
    await page.evaluate(() => (window.marker = 42));

    // The approver, in a browser of their own, sees the request in full.
    const approver = await signedIn(bob, '/approvals');
    const card = approver.locator(`#a-${made.metadata.uid}`);
    await card.waitFor();
    for (const fact of [
      alice.user,
      'ClusterRole view',
      ns,
      '1h',
      'INC-7 payments are slow',
      policy,
    ]) {
      await card.getByText(fact, { exact: false }).first().waitFor();
    }
    await shot(approver, 'approvals');
    await card.getByLabel(/^Comment/).fill('checked with the on-call lead');
    await card.getByRole('button', { name: 'Approve' }).click();
    await approver.waitForURL(/done=approved/);

    await row.locator('[data-phase="Active"]').waitFor({ timeout: 30_000 });
    await row.locator('.countdown', { hasText: /ends in \d+m/ }).waitFor();
    assert.equal(await page.evaluate(() => window.marker), 42, 'no reload');
    assert.ok(
      await allowed(suite.cluster, id(alice), 'list', 'pods', ns),
      'the authorizer says yes',
    );
    const approvals = await approvalsOf(name);
    assert.equal(approvals.length, 1);
    assert.equal(approvals[0]!.spec.approver, bob.user);
    await shot(page, 'my-access-active');

    await row.getByRole('button', { name: 'Revoke' }).click();
    await page.waitForURL(/done=revoked/);
    await page.locator('h1 [data-phase="Revoked"]').waitFor({ timeout: 30_000 });
    await waitForPhase(suite.cluster, ns, name, 'Revoked');
    await eventually(async () => !(await allowed(suite.cluster, id(alice), 'list', 'pods', ns)), {
      what: 'the access to end',
    });
    await shot(page, 'grant-revoked');
  });

  it('requests Azure access from the form its kind describes, and refuses one outside the allow-list', async () => {
    const page = await signedIn(alice);
    await page.goto(`${portal.url}/request?policy=${azurePolicy}`);
    const azure = page.getByRole('group', { name: 'Azure RBAC' });
    await azure.getByLabel('Scope').fill(AZURE_SCOPE);
    await azure.getByLabel('Role', { exact: true }).fill('Owner');
    await azure.getByLabel('Principal object ID').fill(ALICE_OID);
    await page.getByLabel(/^Duration/).fill('30m');
    // The live check: the controller's own evaluation, in its words.
    await page.locator('#check li', { hasText: 'is not in the allow-list' }).waitFor();
    await azure.getByLabel('Role', { exact: true }).fill('Reader');
    await page.locator('#check.ok', { hasText: '0 of 1 approval' }).waitFor();
    await shot(page, 'request-azure');
    await page.getByRole('button', { name: 'Request' }).click();
    await page.waitForURL(/\/grants\//);
    const name = decodeURIComponent(new URL(page.url()).pathname.split('/').pop()!);
    const made = await waitForPhase(suite.cluster, ns, name, 'Pending');
    assert.equal(made.spec.policy, azurePolicy);
    assert.deepEqual(made.spec.subject, { kind: 'User', name: alice.user });
    assert.deepEqual(made.spec.access, [
      // mode: the schema's default, which the API server fills in.
      { azure: { scope: AZURE_SCOPE, role: 'Reader', principalId: ALICE_OID, mode: 'Schedule' } },
    ]);
    assert.equal(made.spec.duration, '30m');
    await page.getByText(`azure: role Reader at ${AZURE_SCOPE} for ${ALICE_OID}`).first().waitFor();

    // A crafted post past the form: another principal, a wider scope, the mode Azure does not end.
    const before = (await grantsApi(suite.cluster.admin()).list(ns)).length;
    const asked = {
      policy: azurePolicy,
      namespace: ns,
      duration: '30m',
      'azure-scope': AZURE_SCOPE,
      'azure-role': 'Reader',
      'azure-principal': ALICE_OID,
    };
    const outsides: Record<string, string>[] = [
      { 'azure-principal': '99999999-0000-0000-0000-000000000000' },
      { 'azure-scope': AZURE_SCOPE.replace(/\/resourceGroups\/.*/, '') },
      { 'azure-mode': 'Assignment' },
      { 'azure-role': 'Owner' },
    ];
    for (const outside of outsides) {
      const res = await crafted(page, '/request', { ...asked, ...outside });
      assert.equal(res.status, 422, JSON.stringify(outside));
      assert.match(res.text, /is not in the allow-list of AccessPolicy/);
    }
    assert.equal(
      (await grantsApi(suite.cluster.admin()).list(ns)).length,
      before,
      'nothing was made',
    );
  });

  it('shows access end on its own when it expires', async () => {
    const page = await signedIn(alice);
    const name = `alice-short-${randomBytes(2).toString('hex')}`;
    await grantsApi(suite.cluster.as(id(alice))).create(
      requestAs(id(alice), ns, policy, name, {
        duration: '15s',
        access: [{ kubernetes: { clusterRole: 'view', namespaces: [ns] } }],
      }),
    );
    const g = await waitForPhase(suite.cluster, ns, name, 'Pending');
    const row = page.locator(`#g-${g.metadata.uid}`);
    await row.locator('[data-phase="Pending"]').waitFor();
    await approveAsBob(g);
    await row.locator('[data-phase="Active"]').waitFor({ timeout: 30_000 });
    await row.locator('[data-phase="Expired"]').waitFor({ timeout: 45_000 });
    await row.getByText(/ended/).waitFor();
    assert.equal(await allowed(suite.cluster, id(alice), 'list', 'pods', ns), false);
  });

  it('refuses a change without the CSRF token, or from another site', async () => {
    const name = `alice-csrf-${randomBytes(2).toString('hex')}`;
    await grantsApi(suite.cluster.as(id(alice))).create(
      requestAs(id(alice), ns, policy, name, {
        access: [{ kubernetes: { clusterRole: 'view', namespaces: [ns] } }],
      }),
    );
    const g = await waitForPhase(suite.cluster, ns, name, 'Pending');
    const page = await signedIn(bob, '/approvals');
    const csrf = (await page.locator('meta[name="csrf-token"]').getAttribute('content'))!;
    const hash = (await page
      .locator(`#a-${g.metadata.uid} input[name="specHash"]`)
      .getAttribute('value'))!;
    const form = { uid: g.metadata.uid!, specHash: hash, decision: 'Approve' };
    const post = (data: Record<string, string>, headers: Record<string, string> = {}) =>
      page.request.post(`${portal.url}/grants/${ns}/${name}/decision`, {
        form: data,
        headers,
        maxRedirects: 0,
      });
    // The session cookie rides along (same browser context); the token does not.
    const noToken = await post(form);
    assert.equal(noToken.status(), 403);
    assert.match(await noToken.text(), /did not come from this portal/);
    const wrongToken = await post({ ...form, _csrf: `${csrf.slice(0, -2)}AA` });
    assert.equal(wrongToken.status(), 403);
    // Even with a stolen token, a post another site makes is refused by its origin.
    const crossSite = await post({ ...form, _csrf: csrf }, { Origin: 'http://evil.example' });
    assert.equal(crossSite.status(), 403);
    assert.match(await crossSite.text(), /came from another site/);
    assert.deepEqual(await approvalsOf(name), [], 'nothing was approved');
    assert.equal((await grantsApi(suite.cluster.admin()).get(ns, name)).status?.phase, 'Pending');
  });

  it('treats a forged or altered session cookie as no session', async () => {
    const page = await signedIn(bob, '/approvals');
    const context = page.context();
    const [cookie] = (await context.cookies()).filter((c) => c.name === '__Host-timebox-session');
    assert.ok(cookie, 'the session is a __Host- cookie');
    assert.equal(cookie.httpOnly, true);
    assert.equal(cookie.secure, true);
    assert.equal(cookie.sameSite, 'Lax');
    assert.equal(await page.evaluate(() => document.cookie), '', 'scripts cannot read it');
    const forgeries = [
      // One character changed: the cipher's tag fails.
      cookie.value.slice(0, -3) +
        (cookie.value.at(-3) === 'A' ? 'B' : 'A') +
        cookie.value.slice(-2),
      // A well-formed session for bob, sealed with a key that is not the portal's.
      new CookieSealer(randomBytes(32)).seal('session', {
        sid: 'x',
        user: bob.user,
        groups: bob.groups,
        name: 'Bob',
        idToken: 'forged',
        expiresAtMs: Date.now() + 3_600_000,
      }),
    ];
    for (const value of forgeries) {
      const forged = await browser.newContext();
      contexts.push(forged);
      await forged.addCookies([{ ...cookie, value }]);
      const p = await forged.newPage();
      const res = await p.goto(`${portal.url}/approvals`);
      assert.equal(res?.status(), 401);
      await p.getByRole('link', { name: 'Sign in' }).waitFor();
    }
  });

  it('never lets a person approve their own request, even by a crafted post', async () => {
    const page = await signedIn(carol, '/approvals');
    const name = `carol-own-${randomBytes(2).toString('hex')}`;
    await grantsApi(suite.cluster.as(id(carol))).create(
      requestAs(id(carol), ns, policy, name, {
        access: [{ kubernetes: { clusterRole: 'view', namespaces: [ns] } }],
      }),
    );
    const g = await waitForPhase(suite.cluster, ns, name, 'Pending');
    await page.reload();
    assert.equal(await page.locator(`#a-${g.metadata.uid}`).count(), 0, 'not offered to her');
    await page.goto(`${portal.url}/grants/${ns}/${name}`);
    await page.getByText('You cannot decide on this request: you asked for it').waitFor();
    const csrf = (await page.locator('meta[name="csrf-token"]').getAttribute('content'))!;
    const res = await page.request.post(`${portal.url}/grants/${ns}/${name}/decision`, {
      form: { _csrf: csrf, uid: g.metadata.uid!, specHash: specHash(g.spec), decision: 'Approve' },
      maxRedirects: 0,
    });
    assert.equal(res.status(), 403);
    assert.match(await res.text(), /you asked for it/);
    assert.deepEqual(await approvalsOf(name), []);
    assert.equal((await grantsApi(suite.cluster.admin()).get(ns, name)).status?.phase, 'Pending');
  });

  it('refuses an approval of a request that changed after the approver saw it', async () => {
    const name = `alice-swap-${randomBytes(2).toString('hex')}`;
    const asAlice = grantsApi(suite.cluster.as(id(alice)));
    await asAlice.create(
      requestAs(id(alice), ns, policy, name, {
        access: [{ kubernetes: { clusterRole: 'view', namespaces: [ns] } }],
      }),
    );
    const shown = await waitForPhase(suite.cluster, ns, name, 'Pending');
    const page = await signedIn(bob, '/approvals');
    // A slow network: the page keeps showing what bob reviewed.
    await page.route('**/events*', (route) => route.abort());
    await page.goto(`${portal.url}/approvals`);
    const card = page.locator(`#a-${shown.metadata.uid}`);
    await card.getByText('ClusterRole view').waitFor();
    // Meanwhile the request is swapped for a bigger one under the same name (the
    // spec cannot change: admission refuses it; someone who may delete grants
    // deletes it, and alice asks again).
    await grantsApi(suite.cluster.admin()).delete(ns, name);
    await eventually(async () => (await asAlice.list(ns)).every((g) => g.metadata.name !== name), {
      what: 'the reviewed request to be gone',
    });
    await asAlice.create(
      requestAs(id(alice), ns, policy, name, {
        access: [{ kubernetes: { clusterRole: 'edit', namespaces: [ns] } }],
      }),
    );
    const swapped = await waitForPhase(suite.cluster, ns, name, 'Pending');
    await card.getByRole('button', { name: 'Approve' }).click();
    await page
      .getByText('This request changed after you saw it, so nothing was approved')
      .waitFor();
    assert.deepEqual(await approvalsOf(name), []);
    assert.equal(
      (await grantsApi(suite.cluster.admin()).get(ns, name)).metadata.uid,
      swapped.metadata.uid,
    );
    assert.equal((await grantsApi(suite.cluster.admin()).get(ns, name)).status?.phase, 'Pending');
  });

  it('never sends a person to another site after sign-in, nor shows words a link put there', async () => {
    const context = await browser.newContext();
    contexts.push(context);
    const page = await context.newPage();
    // Browsers drop the tab: /\t/evil.example would become //evil.example.
    await page.goto(`${portal.url}/login?returnTo=${encodeURIComponent('/\t/evil.example')}`);
    await page.getByLabel('Email').fill(alice.user);
    await page.getByLabel('Password').fill(alice.password);
    await page.getByRole('button', { name: /sign in/i }).click();
    await page.waitForURL(`${portal.url}/access`);

    // An error answer made by someone else's link is not this browser's sign-in.
    const fresh = await browser.newContext();
    contexts.push(fresh);
    const other = await fresh.newPage();
    await other.goto(`${portal.url}/login`);
    await other.getByLabel('Email').waitFor();
    const res = await other.goto(
      `${portal.url}/callback?error=access_denied&error_description=${encodeURIComponent('Call +1 555 0100 to unlock your account')}&state=not-yours`,
    );
    assert.equal(res?.status(), 400);
    await other.getByText('not for this sign-in').waitFor();
    assert.doesNotMatch(await other.content(), /555 0100/);
  });

  it('holds at most a few live streams per session, and frees them when pages close', async () => {
    const page = await signedIn(alice);
    const statuses = await page.evaluate(async (n: number) => {
      const aborts: AbortController[] = [];
      const out: number[] = [];
      for (let i = 0; i < n; i++) {
        const a = new AbortController();
        aborts.push(a);
        out.push((await fetch('/events?view=access', { signal: a.signal })).status);
      }
      (window as Record<string, unknown>).openStreams = aborts;
      return out;
    }, MAX_STREAMS_PER_SESSION);
    // The page's own stream is one of them: the last of these is one too many.
    assert.deepEqual(statuses.slice(0, -1), Array(MAX_STREAMS_PER_SESSION - 1).fill(200));
    assert.equal(statuses.at(-1), 429);
    await page.evaluate(() => {
      for (const a of (window as Record<string, unknown>).openStreams as AbortController[])
        a.abort();
    });
    await eventually(
      async () =>
        (await page.evaluate(async () => (await fetch('/events?view=access')).status)) === 200,
      { what: 'a stream to be free again once pages closed theirs' },
    );
  });

  it('gives no session to someone the issuer says is in system:masters', async () => {
    const context = await browser.newContext();
    contexts.push(context);
    const page = await context.newPage();
    await page.goto(`${portal.url}/login`);
    await page.getByLabel('Email').fill(ISSUER_CLAIMS_MASTERS.user);
    await page.getByLabel('Password').fill(ISSUER_CLAIMS_MASTERS.password);
    await page.getByRole('button', { name: /sign in/i }).click();
    // The API server refuses the token (its userValidationRules): no session.
    await page.getByText(/Signed in, but the cluster does not accept/).waitFor();
    assert.deepEqual(
      (await context.cookies()).filter((c) => c.name === '__Host-timebox-session'),
      [],
    );
  });

  it('in impersonate mode, acts as the verified person through an identity that may only impersonate', async () => {
    // The portal's own identity, as the chart makes it: impersonate users and groups, nothing else.
    const admin = suite.cluster.admin();
    const sa = `portal-${randomBytes(3).toString('hex')}`;
    const saUser = `system:serviceaccount:${OPERATOR_NAMESPACE}:${sa}`;
    const core = admin.makeApiClient(CoreV1Api);
    await core.createNamespacedServiceAccount({
      namespace: OPERATOR_NAMESPACE,
      body: { metadata: { name: sa } },
    });
    const rbac = admin.makeApiClient(RbacAuthorizationV1Api);
    await rbac.createClusterRole({
      body: {
        metadata: { name: sa },
        rules: [{ apiGroups: [''], resources: ['users', 'groups'], verbs: ['impersonate'] }],
      },
    });
    await rbac.createClusterRoleBinding({
      body: {
        metadata: { name: sa },
        roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: sa },
        subjects: [{ kind: 'ServiceAccount', name: sa, namespace: OPERATOR_NAMESPACE }],
      },
    });
    const token = (
      await core.createNamespacedServiceAccountToken({
        namespace: OPERATOR_NAMESPACE,
        name: sa,
        body: { spec: { audiences: [], expirationSeconds: 3600 } },
      })
    ).status!.token!;
    const kubeconfig = join(suite.work, `${sa}.kubeconfig`);
    writeFileSync(kubeconfig, withToken(admin, saUser, token).exportConfig(), { mode: 0o600 });
    assert.equal(
      await allowed(suite.cluster, { user: saUser }, 'list', 'accessgrants', ns),
      false,
      'no power of its own',
    );
    const second = await startPortalProcess(issuer, kubeconfig, suite.work, [
      '--auth-mode=impersonate',
    ]);
    try {
      const page = await signedIn(alice, `/request?policy=${policy}`, second.url);
      await page.getByLabel('ClusterRole').selectOption('view');
      await page.getByLabel(/^Duration/).fill('30m');
      await page.getByLabel(/^Reason/).fill('INC-9 through impersonation');
      await page.getByRole('button', { name: 'Request' }).click();
      await page.waitForURL(/done=requested/);
      const name = decodeURIComponent(new URL(page.url()).pathname.split('/').pop()!);
      const made = await waitForPhase(suite.cluster, ns, name, 'Pending');
      // The API server saw alice, not the portal: the webhook stamps the real caller.
      assert.equal(made.metadata.annotations?.['timebox.dev/created-by'], alice.user);
      assert.equal(made.status?.requestedBy, alice.user);

      // Someone the issuer puts in system:masters is never impersonated.
      const other = await (await browser.newContext()).newPage();
      contexts.push(other.context());
      await other.goto(`${second.url}/login`);
      await other.getByLabel('Email').fill(ISSUER_CLAIMS_MASTERS.user);
      await other.getByLabel('Password').fill(ISSUER_CLAIMS_MASTERS.password);
      await other.getByRole('button', { name: /sign in/i }).click();
      await other.getByText(/refuses to impersonate/).waitFor();
      assert.deepEqual(
        (await other.context().cookies()).filter((c) => c.name === '__Host-timebox-session'),
        [],
      );
    } finally {
      second.child.kill('SIGTERM');
      await once(second.child, 'exit');
    }
  });

  it('refuses writes from who must not make them: requests, decisions and revocations', async () => {
    const asAlice = await signedIn(alice);
    const asBob = await signedIn(bob, '/approvals');

    // bob may not request under this policy (its requesters are payments-oncall and carol).
    const before = (await grantsApi(suite.cluster.admin()).list(ns)).length;
    const request = await crafted(asBob, '/request', {
      policy,
      namespace: ns,
      'cluster-role': 'view',
      duration: '1h',
      reason: 'not mine to ask',
    });
    assert.equal(request.status, 403);
    assert.match(request.text, /may not request under AccessPolicy/);
    assert.equal(
      (await grantsApi(suite.cluster.admin()).list(ns)).length,
      before,
      'nothing was made',
    );

    // alice, a requester but no approver, may neither approve nor end carol's grant.
    const name = `carol-ends-${randomBytes(2).toString('hex')}`;
    await grantsApi(suite.cluster.as(id(carol))).create(
      requestAs(id(carol), ns, policy, name, {
        access: [{ kubernetes: { clusterRole: 'view', namespaces: [ns] } }],
      }),
    );
    const pending = await waitForPhase(suite.cluster, ns, name, 'Pending');
    const approve = await crafted(asAlice, `/grants/${ns}/${name}/decision`, {
      uid: pending.metadata.uid!,
      specHash: specHash(pending.spec),
      decision: 'Approve',
    });
    assert.equal(approve.status, 403);
    assert.match(approve.text, /You do not approve under AccessPolicy/);
    await approveAsBob(pending);
    await waitForPhase(suite.cluster, ns, name, 'Active');
    await asAlice.goto(`${portal.url}/grants/${ns}/${name}`);
    await asAlice.locator('h1 [data-phase="Active"]').waitFor();
    assert.equal(await asAlice.getByRole('button', { name: 'Revoke' }).count(), 0, 'not offered');
    const revoke = await crafted(asAlice, `/grants/${ns}/${name}/revoke`, {
      uid: pending.metadata.uid!,
      comment: 'I want it gone',
    });
    assert.equal(revoke.status, 403);
    assert.deepEqual(
      (await approvalsOf(name)).map((a) => `${a.spec.decision} ${a.spec.approver}`),
      [`Approve ${bob.user}`],
      'only bob decided',
    );
    assert.equal((await grantsApi(suite.cluster.admin()).get(ns, name)).status?.phase, 'Active');

    // bob approves under this policy, but not under one whose only approver is carol.
    const other = `${policy}-carol`;
    await createAccessPolicy(suite.cluster.admin(), other, {
      requesters: { groups: ['payments-oncall'] },
      selfOnly: true,
      namespaces: [ns],
      access: [{ kubernetes: { clusterRoles: ['view'], namespaces: [ns] } }],
      maxDuration: '1h',
      approval: { mode: 'Manual', approvers: { users: [carol.user] }, required: 1 },
    });
    const elsewhere = `alice-other-${randomBytes(2).toString('hex')}`;
    await grantsApi(suite.cluster.as(id(alice))).create(
      requestAs(id(alice), ns, other, elsewhere, {
        duration: '30m',
        access: [{ kubernetes: { clusterRole: 'view', namespaces: [ns] } }],
      }),
    );
    const waiting = await waitForPhase(suite.cluster, ns, elsewhere, 'Pending');
    const foreign = await crafted(asBob, `/grants/${ns}/${elsewhere}/decision`, {
      uid: waiting.metadata.uid!,
      specHash: specHash(waiting.spec),
      decision: 'Approve',
    });
    assert.equal(foreign.status, 403);
    assert.match(foreign.text, new RegExp(`do not approve under AccessPolicy &#39;${other}&#39;`));
    assert.deepEqual(await approvalsOf(elsewhere), []);
    assert.equal(
      (await grantsApi(suite.cluster.admin()).get(ns, elsewhere)).status?.phase,
      'Pending',
    );
  });

  it('exports the audit trail an approver may read, as CSV and JSON', async () => {
    const page = await signedIn(bob, '/audit');
    await page.getByLabel('State').selectOption('Revoked');
    await page.getByRole('button', { name: 'Filter' }).click();
    await page.locator('table.audit tbody tr').first().waitFor();
    for (const phase of await page.locator('table.audit tbody [data-phase]').allTextContents()) {
      assert.equal(phase, 'Revoked');
    }
    await shot(page, 'audit');
    const csv = await page.request.get(`${portal.url}/audit.csv?phase=Revoked`);
    assert.match(csv.headers()['content-type'] ?? '', /text\/csv/);
    const [header, ...rows] = (await csv.text()).trimEnd().split('\r\n');
    assert.match(header!, /^created,namespace,name,uid,requestedBy/);
    assert.ok(rows.length >= 1 && rows.every((r) => r.includes(',Revoked,')), await csv.text());
    const json = (await (
      await page.request.get(`${portal.url}/audit.json?policy=${policy}`)
    ).json()) as {
      items: { policy: string; approvedBy: string[] }[];
    };
    assert.ok(json.items.length >= 3 && json.items.every((i) => i.policy === policy));
    assert.ok(json.items.some((i) => i.approvedBy.includes(bob.user)));
  });

  it("shows a grant's activity to who may read it, and no other grant's record to anyone", async () => {
    /** A grant of alice's, approved by bob: Active. */
    const activeGrant = async (prefix: string) => {
      const name = `${prefix}-${randomBytes(2).toString('hex')}`;
      await grantsApi(suite.cluster.as(id(alice))).create(
        requestAs(id(alice), ns, policy, name, {
          access: [{ kubernetes: { clusterRole: 'view', namespaces: [ns] } }],
        }),
      );
      const g = await waitForPhase(suite.cluster, ns, name, 'Pending');
      await approveAsBob(g);
      return waitForPhase(suite.cluster, ns, name, 'Active');
    };
    const at = (s: number) => new Date(Date.now() - s * 1000).toISOString();
    const status = (marker: string): AccessActivityStatus => ({
      requests: 42,
      firstUsed: at(300),
      lastUsed: at(60),
      counts: [
        { provider: 'kubernetes', verb: 'list', resource: 'pods', namespace: ns, count: 30 },
        { provider: 'kubernetes', verb: 'get', resource: 'pods/log', namespace: ns, count: 12 },
      ],
      writes: [
        {
          at: at(120),
          provider: 'kubernetes',
          verb: 'delete',
          resource: 'pods',
          namespace: ns,
          name: marker,
          code: 200,
        },
      ],
      writesOmitted: 0,
      denied: [
        {
          at: at(90),
          provider: 'kubernetes',
          verb: 'get',
          resource: 'secrets',
          namespace: ns,
          name: '<b>db-password</b>',
          code: 403,
        },
      ],
      deniedOmitted: 2,
    });
    // The operator writes records from audit events, tested elsewhere: here the
    // admin writes them (status is no subresource of AccessActivity).
    const activities = adminActivities();
    const g = await activeGrant('alice-act');
    await activities.create(
      activityObject(
        { namespace: ns, name: g.metadata.name!, uid: g.metadata.uid! },
        status('checkout-7'),
      ),
    );

    const page = await signedIn(alice, `/grants/${ns}/${g.metadata.name}`);
    activityPage = `/grants/${ns}/${g.metadata.name}`;
    const section = page.locator('#activity');
    await section.getByRole('heading', { name: 'Activity' }).waitFor();
    await section.locator('table.counts tr', { hasText: 'pods/log' }).waitFor();
    await section.getByText(`pods/checkout-7 in ${ns}`).waitFor();
    const denied = section.locator('.denied');
    await denied.getByRole('heading', { name: 'Denied attempts (3)' }).waitFor();
    await denied.getByText(`secrets/<b>db-password</b> in ${ns}`).waitFor();
    assert.equal(await page.locator('#activity b').count(), 0, 'a name is text, never markup');
    await shot(page, 'grant-activity');

    // The live page keeps the section when the grant changes, without a reload.
    await page.locator('body[data-live-connected="true"]').waitFor();
    await page.evaluate(() => (window.marker = 7));
    await grantsApi(suite.cluster.as(id(alice))).patch(ns, g.metadata.name!, {
      spec: { revoked: true },
    });
    await page.locator('h1 [data-phase="Revoked"]').waitFor({ timeout: 30_000 });
    await section.getByText(`pods/checkout-7 in ${ns}`).waitFor();
    assert.equal(await page.evaluate(() => window.marker), 7, 'no reload');

    // A crafted URL naming a record that belongs to no grant shows nothing of it.
    const ghost = `ghost-${randomBytes(2).toString('hex')}`;
    const orphan = activityObject(
      { namespace: ns, name: ghost, uid: 'uid-of-no-grant' },
      status('ghost-pod'),
    );
    delete orphan.metadata.ownerReferences;
    await activities.create(orphan);
    const res = await page.goto(`${portal.url}/grants/${ns}/${ghost}`);
    assert.equal(res?.status(), 404);
    assert.doesNotMatch(await page.content(), /ghost-pod|db-password/);

    // A record left by an earlier grant of the same name is not this grant's.
    const later = await activeGrant('alice-later');
    const stale = activityObject(
      { namespace: ns, name: later.metadata.name!, uid: 'uid-of-an-earlier-grant' },
      status('earlier-pod'),
    );
    delete stale.metadata.ownerReferences;
    await activities.create(stale);
    for (const who of [alice, bob]) {
      const p = await signedIn(who, `/grants/${ns}/${later.metadata.name}`);
      await p.locator('#activity').getByText('No requests recorded yet').waitFor();
      assert.doesNotMatch(await p.content(), /earlier-pod|db-password/, who.user);
    }
  });

  it('serves every page with a strict CSP, and no serious accessibility violation', async () => {
    const context = await browser.newContext({ bypassCSP: true });
    contexts.push(context);
    const page = await context.newPage();
    const res = await page.goto(`${portal.url}/`);
    const csp = res?.headers()['content-security-policy'] ?? '';
    assert.match(csp, /script-src 'self'/);
    assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval/);
    assert.match(csp, /frame-ancestors 'none'/);
    await signInWithBrowser(page, portal.url, { user: alice.user, password: alice.password });
    for (const path of [
      '/access',
      `/request`,
      `/request?policy=${policy}`,
      `/request?policy=${azurePolicy}`,
      '/approvals',
      '/audit',
      ...(activityPage ? [activityPage] : []),
    ]) {
      await page.goto(`${portal.url}${path}`);
      await page.addScriptTag({ path: AXE });
      const violations = await page.evaluate(async () => {
        const axe = (
          window as unknown as {
            axe: {
              run: () => Promise<{
                violations: { id: string; impact: string; help: string; nodes: unknown[] }[];
              }>;
            };
          }
        ).axe;
        return (await axe.run()).violations;
      });
      const serious = violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
      assert.deepEqual(
        serious.map((v) => `${v.id}: ${v.help}`),
        [],
        `${path}`,
      );
    }
    assert.doesNotMatch(portal.logs(), /"level":"error"/);
  });
});
