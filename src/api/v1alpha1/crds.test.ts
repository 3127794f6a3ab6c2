import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { crdFiles } from './crds.ts';

const root = fileURLToPath(new URL('../../..', import.meta.url));

describe('generated CRDs', () => {
  for (const f of crdFiles()) {
    it(`${f.path} matches src/api/v1alpha1 (run 'npm run generate' after changing the schema)`, () => {
      assert.equal(readFileSync(`${root}/${f.path}`, 'utf8'), f.content);
    });
  }
});
