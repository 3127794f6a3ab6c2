import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { CookieSealer, liveSession, safeReturnTo, type Session } from './session.ts';

const key = randomBytes(32);
const session: Session = {
  sid: 's1',
  user: 'alice@example.com',
  groups: ['payments-oncall'],
  name: 'Alice',
  idToken: 'eyJ.token.sig',
  expiresAtMs: 2_000,
};

describe('portal sessions', () => {
  it('opens what it sealed, and nothing another key, purpose or hand made', () => {
    const sealer = new CookieSealer(key);
    const sealed = sealer.seal('session', session);
    assert.deepEqual(sealer.open('session', sealed), session);
    assert.ok(!sealed.includes('alice'), 'the browser cannot read the session');
    // Another key: a session minted elsewhere, or before a key rotation.
    assert.equal(new CookieSealer(randomBytes(32)).open('session', sealed), undefined);
    // A login-state cookie is never accepted as a session.
    assert.equal(sealer.open('login', sealed), undefined);
    // One flipped bit anywhere: refused by the GCM tag.
    const raw = Buffer.from(sealed.slice(3), 'base64url');
    for (const at of [0, 13, 30, raw.length - 1]) {
      const forged = Buffer.from(raw);
      forged[at] = forged[at]! ^ 1;
      assert.equal(sealer.open('session', `v1.${forged.toString('base64url')}`), undefined);
    }
    for (const junk of [
      undefined,
      '',
      'v1.',
      'v1.AAAA',
      'v2.' + sealed.slice(3),
      '{"user":"admin"}',
    ]) {
      assert.equal(sealer.open('session', junk), undefined, String(junk));
    }
  });

  it('needs a key of at least 32 bytes, and says how to make one', () => {
    assert.throws(() => new CookieSealer(randomBytes(16)), /at least 32 random bytes.*urandom/);
  });

  it('binds the CSRF token to the session', () => {
    const sealer = new CookieSealer(key);
    const token = sealer.csrfToken('s1');
    assert.ok(sealer.csrfValid('s1', token));
    assert.ok(!sealer.csrfValid('s2', token), "another session's token");
    assert.ok(!sealer.csrfValid('s1', undefined));
    assert.ok(!sealer.csrfValid('s1', token.slice(1)));
    assert.ok(!new CookieSealer(randomBytes(32)).csrfValid('s1', token), 'another key');
  });

  it('ends with the token', () => {
    assert.equal(liveSession(session, 1_999), session);
    assert.equal(liveSession(session, 2_000), undefined);
    assert.equal(liveSession(undefined, 0), undefined);
  });

  it('returns only to paths of the portal', () => {
    assert.equal(safeReturnTo('/approvals?x=1'), '/approvals?x=1');
    for (const bad of [
      '/\t/evil.example',
      '/\n/evil.example',
      '/ /evil.example',
      '/.//evil.example',
      '//evil.example/',
      'https://evil.example/',
      '/\\evil.example',
      'javascript:alert(1)',
      undefined,
    ]) {
      assert.equal(safeReturnTo(bad), '/', String(bad));
    }
  });
});
