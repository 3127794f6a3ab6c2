import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse, stringify } from 'yaml';
import type { GeneratedFile } from '../api/v1alpha1/crds.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

/** The Prometheus Operator's PrometheusRule, wrapping the groups of config/prometheus/rules.yaml. */
export function prometheusRuleFile(): GeneratedFile {
  const rules = parse(readFileSync(join(ROOT, 'config/prometheus/rules.yaml'), 'utf8')) as {
    groups: unknown[];
  };
  const rule = {
    apiVersion: 'monitoring.coreos.com/v1',
    kind: 'PrometheusRule',
    metadata: {
      name: 'timebox',
      namespace: 'timebox-system',
      labels: { 'app.kubernetes.io/name': 'timebox' },
    },
    spec: { groups: rules.groups },
  };
  return {
    path: 'config/prometheus/prometheusrule.yaml',
    content:
      '# Generated from config/prometheus/rules.yaml by `npm run generate`. Do not edit.\n' +
      stringify(rule, { lineWidth: 0 }),
  };
}
