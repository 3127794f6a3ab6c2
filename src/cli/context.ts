import { basename } from 'node:path';
import { AuthenticationV1Api, KubeConfig } from '@kubernetes/client-node';
import { stringify } from 'yaml';
import type { AccessGrant } from '../api/v1alpha1/types.ts';
import type { TimeboxClient } from '../kube/client.ts';

/** Exit codes: scripts can tell a refusal from a broken invocation. */
export const EXIT = { ok: 0, failure: 1, usage: 2, denied: 3 } as const;

/** Wrong usage: exit 2, with the command's help. */
export class UsageError extends Error {}
/** Refused before anything was made, or denied or failed while waiting: exit 3. */
export class DeniedError extends Error {}

/** How people called it: `kubectl timebox` as a kubectl plugin. */
export const PROG = basename(process.argv[1] ?? 'timebox').startsWith('kubectl-')
  ? 'kubectl timebox'
  : 'timebox';

export interface Ctx {
  kc: KubeConfig;
  /** The three kinds, typed, as the caller. */
  client: TimeboxClient;
  namespace: string;
  output?: 'json' | 'yaml';
  out: (s: string) => void;
  /** For what a person should read but a script should not parse. */
  err: (s: string) => void;
}

export async function whoAmI(kc: KubeConfig): Promise<{ user: string; groups: string[] }> {
  const review = await kc.makeApiClient(AuthenticationV1Api).createSelfSubjectReview({
    body: { apiVersion: 'authentication.k8s.io/v1', kind: 'SelfSubjectReview' },
  });
  const info = review.status?.userInfo;
  if (!info?.username)
    throw new Error('the API server did not say who you are (SelfSubjectReview)');
  // system: groups are implied for everyone and make poor claims.
  return {
    user: info.username,
    groups: (info.groups ?? []).filter((g) => !g.startsWith('system:')),
  };
}

export const grants = (ctx: Ctx) => ({
  get: (name: string): Promise<AccessGrant> => ctx.client.grants.get(ctx.namespace, name),
});

export function print(ctx: Ctx, data: unknown, human: () => string): void {
  if (ctx.output === 'json') ctx.out(JSON.stringify(data, null, 2));
  else if (ctx.output === 'yaml') ctx.out(stringify(data).trimEnd());
  else ctx.out(human());
}

export function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  return rows
    .map((r) =>
      r
        .map((c, i) => c.padEnd(widths[i]!))
        .join('   ')
        .trimEnd(),
    )
    .join('\n');
}

export function until(expiresAt: string | undefined, now = Date.now()): string {
  if (!expiresAt) return '';
  const ms = Date.parse(expiresAt) - now;
  if (ms <= 0) return expiresAt;
  const m = Math.round(ms / 60_000);
  return `${expiresAt} (in ${m >= 60 ? `${Math.floor(m / 60)}h${m % 60}m` : `${m}m`})`;
}
