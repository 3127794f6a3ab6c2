// Writes every generated artefact (CRDs, the PrometheusRule, the argocd-cm patch) from its source of truth.
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { crdFiles } from '../src/api/v1alpha1/crds.ts';
import { prometheusRuleFile } from '../src/metrics/rules.ts';
import { argocdConfigMapFile } from '../src/integrations/argocd.ts';
import { chartCopies } from './chart-files.ts';

const root = fileURLToPath(new URL('..', import.meta.url));
const write = (files: { path: string; content: string }[]) => {
  for (const f of files) {
    const out = join(root, f.path);
    mkdirSync(dirname(out), { recursive: true });
    writeFileSync(out, f.content);
    console.log(`wrote ${f.path}`);
  }
};
write([...crdFiles(), prometheusRuleFile(), argocdConfigMapFile()]);
// The chart's copies are read from the files just written, so one run suffices.
write(chartCopies(root));
