import type { ParseArgsOptionDescriptor } from 'node:util';
import type { AccessGrant } from '../api/v1alpha1/types.ts';
import type { Clock } from '../runtime/clock.ts';
import type { RoleRisk } from '../policy/escalation.ts';
import type { Artefact, ProviderDriver } from './provider.ts';

/** A piece of OpenAPI schema, as the CRD generator writes it. */
export type Schema = Record<string, unknown>;

/** What an allow-list check knows besides the entry and the allow-list entry. */
export interface AllowContext {
  /** The grant's namespace. */
  namespace: string;
  /** The requester's user name, as admission vouched for it. */
  requester: string;
  /** Whether the policy is selfOnly: only the requester's own identities may receive access. */
  selfOnly: boolean;
}

/** The `timebox request` options of a provider, and how they become an access entry. */
export interface CliSpec<E> {
  options: Record<string, ParseArgsOptionDescriptor>;
  /** What option values complete to (fixed lists). */
  values?: Record<string, readonly string[]>;
  /** The synopsis line, e.g. `[--gcp-resource R --gcp-role ROLE --gcp-member M]`. */
  usage: string;
  /** Help lines, one per option group. */
  help: string;
  /**
   * The entry the options ask for; undefined when none of them is given. Throws
   * an Error saying what to add when they are incomplete or wrong.
   */
  parse(values: Record<string, unknown>, ctx: { namespace: string }): E | undefined;
}

/** An operator flag of a provider (e.g. another endpoint), also read from the environment. */
export interface OperatorFlag {
  name: string;
  /** What the value is, in the help, e.g. URL. */
  value: string;
  env: string;
  /** The help text, after the flag; may span lines. */
  help: string;
}

/** What a driver is built with. */
export interface DriverContext {
  clock: Clock;
  /** The values of the provider's operator flags, by flag name. */
  flags: Readonly<Record<string, string | undefined>>;
  /** The operator's own cluster, for a provider that acts there (Kubernetes RBAC). */
  cluster?: unknown;
}

/**
 * Everything Timebox knows about one kind of access, in one object: the planner,
 * policy evaluation, the CRD generator, the CLI and the docs iterate over the
 * registered kinds (kinds.ts) and never name one. `E` is its access entry
 * (`spec.access[].<name>`), `A` its allow-list entry (`AccessPolicy spec.access[].<name>`).
 * Everything here is pure but `driver`, which loads the SDK only when called.
 */
export interface ProviderKind<N extends string = string, E = unknown, A = unknown> {
  /** The key of its entries in spec.access, and of its targets in status.targets[].provider. */
  readonly name: N;
  /** What people call it, e.g. `AWS IAM`. */
  readonly title: string;
  /** Pure: the artefacts a grant should hold until expiresAt, one or more per entry of this kind. */
  desired(grant: AccessGrant, expiresAt: string): Artefact[];
  /** Pure: whether the entry is inside this allow-list entry. */
  allows(entry: E, allow: A, ctx: AllowContext): boolean;
  /**
   * Pure, for selfOnly policies: why the identity the entry gives access to is
   * not provably the requester's own (a sentence naming the field and what it
   * must be), or undefined when it is or when `allows` already bounds it.
   */
  notSelf?(entry: E, requester: string): string | undefined;
  /**
   * Pure: what the role an entry gives lets its holder keep after the grant (the
   * PersistentEscalation guardrail); none when absent. Kubernetes roles are read
   * from the cluster instead (policy/escalation.ts).
   */
  entryRisks?(entry: E): RoleRisk[];
  /** Pure: the same for every role an allow-list entry lets grants ask for. */
  allowRisks?(allow: A): RoleRisk[];
  /** Pure: the entry in words, for approvers, notifications and denials. */
  describe(entry: E): string;
  /** Its schema fragments: the access entry, the allow-list entry, and rules on the policy's spec. */
  readonly schema: { access: Schema; allow: Schema; policyRules?: Schema[] };
  readonly cli?: CliSpec<E>;
  readonly flags?: readonly OperatorFlag[];
  /** Builds the driver; cloud SDKs are imported here, so a provider not enabled costs nothing. */
  driver(ctx: DriverContext): Promise<ProviderDriver>;
}
