import { Watch, type KubeConfig } from '@kubernetes/client-node';
import { ACCESS_GRANT, GROUP, VERSION, type AccessGrant } from '../api/v1alpha1/types.ts';

/** A change the page should show: an element to put in place (by id), or to remove. */
export interface LiveUpdate {
  /** The element id the fragment replaces; a new row is added to `container`. */
  id: string;
  html?: string;
  container?: string;
  /** Only replace an element already on the page; never add one. */
  replaceOnly?: boolean;
  /** Replace the element's content, not the element. */
  inner?: boolean;
}

/**
 * Follows the grants a person may read with a watch made as that person, so
 * what is pushed is exactly what RBAC lets them see, from the API server's watch
 * cache: no polling. Calls `onGrant` for every change; `onEnd` once the watch ends
 * (the API server closes watches after some minutes; the browser's EventSource
 * then reconnects, and the page is brought up to date from a fresh list).
 */
export async function watchGrants(
  kc: KubeConfig,
  from: { resourceVersion?: string; namespaces?: string[] },
  onGrant: (type: 'ADDED' | 'MODIFIED' | 'DELETED', g: AccessGrant) => void,
  onEnd: (err?: unknown) => void,
): Promise<() => void> {
  const base = `/apis/${GROUP}/${VERSION}`;
  const paths = from.namespaces
    ? from.namespaces.map((ns) => `${base}/namespaces/${ns}/${ACCESS_GRANT.plural}`)
    : [`${base}/${ACCESS_GRANT.plural}`];
  const watch = new Watch(kc);
  const aborts: AbortController[] = [];
  let ended = false;
  const end = (err?: unknown) => {
    if (ended) return;
    ended = true;
    for (const a of aborts) a.abort();
    onEnd(err);
  };
  for (const path of paths) {
    // One watch that failed while the next were being opened ends them all.
    if (ended) break;
    const abort = await watch.watch(
      path,
      {
        allowWatchBookmarks: true,
        // A list per namespace has no common resourceVersion: start those from "now".
        ...(from.resourceVersion && !from.namespaces
          ? { resourceVersion: from.resourceVersion }
          : {}),
      },
      (type: string, obj: AccessGrant) => {
        if (type === 'ADDED' || type === 'MODIFIED' || type === 'DELETED') onGrant(type, obj);
      },
      (err?: unknown) => end(err),
    );
    aborts.push(abort);
    if (ended) abort.abort();
  }
  return () => end();
}
