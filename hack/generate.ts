// Writes every generated artefact (CRDs) from its TypeScript source of truth.
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { crdFiles } from '../src/api/v1alpha1/crds.ts';

const root = fileURLToPath(new URL('..', import.meta.url));
for (const f of crdFiles()) {
  const out = join(root, f.path);
  mkdirSync(dirname(out), { recursive: true });
  writeFileSync(out, f.content);
  console.log(`wrote ${f.path}`);
}
