import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { KINDS } from './kinds.ts';
import { providersTable, withProvidersTable } from './table.ts';

describe('providers table of docs/providers.md', () => {
  it('has a row for every registered provider', () => {
    const rows = providersTable().split('\n').slice(2);
    assert.deepEqual(
      rows.map((r) => /^\| `([a-z]+)`/.exec(r)?.[1]),
      KINDS.map((k) => k.name),
    );
  });

  it('is up to date in docs/providers.md (npm run generate)', async () => {
    const { default: prettier } = await import('prettier');
    const path = new URL('../../docs/providers.md', import.meta.url);
    const doc = readFileSync(path, 'utf8');
    const options = await prettier.resolveConfig(path);
    const fresh = await prettier.format(withProvidersTable(doc), {
      ...options,
      filepath: path.pathname,
    });
    assert.equal(doc, fresh, 'run npm run generate');
  });
});
