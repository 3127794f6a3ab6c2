import { createHash } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { parse as parseCel } from '@bufbuild/cel';
import type { Binding, IamPolicy } from '../../src/providers/gcp/policy.ts';

/**
 * A local Resource Manager v3 IAM policy server: getIamPolicy and setIamPolicy
 * over REST, with the semantics Timebox relies on. No official emulator exists.
 * - etags: every write changes the etag; a write carrying a stale etag fails with
 *   409 ABORTED, as IAM does, and a write without one overwrites;
 * - conditional bindings need policy version 3 and a title, and their expression
 *   must parse as CEL;
 * - unknown roles and malformed members are 400 INVALID_ARGUMENT, and an unknown
 *   resource is 403 PERMISSION_DENIED (IAM does not reveal whether it exists).
 * Faults can be injected: error responses, or another writer between a read and
 * the write that follows it.
 */

const PREDEFINED_ROLES = [
  'roles/owner',
  'roles/editor',
  'roles/viewer',
  'roles/browser',
  'roles/cloudsql.viewer',
  'roles/cloudsql.client',
  'roles/storage.objectViewer',
  'roles/logging.viewer',
];
const MEMBER = /^(user|group|serviceAccount|domain|principal|principalSet|deleted:[a-zA-Z]+):.+$/;

interface Stored {
  policy: IamPolicy;
  version: number;
}

type Fault = { httpStatus: number; status: string; method?: 'getIamPolicy' | 'setIamPolicy' };

export interface GcpIamServer {
  endpoint: string;
  addResource(resource: string, policy?: IamPolicy): void;
  policy(resource: string): IamPolicy;
  /** Someone else changes the policy (a new etag), as a console user would. */
  edit(resource: string, change: (p: IamPolicy) => IamPolicy): void;
  /** Fails the next `times` matching calls with this error (e.g. 503 UNAVAILABLE). */
  failNext(times: number, fault: Fault): void;
  /** After the next read of `resource`, another writer changes its policy. */
  writeAfterNextRead(resource: string, change: (p: IamPolicy) => IamPolicy): void;
  stats: { gets: number; sets: number; conflicts: number; injected: number };
  stop(): Promise<void>;
}

function etagOf(resource: string, version: number): string {
  return createHash('sha256')
    .update(`${resource}#${version}`)
    .digest()
    .subarray(0, 8)
    .toString('base64');
}

class HttpError extends Error {
  readonly httpStatus: number;
  readonly status: string;
  constructor(httpStatus: number, status: string, message: string) {
    super(message);
    this.httpStatus = httpStatus;
    this.status = status;
  }
}

function validate(policy: IamPolicy, roles: Set<string>): void {
  const bad = (m: string) => new HttpError(400, 'INVALID_ARGUMENT', m);
  for (const b of policy.bindings ?? []) {
    if (!roles.has(b.role) && !/^(projects|organizations)\/[^/]+\/roles\//.test(b.role)) {
      throw bad(`Role ${b.role} is not supported for this resource.`);
    }
    for (const m of b.members ?? []) {
      if (!MEMBER.test(m)) throw bad(`Invalid member '${m}' in binding for ${b.role}.`);
    }
    if (b.condition) {
      if ((policy.version ?? 1) < 3) {
        throw bad('Conditional bindings require policy version 3; set policy.version to 3.');
      }
      if (!b.condition.title) throw bad('A condition needs a title.');
      try {
        parseCel(b.condition.expression);
      } catch (err) {
        throw bad(`Condition expression does not parse: ${(err as Error).message}`);
      }
    }
  }
}

/** IAM folds bindings with the same role and condition into one. */
function normalise(bindings: Binding[]): Binding[] {
  const out: Binding[] = [];
  for (const b of bindings) {
    const same = out.find(
      (o) => o.role === b.role && JSON.stringify(o.condition) === JSON.stringify(b.condition),
    );
    if (same) same.members = [...new Set([...same.members, ...b.members])];
    else if (b.members.length > 0) out.push({ ...b, members: [...new Set(b.members)] });
  }
  return out;
}

async function body(req: IncomingMessage): Promise<Record<string, unknown>> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  const text = Buffer.concat(chunks).toString();
  return text ? (JSON.parse(text) as Record<string, unknown>) : {};
}

export async function startGcpIamServer(
  options: { extraRoles?: string[] } = {},
): Promise<GcpIamServer> {
  const roles = new Set([...PREDEFINED_ROLES, ...(options.extraRoles ?? [])]);
  const store = new Map<string, Stored>();
  const faults: (Fault & { times: number })[] = [];
  const afterRead = new Map<string, (p: IamPolicy) => IamPolicy>();
  const stats = { gets: 0, sets: 0, conflicts: 0, injected: 0 };

  const view = (resource: string, s: Stored): IamPolicy => ({
    version: s.policy.version ?? 1,
    bindings: structuredClone(s.policy.bindings ?? []),
    etag: etagOf(resource, s.version),
  });
  const write = (resource: string, s: Stored, p: IamPolicy) => {
    s.policy = { version: p.version ?? 1, bindings: normalise(structuredClone(p.bindings ?? [])) };
    s.version++;
  };

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const m =
      /^\/v3\/((?:projects|folders|organizations)\/[^/:]+):(getIamPolicy|setIamPolicy)$/.exec(
        decodeURIComponent(url.pathname),
      );
    if (req.method !== 'POST' || !m)
      throw new HttpError(404, 'NOT_FOUND', `no route ${req.method} ${url.pathname}`);
    const [, resource, method] = m as unknown as [string, string, 'getIamPolicy' | 'setIamPolicy'];
    const input = await body(req);
    const fault = faults.find((f) => !f.method || f.method === method);
    if (fault) {
      if (--fault.times <= 0) faults.splice(faults.indexOf(fault), 1);
      stats.injected++;
      throw new HttpError(fault.httpStatus, fault.status, `injected ${fault.status}`);
    }
    const stored = store.get(resource!);
    if (!stored) {
      throw new HttpError(
        403,
        'PERMISSION_DENIED',
        `The caller does not have permission on ${resource}, or it does not exist.`,
      );
    }
    if (method === 'getIamPolicy') {
      stats.gets++;
      const requested = Number(
        (input.options as { requestedPolicyVersion?: number })?.requestedPolicyVersion ?? 1,
      );
      const out = view(resource!, stored);
      if (requested < 3 && out.bindings?.some((b) => b.condition)) {
        // As IAM does: a client that does not ask for version 3 cannot see conditions.
        out.version = 1;
        out.bindings = out.bindings.map((b) =>
          b.condition
            ? { role: `${b.role}_withcond_${etagOf(b.condition.title, 0)}`, members: b.members }
            : b,
        );
      }
      const change = afterRead.get(resource!);
      if (change) {
        afterRead.delete(resource!);
        write(resource!, stored, change(view(resource!, stored)));
      }
      return send(res, 200, out);
    }
    stats.sets++;
    const policy = (input.policy ?? {}) as IamPolicy;
    if (policy.etag && policy.etag !== etagOf(resource!, stored.version)) {
      stats.conflicts++;
      throw new HttpError(
        409,
        'ABORTED',
        'There were concurrent policy changes. Please retry the whole read-modify-write with exponential backoff.',
      );
    }
    validate(policy, roles);
    write(resource!, stored, policy);
    return send(res, 200, view(resource!, stored));
  }

  function send(res: ServerResponse, status: number, json: unknown): void {
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(JSON.stringify(json));
  }

  const server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      const e = err instanceof HttpError ? err : new HttpError(500, 'INTERNAL', String(err));
      send(res, e.httpStatus, {
        error: { code: e.httpStatus, message: e.message, status: e.status },
      });
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    addResource(resource, policy = { version: 1, bindings: [] }) {
      const s: Stored = { policy: { version: 1, bindings: [] }, version: 1 };
      write(resource, s, policy);
      store.set(resource, s);
    },
    policy(resource) {
      const s = store.get(resource);
      if (!s) throw new Error(`no resource ${resource}`);
      return view(resource, s);
    },
    edit(resource, change) {
      const s = store.get(resource);
      if (!s) throw new Error(`no resource ${resource}`);
      write(resource, s, change(view(resource, s)));
    },
    failNext(times, fault) {
      faults.push({ ...fault, times });
    },
    writeAfterNextRead(resource, change) {
      afterRead.set(resource, change);
    },
    stats,
    async stop() {
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}
