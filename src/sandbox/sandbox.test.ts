import assert from 'node:assert/strict';
import { run, type CelInput } from '@bufbuild/cel';
import { parse } from 'yaml';
import { authenticationConfigYaml } from './sandbox.ts';

const CA = '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n';

interface Rule {
  expression: string;
  message: string;
}
interface Jwt {
  issuer: {
    url: string;
    certificateAuthority: string;
    audiences: string[];
    audienceMatchPolicy?: string;
  };
  claimValidationRules: Rule[];
  claimMappings: {
    username: { claim: string; prefix: string };
    groups: { claim: string; prefix: string };
  };
  userValidationRules: Rule[];
}

function config(audiences = ['timebox-portal']): { apiVersion: string; kind: string; jwt: Jwt[] } {
  return parse(
    authenticationConfigYaml({ issuer: 'https://127.0.0.1:8443', caPem: CA, audiences }),
  );
}

/** The rules the API server would refuse, evaluated by an independent CEL implementation. */
function failing(rules: Rule[], vars: Record<string, CelInput>): string[] {
  return rules.filter((r) => run(r.expression, vars) !== true).map((r) => r.message);
}

const user = (username: string, groups: string[]) => ({
  user: new Map<string, CelInput>([
    ['username', username],
    ['groups', groups],
  ]),
});

describe('authenticationConfigYaml', () => {
  it('trusts one issuer, by its CA, for the given audiences', () => {
    const c = config();
    assert.equal(c.apiVersion, 'apiserver.config.k8s.io/v1');
    assert.equal(c.kind, 'AuthenticationConfiguration');
    assert.equal(c.jwt.length, 1);
    const { issuer } = c.jwt[0]!;
    assert.equal(issuer.url, 'https://127.0.0.1:8443');
    assert.equal(issuer.certificateAuthority, CA, 'the PEM survives YAML intact');
    assert.deepEqual(issuer.audiences, ['timebox-portal']);
    assert.equal(issuer.audienceMatchPolicy, undefined);
    assert.equal(config(['a', 'b']).jwt[0]!.issuer.audienceMatchPolicy, 'MatchAny');
  });

  it('names people by their email and keeps their groups, without prefixes', () => {
    assert.deepEqual(config().jwt[0]!.claimMappings, {
      username: { claim: 'email', prefix: '' },
      groups: { claim: 'groups', prefix: '' },
    });
  });

  it('refuses any system: user or group, whatever the issuer says', () => {
    const rules = config().jwt[0]!.userValidationRules;
    assert.deepEqual(failing(rules, user('alice@example.com', ['payments-oncall'])), []);
    assert.deepEqual(failing(rules, user('alice@example.com', [])), []);
    assert.deepEqual(
      failing(rules, user('alice@example.com', ['payments-oncall', 'system:masters'])),
      ['an OIDC group may not start with system:, which is reserved for Kubernetes'],
    );
    assert.deepEqual(failing(rules, user('system:kube-controller-manager', [])), [
      'an OIDC user name may not start with system:, which is reserved for Kubernetes',
    ]);
    assert.equal(
      failing(rules, user('system:serviceaccount:kube-system:default', ['system:nodes'])).length,
      2,
    );
  });

  it('accepts an email only when the issuer says it is verified', () => {
    const rules = config().jwt[0]!.claimValidationRules;
    const claims = (c: [string, CelInput][]) => ({ claims: new Map<string, CelInput>(c) });
    assert.deepEqual(failing(rules, claims([['email_verified', true]])), []);
    assert.equal(failing(rules, claims([['email_verified', false]])).length, 1);
    assert.equal(failing(rules, claims([])).length, 1);
  });

  it('refuses what the API server would refuse, with what to do', () => {
    assert.throws(
      () => authenticationConfigYaml({ issuer: 'https://x', caPem: CA, audiences: [] }),
      /name the client IDs/,
    );
    assert.throws(
      () => authenticationConfigYaml({ issuer: 'http://127.0.0.1:1', caPem: CA, audiences: ['a'] }),
      /must be an https URL/,
    );
  });
});
