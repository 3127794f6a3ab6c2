import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { GeneratedFile } from '../src/api/v1alpha1/crds.ts';

/**
 * Helm reads only files inside the chart, so the chart carries copies of the
 * CRDs, admission policies, user roles, alerting rules and Grafana dashboard; they are regenerated
 * by `npm run generate`, and a test fails when a copy drifts from its source.
 * The CRDs are files, not the chart's crds/ directory, which Helm never
 * upgrades: templates/crds.yaml renders them.
 */
export function chartCopies(root: string): GeneratedFile[] {
  const copy = (from: string, to: string): GeneratedFile => ({
    path: to,
    content: readFileSync(join(root, from), 'utf8'),
  });
  const yamls = (dir: string) => readdirSync(join(root, dir)).filter((f) => f.endsWith('.yaml'));
  return [
    ...yamls('crds').map((f) => copy(`crds/${f}`, `charts/timebox/files/crds/${f}`)),
    ...yamls('config/admission').map((f) =>
      copy(`config/admission/${f}`, `charts/timebox/files/admission/${f}`),
    ),
    copy('config/rbac/user-roles.yaml', 'charts/timebox/files/user-roles.yaml'),
    copy('config/prometheus/rules.yaml', 'charts/timebox/files/rules.yaml'),
    copy(
      'config/grafana/timebox-dashboard.json',
      'charts/timebox/files/grafana/timebox-dashboard.json',
    ),
  ];
}
