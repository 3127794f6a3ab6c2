import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Agent, fetch as undiciFetch } from 'undici';
import { DEMO_PEOPLE } from './demo.ts';
import {
  demoPeople,
  escapeHtml,
  loginPage,
  memoryAdapter,
  rewriteDiscovery,
  startSandboxIssuer,
} from './oidc.ts';

describe('rewriteDiscovery', () => {
  const urls = { issuer: 'https://127.0.0.1:8443', browserUrl: 'http://127.0.0.1:8080' };

  it('sends browsers to the http origin and servers to the https issuer', () => {
    // As oidc-provider answers a request that came in over http.
    const doc = rewriteDiscovery(
      {
        issuer: 'https://127.0.0.1:8443',
        authorization_endpoint: 'http://127.0.0.1:8080/auth',
        end_session_endpoint: 'http://127.0.0.1:8080/session/end',
        token_endpoint: 'http://127.0.0.1:8080/token',
        jwks_uri: 'http://127.0.0.1:8080/jwks',
        userinfo_endpoint: 'http://127.0.0.1:8080/me',
        scopes_supported: ['openid'],
      },
      urls,
    );
    assert.deepEqual(doc, {
      issuer: 'https://127.0.0.1:8443',
      authorization_endpoint: 'http://127.0.0.1:8080/auth',
      end_session_endpoint: 'http://127.0.0.1:8080/session/end',
      token_endpoint: 'https://127.0.0.1:8443/token',
      jwks_uri: 'https://127.0.0.1:8443/jwks',
      userinfo_endpoint: 'https://127.0.0.1:8443/me',
      scopes_supported: ['openid'],
    });
  });

  it('keeps paths and queries, and changes the https answer the same way', () => {
    const doc = rewriteDiscovery(
      {
        authorization_endpoint: 'https://127.0.0.1:8443/auth?x=1',
        token_endpoint: 'https://127.0.0.1:8443/token',
      },
      urls,
    );
    assert.equal(doc.authorization_endpoint, 'http://127.0.0.1:8080/auth?x=1');
    assert.equal(doc.token_endpoint, 'https://127.0.0.1:8443/token');
  });
});

describe('the sign-in page', () => {
  it('escapes everything it echoes', () => {
    assert.equal(
      escapeHtml(`<a href="x" onclick='y'>&`),
      '&#60;a href&#61;&#34;x&#34; onclick&#61;&#39;y&#39;&#62;&#38;',
    );
    const { body } = loginPage({
      uid: 'a"b/c',
      clientId: '<app>',
      email: '"><script>alert(1)</script>',
      error: 'Wrong email or password',
    });
    assert.ok(!body.includes('<script'), body);
    assert.ok(!body.includes('<app>'), body);
    assert.match(body, /action="\/interaction\/a%22b%2Fc\/login"/);
  });

  it('labels its fields and announces an error', () => {
    const { body } = loginPage({
      uid: 'u1',
      clientId: 'timebox-portal',
      error: 'Wrong email or password',
    });
    assert.match(body, /<label for="email">Email<\/label>/);
    assert.match(body, /<input id="email" name="email" type="email" autocomplete="username"/);
    assert.match(body, /<label for="password">Password<\/label>/);
    assert.match(
      body,
      /<input id="password" name="password" type="password" autocomplete="current-password"/,
    );
    assert.match(body, /<p id="error" class="error" role="alert">Wrong email or password<\/p>/);
    assert.match(body, /aria-invalid="true" aria-describedby="error"/);
    assert.doesNotMatch(loginPage({ uid: 'u1', clientId: 'c' }).body, /role="alert"|aria-invalid/);
  });
});

describe('memoryAdapter', () => {
  it('finds what it stores until it expires, by id and by uid', async () => {
    let now = 1_000_000;
    const adapter = memoryAdapter(() => now)('Session');
    await adapter.upsert('s1', { uid: 'u1', accountId: 'alice' }, 60);
    assert.deepEqual(await adapter.find('s1'), { uid: 'u1', accountId: 'alice' });
    assert.deepEqual(await adapter.findByUid('u1'), { uid: 'u1', accountId: 'alice' });
    now += 60_000;
    assert.equal(await adapter.find('s1'), undefined);
  });

  it('keeps models and providers apart, consumes codes and revokes by grant', async () => {
    const factory = memoryAdapter();
    const codes = factory('AuthorizationCode');
    await codes.upsert('c1', { grantId: 'g1' }, 60);
    assert.equal(await factory('AccessToken').find('c1'), undefined);
    assert.equal(await memoryAdapter()('AuthorizationCode').find('c1'), undefined);
    await codes.consume('c1');
    assert.equal(typeof (await codes.find('c1'))?.consumed, 'number');
    await codes.revokeByGrantId('g1');
    assert.equal(await codes.find('c1'), undefined);
  });
});

describe('demoPeople', () => {
  let dir: string;
  beforeEach(() => (dir = mkdtempSync(join(tmpdir(), 'timebox-oidc-test-'))));
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('gives each demo person a password once, kept private in the sandbox directory', () => {
    const first = demoPeople(dir);
    assert.deepEqual(
      first.map((p) => [p.user, p.groups]),
      DEMO_PEOPLE.map((p) => [p.user, p.groups]),
    );
    assert.equal(new Set(first.map((p) => p.password)).size, first.length);
    assert.ok(first.every((p) => p.password.length >= 12));
    assert.deepEqual(demoPeople(dir), first, 'the same passwords after a restart');
    assert.equal(statSync(join(dir, 'oidc', 'people.json')).mode & 0o777, 0o600);
  });
});

describe('startSandboxIssuer', () => {
  let dir: string;
  beforeEach(() => (dir = mkdtempSync(join(tmpdir(), 'timebox-oidc-test-'))));
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('comes back after a restart with the same URLs, keys, secret and people, quietly', async () => {
    const printed: unknown[] = [];
    const saved = { ...console };
    for (const m of ['log', 'info', 'warn', 'error'] as const) {
      console[m] = (...args: unknown[]) => void printed.push(args);
    }
    try {
      // A fresh connection each time: a kept-alive one ends with the first issuer.
      const get = (url: string) => undiciFetch(url, { dispatcher: new Agent() });
      const jwks = async (url: string) => (await get(`${url}/jwks`)).json();
      const first = await startSandboxIssuer({ dir });
      // The same provider on the browser origin; servers would use https.
      const keys = await jwks(first.browserUrl);
      const page = await get(`${first.browserUrl}/interaction/unknown`);
      assert.equal(page.status, 400);
      await first.stop();
      const second = await startSandboxIssuer({ dir });
      try {
        assert.equal(second.issuer, first.issuer);
        assert.equal(second.browserUrl, first.browserUrl);
        assert.equal(second.clientSecret, first.clientSecret);
        assert.equal(second.caPem, first.caPem);
        assert.deepEqual(second.people, first.people);
        assert.deepEqual(await jwks(second.browserUrl), keys);
      } finally {
        await second.stop();
      }
      for (const f of ['keys.json', 'people.json']) {
        assert.equal(statSync(join(dir, 'oidc', f)).mode & 0o777, 0o600, f);
      }
    } finally {
      Object.assign(console, saved);
    }
    assert.deepEqual(printed, []);
  });
});
