import type { ParseArgsOptionDescriptor } from 'node:util';
import type { AccessGrant } from '../api/v1alpha1/types.ts';
import type { Logger } from '../log/logger.ts';
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

/** What the portal knows of the person a form is for. */
export interface FormContext {
  /** The requester's user name. */
  requester: string;
  /** Whether the policy is selfOnly: only the requester's own identities may receive access. */
  selfOnly: boolean;
}

/**
 * One field of the portal's request form: a `timebox request` option of the kind
 * (`cli.options`), posted under the option's name and read by `cli.parse`. Its
 * input follows the option: a boolean is a checkbox, a multiple option a
 * comma-separated list, an option with fixed values (`cli.values`) or `choose` a
 * select, any other a text input with suggestions.
 */
export interface FormField<A> {
  /** The CLI option the field gives. */
  option: string;
  /** The field's label; the portal also writes it for the option in `cli.parse`'s errors. */
  label: string;
  /** A few words after the label, e.g. what an empty field means. */
  hint?: string;
  /**
   * What this allow-list entry offers for the field, as the policy says it (`*`
   * patterns included): the choices of a select, the suggestions of a text input;
   * for a boolean, non-empty when it may be set. The portal shows no field that no
   * allow-list entry offers anything for.
   */
  offered(allow: A, ctx: FormContext): readonly string[];
  /** A select of the offered values only, rather than free text. */
  choose?: boolean;
  /** A select's empty choice (the option not given), e.g. `(Schedule)` for a default; `(none)` unless told. */
  empty?: string;
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
 * One request made with a provider's access, as the provider's own logs report it
 * (a CloudTrail record). The activity core attributes it by principal and time.
 */
export interface ProviderRequest {
  /** Who made it, spelled as `activity.principals` spells a grant's identities. */
  principal: string;
  /** Unix milliseconds. */
  atMs: number;
  /** The API call, e.g. `GetObject`. */
  verb: string;
  /** The service, e.g. `s3.amazonaws.com`. */
  resource: string;
  /** The object acted on, when short enough to list. */
  name?: string;
  /** The provider refused it: a denied attempt, not a use. */
  denied: boolean;
  /** It changed something: listed, not only counted. */
  write: boolean;
  code?: number;
}

/** A provider's feed of requests; started on the leader only, so each is counted once. */
export interface ProviderActivitySource {
  readonly name: string;
  start(): Promise<void>;
  stop(): Promise<void>;
}

/** What grant activity knows of a kind: whose requests count, and where to read them. */
export interface ActivityHook<E> {
  /** Pure: the identities an entry gives access to; their requests count for the grant. */
  principals(entry: E): string[];
  /** Whether the operator flags configure a source. */
  configured(flags: Readonly<Record<string, string | undefined>>): boolean;
  /** Builds the source (lazily loaded, like a driver); it hands what it reads to `sink`. */
  source(ctx: {
    clock: Clock;
    log: Logger;
    flags: Readonly<Record<string, string | undefined>>;
    sink: (requests: ProviderRequest[]) => void;
  }): Promise<ProviderActivitySource>;
}

/**
 * Everything Timebox knows about one kind of access, in one object: the planner,
 * policy evaluation, the CRD generator, the CLI, the portal and the docs iterate over
 * the registered kinds (kinds.ts) and never name one. `E` is its access entry
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
  /** The portal's request form for this kind, over its CLI options; a kind without one is not requested there. */
  readonly form?: readonly FormField<A>[];
  readonly flags?: readonly OperatorFlag[];
  /** Optional: what was done with its access, from the provider's own logs (docs/activity.md). */
  readonly activity?: ActivityHook<E>;
  /**
   * At most this many of its grant() calls at once, however many grant workers run
   * (limit.ts): a cloud limits how fast it takes writes. Unset: no limit of its own.
   * Revocations are never limited.
   */
  readonly grantConcurrency?: number;
  /** Builds the driver; cloud SDKs are imported here, so a provider not enabled costs nothing. */
  driver(ctx: DriverContext): Promise<ProviderDriver>;
}
