// Writes every generated artefact (CRDs, the PrometheusRule, the argocd-cm patch) from its source of truth.
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { crdFiles } from '../src/api/v1alpha1/crds.ts';
import { prometheusRuleFile } from '../src/metrics/rules.ts';
import { argocdConfigMapFile } from '../src/integrations/argocd.ts';
import { chartCopies } from './chart-files.ts';

const root = fileURLToPath(new URL('..', import.meta.url));
for (const f of [
  ...crdFiles(),
  prometheusRuleFile(),
  argocdConfigMapFile(),
  ...chartCopies(root),
]) {
  const out = join(root, f.path);
  mkdirSync(dirname(out), { recursive: true });
  writeFileSync(out, f.content);
  console.log(`wrote ${f.path}`);
}
