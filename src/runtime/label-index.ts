import type { KubernetesObject } from '@kubernetes/client-node';
import type { Handler } from './informer.ts';

/**
 * An index of an informer's objects by one label's value (client-go's
 * indexers), so a reconcile finds a grant's bindings without scanning every
 * binding in the cache: O(1) per reconcile instead of O(bindings).
 */
export class LabelIndex<T extends KubernetesObject> {
  private readonly byValue = new Map<string, Map<string, T>>();
  private readonly valueOf = new Map<string, string>();
  private readonly label: string;

  constructor(
    informer: { on(verb: 'add' | 'update' | 'delete', h: Handler<T>): void },
    label: string,
  ) {
    this.label = label;
    informer.on('add', (o) => this.put(o));
    informer.on('update', (o) => this.put(o));
    informer.on('delete', (o) => this.remove(o));
  }

  private static key(o: KubernetesObject): string {
    return `${o.metadata?.namespace ?? ''}/${o.metadata?.name ?? ''}`;
  }

  private put(o: T): void {
    this.remove(o);
    const value = o.metadata?.labels?.[this.label];
    if (value === undefined) return;
    const key = LabelIndex.key(o);
    let bucket = this.byValue.get(value);
    if (!bucket) this.byValue.set(value, (bucket = new Map()));
    bucket.set(key, o);
    this.valueOf.set(key, value);
  }

  private remove(o: T): void {
    const key = LabelIndex.key(o);
    const value = this.valueOf.get(key);
    if (value === undefined) return;
    this.valueOf.delete(key);
    const bucket = this.byValue.get(value);
    bucket?.delete(key);
    if (bucket?.size === 0) this.byValue.delete(value);
  }

  /** The objects whose label has this value. */
  get(value: string): T[] {
    return [...(this.byValue.get(value)?.values() ?? [])];
  }
}
