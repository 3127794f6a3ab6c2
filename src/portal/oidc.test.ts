import assert from 'node:assert/strict';
import { identityFromClaims } from './oidc.ts';
import { checkPortalOptions } from './server.ts';

const mapping = {
  usernameClaim: 'email',
  groupsClaim: 'groups',
  usernamePrefix: '',
  groupsPrefix: '',
};

describe('portal identity and options', () => {
  it('maps a token to the identity the API server would, for the impersonate mode', () => {
    assert.deepEqual(
      identityFromClaims({ email: 'a@x', email_verified: true, groups: ['g', 7] }, mapping),
      {
        user: 'a@x',
        groups: ['g'],
      },
    );
    assert.deepEqual(
      identityFromClaims(
        { email: 'a@x', groups: ['g'] },
        { ...mapping, usernamePrefix: 'oidc:', groupsPrefix: 'oidc:' },
      ),
      { user: 'oidc:a@x', groups: ['oidc:g'] },
    );
  });

  it('never impersonates a system: identity, an unverified email, or no one', () => {
    assert.throws(
      () => identityFromClaims({ email: 'a@x', groups: ['system:masters'] }, mapping),
      /system:masters.*refuses/,
    );
    assert.throws(() => identityFromClaims({ email: 'system:admin' }, mapping), /refuses/);
    assert.throws(
      () => identityFromClaims({ email: 'a@x', groups: ['kubeadm:cluster-admins'] }, mapping),
      /kubeadm:cluster-admins.*--groups-prefix/,
    );
    // With a prefix, an issuer's name can never be Kubernetes' own.
    assert.deepEqual(
      identityFromClaims(
        { email: 'a@x', groups: ['org:team'] },
        { ...mapping, groupsPrefix: 'oidc:' },
      ).groups,
      ['oidc:org:team'],
    );
    assert.throws(
      () => identityFromClaims({ email: 'a@x', email_verified: false }, mapping),
      /not verified/,
    );
    assert.throws(
      () => identityFromClaims({ sub: '1' }, mapping),
      /no 'email' claim.*--username-claim/,
    );
  });

  it('refuses options that could not work, naming the flag', () => {
    const ok = {
      publicUrl: 'https://timebox.example.com',
      issuer: 'https://dex.example.com',
      clientId: 'timebox',
    };
    checkPortalOptions(ok);
    checkPortalOptions({ ...ok, publicUrl: 'http://127.0.0.1:8080' });
    assert.throws(
      () => checkPortalOptions({ ...ok, publicUrl: 'http://timebox.example.com' }),
      /--public-url must be https/,
    );
    assert.throws(
      () => checkPortalOptions({ ...ok, publicUrl: 'https://x.example.com/portal' }),
      /no path/,
    );
    assert.throws(() => checkPortalOptions({ ...ok, publicUrl: 'timebox' }), /--public-url/);
    assert.throws(() => checkPortalOptions({ ...ok, issuer: 'dex' }), /--issuer/);
    assert.throws(() => checkPortalOptions({ ...ok, clientId: '' }), /--client-id/);
  });
});
