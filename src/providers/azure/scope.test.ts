import assert from 'node:assert/strict';
import { decodeClaims, liveClaims } from './artefacts.ts';
import { canonicalScopeKey, isScopeGlob, resolvedPath, scopeProblem } from './scope.ts';
import { scopeEscapes } from './testing.ts';

const SUB = '00000000-0000-0000-0000-0000000000aa';
const RG = `/subscriptions/${SUB}/resourceGroups/payments`;

describe('Azure scopes: canonical or refused', () => {
  it('accepts subscriptions, resource groups and resources in Azure resource-name characters', () => {
    for (const scope of [
      `/subscriptions/${SUB}`,
      RG,
      `/subscriptions/${SUB}/resourceGroups/rg_(1).x-y`,
      `${RG}/providers/Microsoft.Storage/storageAccounts/acme/blobServices/default/containers/c1`,
    ]) {
      assert.equal(scopeProblem(scope), undefined, scope);
    }
  });

  for (const [what, scope] of scopeEscapes(SUB, RG, '00000000-0000-0000-0000-0000000000bb')) {
    it(`refuses, saying what is allowed: ${what}`, () => {
      assert.match(scopeProblem(scope) ?? '', /letters, digits, -, _, \., \( and \)/);
    });
  }

  it('knows where the URL the SDK sends would have gone (why the above matter)', () => {
    const [backslash, root, other, encoded] = scopeEscapes(
      SUB,
      RG,
      '00000000-0000-0000-0000-0000000000bb',
    ).map(([, scope]) => scope);
    assert.equal(canonicalScopeKey(backslash!), `/subscriptions/${SUB}`);
    assert.equal(canonicalScopeKey(root!), '/');
    assert.equal(canonicalScopeKey(other!), '/subscriptions/00000000-0000-0000-0000-0000000000bb');
    assert.equal(resolvedPath(encoded!), `/subscriptions/${SUB}/resourceGroups/`);
    assert.equal(canonicalScopeKey(RG.toUpperCase()), RG.toLowerCase());
  });

  it('takes scope patterns of the same characters and *', () => {
    assert.equal(isScopeGlob('/subscriptions/*/resourceGroups/payments-*'), true);
    for (const p of [
      '/subscriptions/*/x\\..',
      '/subscriptions/*/%2e',
      '/subscriptions//x',
      '/subscriptions/*/',
      '/subscriptions/*/..',
      '/subscriptions/*/x.',
      '/resourceGroups/x',
    ]) {
      assert.equal(isScopeGlob(p), false, p);
    }
  });
});

describe('Azure claims', () => {
  it('are read with text added around them, and lapse at their expiry (one without expires now)', () => {
    const claims = decodeClaims(
      'INC-42 timebox claims: a@2030-01-01T00:00:00Z b@ c@2020-01-01T00:00:00Z (by bob@example.com)',
    );
    assert.deepEqual([...claims!.keys()], ['a', 'b', 'c', 'bob']);
    assert.deepEqual([...liveClaims(claims!, new Date('2026-01-01T00:00:00Z')).keys()], ['a']);
    assert.equal(decodeClaims('INC-42'), undefined);
  });
});
