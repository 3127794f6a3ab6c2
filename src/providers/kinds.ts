import { awsKind } from './aws/kind.ts';
import { azureKind } from './azure/kind.ts';
import { gcpKind } from './gcp/kind.ts';
import type { ProviderKind } from './kind.ts';
import { kubernetesKind } from './kubernetes/kind.ts';

/**
 * The registered kinds of access, in the order their entries are planned and
 * documented. This list is the only place that names them: adding a provider is
 * its folder and one line here.
 */
export const KINDS = [kubernetesKind, awsKind, gcpKind, azureKind] as const;

type Kinds = (typeof KINDS)[number];
type EntryOf<K> = K extends ProviderKind<string, infer E, unknown> ? E : never;
type AllowOf<K> = K extends ProviderKind<string, unknown, infer A> ? A : never;

/** A provider's name: the key of its entries and of its targets. */
export type ProviderName = Kinds['name'];

/** One entry of a grant's spec.access: exactly one kind is set (the schema says so). */
export type AccessEntries = { [K in Kinds as K['name']]?: EntryOf<K> };

/** One entry of a policy's spec.access (its allow-list): exactly one kind is set. */
export type AllowEntries = { [K in Kinds as K['name']]?: AllowOf<K> };

export const PROVIDER_NAMES: readonly ProviderName[] = KINDS.map((k) => k.name);

/**
 * A kind as the generic code sees it, entries of any shape (its methods take its
 * own entries; the caller hands each kind only entries under its name).
 */
export type AnyKind = ProviderKind<ProviderName, unknown, unknown>;

export const kinds: readonly AnyKind[] = KINDS;

/** The kind of this name; undefined for a name no kind has. */
export function kindNamed(name: string): AnyKind | undefined {
  return kinds.find((k) => k.name === name);
}

/** The kind and entry an access entry (or allow-list entry) sets; undefined when it sets none. */
export function entryOf(
  t: Readonly<Record<string, unknown>>,
): { kind: AnyKind; entry: unknown } | undefined {
  for (const kind of kinds) {
    const entry = t[kind.name];
    if (entry !== undefined) return { kind, entry };
  }
  return undefined;
}
