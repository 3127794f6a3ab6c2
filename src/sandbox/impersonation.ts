import type { KubeConfig } from '@kubernetes/client-node';
import type { Dispatcher } from 'undici';
import { PooledKubeConfig } from '../kube/kubeconfig.ts';

export interface Identity {
  user: string;
  groups?: string[];
  /** Extra fields, sent as Impersonate-Extra-<key>. */
  extra?: Record<string, string[]>;
}

type RawHeaders = unknown;

function identityHeaders(id: Identity): [string, string][] {
  const out: [string, string][] = [['Impersonate-User', id.user]];
  for (const g of id.groups ?? []) out.push(['Impersonate-Group', g]);
  for (const [k, values] of Object.entries(id.extra ?? {})) {
    for (const v of values) out.push([`Impersonate-Extra-${encodeURIComponent(k)}`, v]);
  }
  return out;
}

/**
 * undici hands interceptors headers as a flat [k, v, k, v] array, an array of
 * pairs, an iterable, or a record; each form keeps repeated names distinct.
 */
export function appendHeaders(headers: RawHeaders, extra: [string, string][]): RawHeaders {
  if (headers == null) return extra.flat();
  if (Array.isArray(headers)) {
    if (headers.length > 0 && Array.isArray(headers[0])) return [...headers, ...extra];
    return [...headers, ...extra.flat()];
  }
  if (typeof headers === 'object' && Symbol.iterator in headers) {
    return [...(headers as Iterable<[string, string]>), ...extra];
  }
  const out: Record<string, string | string[]> = { ...(headers as Record<string, string>) };
  for (const [k, v] of extra) {
    const prev = out[k];
    out[k] = prev === undefined ? v : [...(Array.isArray(prev) ? prev : [prev]), v];
  }
  return out;
}

/**
 * A KubeConfig that impersonates a user and any number of groups. client-node only
 * supports `Impersonate-User`, and its header map cannot repeat `Impersonate-Group`,
 * so the headers are added by an undici interceptor. The connection is pinned to
 * HTTP/1.1: undici's HTTP/2 client folds repeated headers into one comma-joined
 * field, which the API server would read as a single group.
 */
export class ImpersonatingKubeConfig extends PooledKubeConfig {
  readonly identity: Identity;

  constructor(base: KubeConfig, identity: Identity) {
    super(base, { allowH2: false });
    this.identity = identity;
  }

  protected override wrap(pool: Dispatcher): Dispatcher {
    const extra = identityHeaders(this.identity);
    return pool.compose(
      (dispatch) => (opts, handler) =>
        dispatch({ ...opts, headers: appendHeaders(opts.headers, extra) as never }, handler),
    );
  }
}
