import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { CoreV1Api, RbacAuthorizationV1Api } from '@kubernetes/client-node';
import { Sandbox } from '../../src/sandbox/sandbox.ts';
import { apiServerTrust, type SandboxIssuer, type SandboxPerson } from '../../src/sandbox/oidc.ts';
import {
  CLUSTER_START_TIMEOUT_MS,
  ISSUER_CLAIMS_MASTERS,
  OTHER_CLIENT,
  testCluster,
  testIssuer,
} from '../support/cluster.ts';
import { fetchTrusting, signIn } from '../support/sign-in.ts';
import { eventually } from '../support/wait.ts';

interface ApiAnswer {
  status: number;
  body: Record<string, unknown>;
}

describe('sign-in with the sandbox OIDC issuer, trusted by the API server', function () {
  /** The API server that trusts the test issuer: the shared sandbox, or one of this suite's own. */
  let sandbox: Sandbox;
  let own: Sandbox | undefined;
  let issuer: SandboxIssuer;
  let alice: SandboxPerson;
  let bob: SandboxPerson;
  let aliceToken: string;
  let ns: string;
  let api: (path: string, token: string, body: object) => Promise<ApiAnswer>;

  const person = (user: string) => {
    const p = issuer.people.find((q) => q.user === user);
    assert.ok(p, `the test issuer has ${user}`);
    return p;
  };
  const idToken = async (who: SandboxPerson, app?: { id: string; secret?: string }) => {
    const res = await signIn(issuer, { email: who.user, password: who.password }, app);
    assert.ok(res.ok, `${who.user} signs in: ${res.ok ? '' : `HTTP ${res.status} ${res.body}`}`);
    return res.idToken;
  };
  const review = (token: string) =>
    api('/apis/authentication.k8s.io/v1/selfsubjectreviews', token, {
      apiVersion: 'authentication.k8s.io/v1',
      kind: 'SelfSubjectReview',
    });
  // The shared test cluster lets every authenticated user request (installTimebox):
  // the check is on a permission only this namespace's binding gives.
  const mayListPods = async (token: string) => {
    const res = await api('/apis/authorization.k8s.io/v1/selfsubjectaccessreviews', token, {
      apiVersion: 'authorization.k8s.io/v1',
      kind: 'SelfSubjectAccessReview',
      spec: {
        resourceAttributes: {
          resource: 'pods',
          verb: 'list',
          namespace: ns,
        },
      },
    });
    assert.equal(res.status, 201, JSON.stringify(res.body));
    return (res.body.status as { allowed: boolean }).allowed;
  };

  /** 401, and the API server's log says why: a refusal for another reason proves nothing. */
  const refused = async (token: string, why: RegExp) => {
    const log = join(sandbox.dir, 'kube-apiserver.log');
    const from = statSync(log).size;
    assert.equal((await review(token)).status, 401);
    await eventually(async () => why.test(readFileSync(log).subarray(from).toString()), {
      what: `kube-apiserver.log to say ${why}`,
    });
  };

  before(async function () {
    this.timeout(CLUSTER_START_TIMEOUT_MS);
    issuer = await testIssuer();
    // The shared sandbox trusts the test issuer; against another cluster
    // (TIMEBOX_TEST_CLUSTER), this suite starts a sandbox of its own that does.
    sandbox =
      (await testCluster()).sandbox ??
      (own = await Sandbox.start({ oidc: apiServerTrust(issuer) }));
    alice = person('alice@example.com');
    bob = person('bob@example.com');
    const apiFetch = fetchTrusting(sandbox.caData);
    api = async (path, token, body) => {
      const res = await apiFetch(`${sandbox.server}${path}`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
      return { status: res.status, body: (await res.json()) as Record<string, unknown> };
    };

    // The demo's RBAC (config/sandbox/demo.yaml), in a namespace of this test's own:
    // the demo binds payments-oncall cluster-wide, which other suites do not expect.
    ns = `payments-oidc-${randomUUID().slice(0, 8)}`;
    const admin = sandbox.adminConfig();
    await admin.makeApiClient(CoreV1Api).createNamespace({ body: { metadata: { name: ns } } });
    await admin.makeApiClient(RbacAuthorizationV1Api).createNamespacedRoleBinding({
      namespace: ns,
      body: {
        metadata: { name: 'requesters' },
        roleRef: {
          apiGroup: 'rbac.authorization.k8s.io',
          kind: 'ClusterRole',
          name: 'view',
        },
        subjects: [
          { apiGroup: 'rbac.authorization.k8s.io', kind: 'Group', name: 'payments-oncall' },
        ],
      },
    });

    aliceToken = await idToken(alice);
    // The API server loads the issuer's keys in the background after it starts.
    await eventually(async () => (await review(aliceToken)).status === 201, {
      timeoutMs: 30_000,
      what: "the API server to accept the issuer's ID tokens",
    });
  });

  after(async () => {
    if (ns) await sandbox.adminConfig().makeApiClient(CoreV1Api).deleteNamespace({ name: ns });
    await own?.stop();
  });

  it('issues an ID token that carries the email, name and groups itself, for one hour', async () => {
    const res = await signIn(issuer, { email: alice.user, password: alice.password });
    assert.ok(res.ok);
    const c = res.claims;
    assert.equal(c.iss, issuer.issuer);
    assert.equal(c.aud, issuer.clientId);
    assert.equal(c.email, 'alice@example.com');
    assert.equal(c.email_verified, true);
    assert.equal(c.name, 'Alice');
    assert.deepEqual(c.groups, ['payments-oncall']);
    assert.equal(c.exp - c.iat, 3600);
  });

  it('the API server knows alice by her email and her groups', async () => {
    const res = await review(aliceToken);
    assert.equal(res.status, 201);
    const info = (res.body.status as { userInfo: { username: string; groups: string[] } }).userInfo;
    assert.equal(info.username, 'alice@example.com');
    assert.ok(info.groups.includes('payments-oncall'), info.groups.join(','));
    assert.ok(info.groups.includes('system:authenticated'));
  });

  it('RBAC applies to her groups: alice (payments-oncall) may read the namespace, bob may not', async () => {
    assert.equal(await mayListPods(aliceToken), true);
    assert.equal(await mayListPods(await idToken(bob)), false);
  });

  it('a wrong password gets 401, the form again, and no code', async () => {
    const res = await signIn(issuer, { email: alice.user, password: `${alice.password}x` });
    assert.ok(!res.ok);
    assert.equal(res.status, 401);
    assert.match(res.body, /Wrong email or password/);
    assert.ok(!res.hops.some((h) => /[?&]code=/.test(h)), res.hops.join('\n'));
    const unknown = await signIn(issuer, { email: 'nobody@example.com', password: alice.password });
    assert.ok(!unknown.ok);
    assert.equal(unknown.status, 401);
  });

  it('the sign-in page runs no script and escapes what it echoes', async () => {
    const email = '"><script>alert(1)</script>';
    const res = await signIn(issuer, { email, password: 'x' });
    assert.ok(!res.ok);
    assert.equal(res.status, 401);
    assert.ok(!res.body.includes('<script'), res.body);
    assert.ok(res.body.includes('&#34;&#62;&#60;script&#62;'), res.body);
    const page = await fetch(`${issuer.browserUrl}/interaction/nope`);
    assert.equal(page.status, 400, 'an unknown sign-in is refused');
    const csp = page.headers.get('content-security-policy') ?? '';
    assert.match(csp, /default-src 'none'/);
    assert.doesNotMatch(csp, /unsafe-inline/);
  });

  it('browsers go to the http origin; servers use the https issuer', async () => {
    const doc = (await (
      await fetchTrusting(issuer.caPem)(`${issuer.issuer}/.well-known/openid-configuration`)
    ).json()) as Record<string, string>;
    assert.equal(doc.issuer, issuer.issuer);
    assert.equal(new URL(doc.authorization_endpoint!).origin, issuer.browserUrl);
    assert.equal(new URL(doc.token_endpoint!).origin, issuer.issuer);
    assert.equal(new URL(doc.jwks_uri!).origin, issuer.issuer);
  });

  it('the API server refuses a token whose signature was altered', async () => {
    const [header, payload, sig] = aliceToken.split('.') as [string, string, string];
    const i = Math.floor(sig.length / 2);
    const forged = `${header}.${payload}.${sig.slice(0, i)}${sig[i] === 'A' ? 'B' : 'A'}${sig.slice(i + 1)}`;
    await refused(forged, /failed to verify signature/);
    // Nor a payload changed under the old signature (groups made bigger).
    const claims = JSON.parse(Buffer.from(payload, 'base64url').toString()) as { groups: string[] };
    const bigger = Buffer.from(JSON.stringify({ ...claims, groups: ['payments-leads'] })).toString(
      'base64url',
    );
    await refused(`${header}.${bigger}.${sig}`, /failed to verify signature/);
  });

  it("the API server refuses the same issuer's token for another application", async () => {
    const token = await idToken(alice, OTHER_CLIENT);
    // The log quotes the names: expected audience \"timebox-portal\" got [\"not-kubernetes\"]
    await refused(
      token,
      new RegExp(`expected audience \\W+${issuer.clientId}\\W+ got \\W+${OTHER_CLIENT.id}`),
    );
  });

  it('the API server refuses anyone the issuer puts in a system: group', async () => {
    const token = await idToken(ISSUER_CLAIMS_MASTERS);
    await refused(token, /an OIDC group may not start with system:/);
  });
});
