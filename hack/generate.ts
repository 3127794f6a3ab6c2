// Writes every generated artefact (CRDs, the PrometheusRule, the argocd-cm patch) from its source of truth.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { crdFiles } from '../src/api/v1alpha1/crds.ts';
import { prometheusRuleFile } from '../src/metrics/rules.ts';
import { argocdConfigMapFile } from '../src/integrations/argocd.ts';
import { format, resolveConfig } from 'prettier';
import { withProvidersTable } from '../src/providers/table.ts';
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
// The providers table of docs/providers.md, from the registered kinds.
const providersDoc = join(root, 'docs/providers.md');
writeFileSync(
  providersDoc,
  await format(withProvidersTable(readFileSync(providersDoc, 'utf8')), {
    ...(await resolveConfig(providersDoc)),
    filepath: providersDoc,
  }),
);
console.log('wrote docs/providers.md (providers table)');
