import { FoldersClient, OrganizationsClient, ProjectsClient } from '@google-cloud/resource-manager';
import { PassThroughClient } from 'google-auth-library';
import type { AccessGrant } from '../../api/v1alpha1/types.ts';
import type { Clock } from '../../runtime/clock.ts';
import { TerminalError, type Artefact, type ProviderDriver, withCause } from '../provider.ts';
import {
  bindingOf,
  desiredGcpArtefacts,
  expiryCondition,
  rfc3339,
  timeboxExpiry,
  withMember,
  withoutExpiredTimeboxBindings,
  withoutMember,
  type Binding,
  type GcpBody,
  type IamPolicy,
} from './policy.ts';

/** The Resource Manager calls the provider makes: a narrow port, so unit tests can fake it. */
export interface ResourceManagerPort {
  /** The policy at version 3, with its etag. */
  getIamPolicy(resource: string): Promise<IamPolicy>;
  /** Writes the policy if its etag is still current; fails with ABORTED otherwise. */
  setIamPolicy(resource: string, policy: IamPolicy): Promise<IamPolicy>;
}

/** gRPC status codes, as the Google clients report them in `err.code`. */
const Code = {
  DEADLINE_EXCEEDED: 4,
  NOT_FOUND: 5,
  PERMISSION_DENIED: 7,
  RESOURCE_EXHAUSTED: 8,
  FAILED_PRECONDITION: 9,
  ABORTED: 10,
  INVALID_ARGUMENT: 3,
  INTERNAL: 13,
  UNAVAILABLE: 14,
} as const;

const BY_STATUS: Record<string, number> = {
  INVALID_ARGUMENT: Code.INVALID_ARGUMENT,
  DEADLINE_EXCEEDED: Code.DEADLINE_EXCEEDED,
  NOT_FOUND: Code.NOT_FOUND,
  PERMISSION_DENIED: Code.PERMISSION_DENIED,
  RESOURCE_EXHAUSTED: Code.RESOURCE_EXHAUSTED,
  FAILED_PRECONDITION: Code.FAILED_PRECONDITION,
  ABORTED: Code.ABORTED,
  INTERNAL: Code.INTERNAL,
  UNAVAILABLE: Code.UNAVAILABLE,
};
const BY_HTTP: Record<number, number> = {
  400: Code.INVALID_ARGUMENT,
  403: Code.PERMISSION_DENIED,
  404: Code.NOT_FOUND,
  409: Code.ABORTED,
  412: Code.FAILED_PRECONDITION,
  429: Code.RESOURCE_EXHAUSTED,
  500: Code.INTERNAL,
  502: Code.UNAVAILABLE,
  503: Code.UNAVAILABLE,
  504: Code.DEADLINE_EXCEEDED,
};

/** The JSON error body the REST transport puts in the message, when it is one. */
function restError(err: unknown): { status?: string; message?: string } | undefined {
  try {
    const j = JSON.parse((err as Error)?.message ?? '') as {
      error?: { status?: string; message?: string };
    };
    return j.error;
  } catch {
    return undefined;
  }
}

/**
 * The gRPC status of an error: the REST transport reports the HTTP status in
 * `code` and the Google error body in the message; gRPC errors carry the code.
 */
function codeOf(err: unknown): number | undefined {
  const c = (err as { code?: unknown })?.code;
  if (typeof c === 'number' && c < 100) return c;
  const status = restError(err)?.status;
  if (status && BY_STATUS[status] !== undefined) return BY_STATUS[status];
  if (typeof c === 'number') return BY_HTTP[c] ?? (c >= 500 ? Code.INTERNAL : undefined);
  return undefined;
}

const messageOf = (err: unknown) =>
  restError(err)?.message ?? (err as Error)?.message ?? String(err);
const RETRYABLE: (number | undefined)[] = [
  Code.DEADLINE_EXCEEDED,
  Code.RESOURCE_EXHAUSTED,
  Code.INTERNAL,
  Code.UNAVAILABLE,
];

export interface GcpClientOptions {
  /**
   * Another Resource Manager endpoint, e.g. a private one. A plain http:// URL
   * is taken for a local emulator and is sent no credentials.
   */
  endpoint?: string;
}

type IamClient = Pick<ProjectsClient, 'getIamPolicy' | 'setIamPolicy' | 'initialize'>;

/** Normalises a policy as the client decodes it (null conditions, empty strings). */
function fromWire(p: Record<string, unknown>): IamPolicy {
  const bindings = ((p.bindings as Record<string, unknown>[] | undefined) ?? []).map((b) => {
    const c = b.condition as Record<string, string> | null | undefined;
    const binding: Binding = {
      role: String(b.role),
      members: [...((b.members as string[]) ?? [])],
    };
    if (c && (c.title || c.expression)) {
      binding.condition = {
        title: c.title ?? '',
        expression: c.expression ?? '',
        ...(c.description ? { description: c.description } : {}),
      };
    }
    return binding;
  });
  return { ...p, version: Number(p.version ?? 0), bindings, etag: p.etag as string | undefined };
}

/**
 * The real port: Resource Manager v3 over its REST transport. Credentials come
 * from Application Default Credentials (Workload Identity in GKE).
 */
export function resourceManagerPort(options: GcpClientOptions = {}): ResourceManagerPort {
  const base: ConstructorParameters<typeof ProjectsClient>[0] & Record<string, unknown> = {
    fallback: true,
  };
  if (options.endpoint) {
    const u = new URL(options.endpoint);
    base.apiEndpoint = u.hostname;
    base.port = Number(u.port || (u.protocol === 'http:' ? 80 : 443));
    base.protocol = u.protocol.replace(':', '');
    if (u.protocol === 'http:') base.authClient = new PassThroughClient();
  }
  const clients = new Map<string, Promise<IamClient>>();
  const clientFor = (resource: string): Promise<IamClient> => {
    const kind = resource.split('/')[0]!;
    let c = clients.get(kind);
    if (!c) {
      const client =
        kind === 'projects'
          ? new ProjectsClient(base)
          : kind === 'folders'
            ? new FoldersClient(base)
            : new OrganizationsClient(base);
      // Each call also starts initialize() and rethrows its failure unhandled, which
      // would crash the process: so a client is used only once it initialised, and
      // one that failed (e.g. no credentials yet) is dropped for a fresh one.
      c = client.initialize().then(
        () => client,
        (err: unknown) => {
          clients.delete(kind);
          throw err;
        },
      );
      clients.set(kind, c);
    }
    return c;
  };
  return {
    async getIamPolicy(resource) {
      const [p] = await (
        await clientFor(resource)
      ).getIamPolicy({
        resource,
        options: { requestedPolicyVersion: 3 },
      });
      return fromWire(p as Record<string, unknown>);
    },
    async setIamPolicy(resource, policy) {
      const [p] = await (
        await clientFor(resource)
      ).setIamPolicy({
        resource,
        policy: policy as never,
      });
      return fromWire(p as Record<string, unknown>);
    },
  };
}

export interface GcpProviderOptions {
  clock: Clock;
  /** Attempts of one read-modify-write before the error goes back to the queue. */
  attempts?: number;
  sleep?: (ms: number) => Promise<void>;
}

type Change = (p: IamPolicy) => IamPolicy;
interface Pending {
  change: Change;
  resolve: () => void;
  reject: (err: unknown) => void;
}

const sameBindings = (a: IamPolicy, b: IamPolicy) =>
  JSON.stringify(a.bindings ?? []) === JSON.stringify(b.bindings ?? []);

/**
 * GCP IAM: one conditional binding per grant entry, whose condition
 * `request.time < timestamp(expiresAt)` IAM enforces itself (fail-safe), titled
 * with the grant's UID. Every write is a read-modify-write guarded by the etag,
 * retried on conflict, and drops expired Timebox bindings on the way.
 */
export class GcpProvider implements ProviderDriver {
  readonly name = 'gcp' as const;
  private readonly port: ResourceManagerPort;
  private readonly clock: Clock;
  private readonly attempts: number;
  private readonly sleep: (ms: number) => Promise<void>;
  /** Per resource, the changes waiting for (or in) the current read-modify-write. */
  private readonly queues = new Map<string, Pending[]>();

  constructor(port: ResourceManagerPort, options: GcpProviderOptions) {
    this.port = port;
    this.clock = options.clock;
    this.attempts = options.attempts ?? 6;
    this.sleep = options.sleep ?? ((ms) => new Promise((r) => setTimeout(r, ms)));
  }

  async observe(grant: AccessGrant): Promise<Artefact[]> {
    const candidates = desiredGcpArtefacts(
      grant,
      grant.status?.expiresAt ?? new Date(0).toISOString(),
    );
    const policies = new Map<string, Promise<IamPolicy | undefined>>();
    const found: Artefact[] = [];
    for (const c of candidates) {
      const b = c.body as GcpBody;
      if (!policies.has(b.resource)) {
        policies.set(
          b.resource,
          this.port.getIamPolicy(b.resource).catch((err: unknown) => {
            // Nothing can be held on a resource that does not exist or that we may not read.
            if (codeOf(err) === Code.NOT_FOUND || codeOf(err) === Code.PERMISSION_DENIED)
              return undefined;
            throw err;
          }),
        );
      }
      const policy = await policies.get(b.resource)!;
      const binding = policy && bindingOf(policy, b.role, b.member, b.title);
      if (!binding) continue;
      const at = timeboxExpiry(binding);
      found.push({ ...c, body: { ...b, expiresAt: at ? rfc3339(at.toISOString()) : '' } });
    }
    return found;
  }

  async grant(grant: AccessGrant, artefact: Artefact): Promise<void> {
    const b = artefact.body as GcpBody;
    const condition = expiryCondition(
      grant.metadata.uid ?? '',
      `${grant.metadata.namespace}/${grant.metadata.name}`,
      b.expiresAt,
    );
    try {
      await this.update(b.resource, (p) => withMember(p, b.role, b.member, condition));
    } catch (err) {
      throw terminalFor(err, `${b.role} on ${b.resource} for ${b.member}`);
    }
  }

  async revoke(_grant: AccessGrant, artefact: Artefact): Promise<void> {
    const b = artefact.body as GcpBody;
    try {
      await this.update(b.resource, (p) => withoutMember(p, b.role, b.member, b.title));
    } catch (err) {
      if (codeOf(err) === Code.NOT_FOUND) return; // the resource is gone, and the binding with it
      throw err;
    }
  }

  /**
   * Changes one resource's policy. Changes to the same resource are applied one
   * read-modify-write at a time, and those that queue up meanwhile are applied
   * together in the next one: concurrent grants on one project then neither
   * conflict with each other nor cost a write each.
   */
  private update(resource: string, change: Change): Promise<void> {
    return new Promise((resolve, reject) => {
      let q = this.queues.get(resource);
      if (!q) this.queues.set(resource, (q = []));
      q.push({ change, resolve, reject });
      if (q.length === 1) void this.drain(resource, q);
    });
  }

  private async drain(resource: string, q: Pending[]): Promise<void> {
    while (q.length > 0) {
      const batch = [...q];
      try {
        await this.readModifyWrite(resource, (p) => batch.reduce((acc, c) => c.change(acc), p));
        for (const c of batch) c.resolve();
      } catch (err) {
        if (batch.length > 1 && codeOf(err) === Code.INVALID_ARGUMENT) {
          // One bad change (e.g. an unknown role) must not fail the others with it.
          for (const c of batch) {
            await this.readModifyWrite(resource, c.change).then(c.resolve, c.reject);
          }
        } else {
          for (const c of batch) c.reject(err);
        }
      }
      q.splice(0, batch.length);
    }
    this.queues.delete(resource);
  }

  /** Read-modify-write of one policy, guarded by its etag. */
  private async readModifyWrite(resource: string, change: Change): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      try {
        const current = await this.port.getIamPolicy(resource);
        const next = change(withoutExpiredTimeboxBindings(current, this.clock.now()));
        if (sameBindings(current, next)) return;
        await this.port.setIamPolicy(resource, { ...next, version: 3, etag: current.etag });
        return;
      } catch (err) {
        const conflict = codeOf(err) === Code.ABORTED;
        if ((!conflict && !RETRYABLE.includes(codeOf(err))) || attempt >= this.attempts) throw err;
        // A conflict means someone else wrote in between: read again at once, with
        // a little jitter; server trouble backs off exponentially.
        const ms = conflict ? Math.random() * 50 : Math.min(5_000, 100 * 2 ** attempt);
        await this.sleep(ms);
      }
    }
  }
}

function terminalFor(err: unknown, what: string): unknown {
  return withCause(terminalOf(err, what), err);
}

function terminalOf(err: unknown, what: string): unknown {
  const msg = messageOf(err);
  if (/Could not load the default credentials|does not exist, or it is not a file/i.test(msg)) {
    return new TerminalError(
      'NoCredentials',
      `${what}: the operator has no Google credentials (${msg}). Configure Workload Identity for its ServiceAccount, or GOOGLE_APPLICATION_CREDENTIALS`,
    );
  }
  switch (codeOf(err)) {
    case Code.INVALID_ARGUMENT:
    case Code.FAILED_PRECONDITION:
      return new TerminalError('InvalidArgument', `GCP refused ${what}: ${msg}`);
    case Code.NOT_FOUND:
      return new TerminalError('NotFound', `GCP has no such resource for ${what}: ${msg}`);
    case Code.PERMISSION_DENIED:
      return new TerminalError(
        'PermissionDenied',
        `GCP denied ${what}: ${msg}. The operator's identity needs resourcemanager.*.getIamPolicy and setIamPolicy on the resource (see docs/providers.md)`,
      );
    default:
      return err;
  }
}
