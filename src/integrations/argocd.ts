import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { stringify } from 'yaml';
import type { GeneratedFile } from '../api/v1alpha1/crds.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

/** The argocd-cm entries that teach Argo CD Timebox's health, from config/argocd/health.lua. */
export function argocdConfigMapFile(): GeneratedFile {
  const script = readFileSync(join(ROOT, 'config/argocd/health.lua'), 'utf8');
  const patch = {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: { name: 'argocd-cm', namespace: 'argocd' },
    data: { 'resource.customizations.health.timebox.dev_AccessGrant': script },
  };
  return {
    path: 'config/argocd/argocd-cm-patch.yaml',
    content:
      '# Generated from config/argocd/health.lua by `npm run generate`. Do not edit.\n' +
      '# Merge into argocd-cm, e.g.:\n' +
      '#   kubectl -n argocd patch configmap argocd-cm --patch-file config/argocd/argocd-cm-patch.yaml\n' +
      stringify(patch, { lineWidth: 0, blockQuote: 'literal' }),
  };
}

/** A JSON value as a Lua table constructor, for running health.lua on fixtures. */
export function toLua(v: unknown): string {
  if (v === null || v === undefined) return 'nil';
  if (typeof v === 'string')
    return JSON.stringify(v).replace(
      /\\u([0-9a-f]{4})/gi,
      (_, h: string) => `\\${parseInt(h, 16)}`,
    );
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  if (Array.isArray(v)) return `{${v.map(toLua).join(', ')}}`;
  return `{${Object.entries(v as Record<string, unknown>)
    .map(([k, x]) => `[${JSON.stringify(k)}] = ${toLua(x)}`)
    .join(', ')}}`;
}
