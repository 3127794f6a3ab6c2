import assert from 'node:assert/strict';
import type { ProviderRequest } from '../providers/kind.ts';
import { attribute, attributeRequest, GrantIndex, serviceAccountUser } from './attribute.ts';
import { activeGrant, anEvent } from './fixtures.ts';

const index = (...gs: ReturnType<typeof activeGrant>[]) => GrantIndex.of(gs);
const keys = (hits: ReturnType<typeof attribute>) =>
  hits.map((h) => `${h.grant.key}:${h.use.denied ? 'denied' : 'use'}`);

describe('attribute', () => {
  const grants = index(activeGrant());

  it("counts the subject's request in the grant's namespace and window as a use", () => {
    const [hit] = attribute(anEvent(), grants);
    assert.equal(hit?.grant.key, 'payments/alice-debug');
    assert.deepEqual(
      { ...hit?.use },
      {
        atMs: Date.parse('2026-11-25T09:30:00Z'),
        provider: 'kubernetes',
        verb: 'get',
        resource: 'pods',
        namespace: 'payments',
        name: 'checkout-1',
        code: 200,
        denied: false,
        write: false,
      },
    );
  });

  it('names resources as RBAC does: group and subresource', () => {
    const [hit] = attribute(
      anEvent({
        objectRef: {
          resource: 'deployments',
          apiGroup: 'apps',
          subresource: 'scale',
          namespace: 'payments',
        },
        verb: 'patch',
      }),
      grants,
    );
    assert.equal(hit?.use.resource, 'deployments.apps/scale');
    assert.equal(hit?.use.write, true);
  });

  it("never counts another user's requests", () => {
    assert.deepEqual(attribute(anEvent({ user: { username: 'mallory@example.com' } }), grants), []);
  });

  it('does not count requests before activation or after the end', () => {
    assert.deepEqual(attribute(anEvent({ at: '2026-11-25T08:59:59Z' }), grants), []);
    assert.deepEqual(attribute(anEvent({ at: '2026-11-25T11:00:01Z' }), grants), []);
    const ended = activeGrant();
    ended.status = { ...ended.status, phase: 'Revoked', endedAt: '2026-11-25T09:10:00Z' };
    assert.deepEqual(attribute(anEvent({ at: '2026-11-25T09:20:00Z' }), index(ended)), []);
  });

  it('counts only requests made in the grant namespaces, but denied attempts anywhere', () => {
    const elsewhere = { resource: 'secrets', namespace: 'billing', name: 'db' };
    assert.deepEqual(attribute(anEvent({ objectRef: elsewhere }), grants), []);
    const refused = anEvent({
      objectRef: elsewhere,
      responseStatus: { code: 403 },
      annotations: { 'authorization.k8s.io/decision': 'forbid' },
    });
    assert.deepEqual(keys(attribute(refused, grants)), ['payments/alice-debug:denied']);
  });

  it('counts cluster-scoped requests for cluster-wide grants only', () => {
    const nodes = anEvent({ verb: 'list', objectRef: { resource: 'nodes' } });
    assert.deepEqual(attribute(nodes, grants), []);
    const wide = activeGrant({
      access: [{ kubernetes: { clusterRole: 'view', clusterWide: true } }],
    });
    assert.deepEqual(keys(attribute(nodes, index(wide))), ['payments/alice-debug:use']);
  });

  it('a 403 from admission (authorized, then refused) is a use, not a denied attempt', () => {
    const [hit] = attribute(anEvent({ verb: 'create', responseStatus: { code: 403 } }), grants);
    assert.equal(hit?.use.denied, false);
  });

  it('counts each request once: only complete stages', () => {
    assert.deepEqual(attribute(anEvent({ stage: 'ResponseStarted' }), grants), []);
    assert.deepEqual(attribute(anEvent({ stage: 'RequestReceived' }), grants), []);
    assert.equal(attribute(anEvent({ stage: 'Panic' }), grants).length, 1);
  });

  it('an impersonated request counts for the user the API server impersonated', () => {
    const asAlice = anEvent({
      user: { username: 'support-bot' },
      impersonatedUser: { username: 'alice@example.com', groups: [] },
    });
    assert.deepEqual(keys(attribute(asAlice, grants)), ['payments/alice-debug:use']);
  });

  it("a refused impersonation is the impersonator's denied attempt, never the target's", () => {
    // The API server records impersonatedUser only once it allowed the impersonation.
    const refused = anEvent({
      user: { username: 'mallory@example.com' },
      verb: 'impersonate',
      objectRef: { resource: 'users', name: 'alice@example.com' },
      responseStatus: { code: 403 },
      annotations: { 'authorization.k8s.io/decision': 'forbid' },
    });
    assert.deepEqual(attribute(refused, grants), []);
  });

  it('matches Group subjects by membership and ServiceAccounts by their user name', () => {
    const group = activeGrant({ subject: { kind: 'Group', name: 'payments-oncall' } }, 'oncall');
    const sa = activeGrant(
      { subject: { kind: 'ServiceAccount', name: 'ci', namespace: 'payments' } },
      'ci',
    );
    const both = index(group, sa);
    assert.deepEqual(keys(attribute(anEvent(), both)), ['payments/oncall:use']);
    const fromSa = anEvent({
      user: { username: serviceAccountUser('payments', 'ci'), groups: [] },
    });
    assert.deepEqual(keys(attribute(fromSa, both)), ['payments/ci:use']);
  });

  it("ignores Timebox's own requests, as itself or impersonating", () => {
    const me = 'system:serviceaccount:timebox-system:timebox-controller';
    const own = anEvent({
      user: { username: me },
      impersonatedUser: { username: 'alice@example.com' },
    });
    assert.deepEqual(attribute(own, grants, new Set([me])), []);
  });

  it('ignores events without a resource, user or time', () => {
    assert.deepEqual(attribute(anEvent({ objectRef: undefined }), grants), []);
    assert.deepEqual(attribute(anEvent({ user: undefined }), grants), []);
    assert.deepEqual(attribute(anEvent({ at: 'yesterday' }), grants), []);
  });

  it('grants with no Kubernetes target get no Kubernetes activity', () => {
    const aws = activeGrant({
      access: [{ aws: { principalArn: 'arn:aws:iam::1:role/alice', policyArn: 'p' } }],
    });
    const refused = anEvent({ responseStatus: { code: 403 }, annotations: {} });
    assert.deepEqual(attribute(refused, index(aws)), []);
  });
});

describe("attribute a provider's request", () => {
  const ROLE = 'arn:aws:iam::111122223333:role/alice';
  const withRole = (name: string) =>
    activeGrant(
      {
        access: [
          { aws: { principalArn: ROLE, policyArn: 'arn:aws:iam::aws:policy/ReadOnlyAccess' } },
        ],
      },
      name,
    );
  const req = (o: Partial<ProviderRequest> = {}): ProviderRequest => ({
    principal: ROLE,
    atMs: Date.parse('2026-11-25T09:30:00Z'),
    verb: 'ListBuckets',
    resource: 's3.amazonaws.com',
    denied: false,
    write: false,
    ...o,
  });

  it('to every grant giving that principal access, within each window', () => {
    const g = index(withRole('a'), withRole('b'), activeGrant());
    assert.deepEqual(
      attributeRequest('aws', req(), g).map((h) => h.grant.key),
      ['payments/a', 'payments/b'],
    );
    assert.deepEqual(
      attributeRequest('aws', req({ atMs: Date.parse('2026-11-25T08:59:59Z') }), g),
      [],
    );
    assert.deepEqual(
      attributeRequest('aws', req({ atMs: Date.parse('2026-11-25T11:00:01Z') }), g),
      [],
    );
  });

  it('never to another principal, nor by the same name under another provider', () => {
    const g = index(withRole('a'));
    assert.deepEqual(
      attributeRequest('aws', req({ principal: 'arn:aws:iam::111122223333:role/alice2' }), g),
      [],
    );
    assert.deepEqual(attributeRequest('kubernetes', req(), g), []);
    assert.deepEqual(attributeRequest('aws', req({ atMs: NaN }), g), []);
  });
});
