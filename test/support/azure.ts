import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A local Azure Resource Manager endpoint for Microsoft.Authorization, answering
 * as Azure does where Timebox relies on it. No official emulator exists.
 * - role definitions: built-in roles by name ($filter=roleName eq '...') or ID,
 *   under any subscription, and custom roles (addCustomRole) by ID; an unknown
 *   ID is 404 RoleDefinitionDoesNotExist;
 * - role assignments: one per principal, role and scope (409 RoleAssignmentExists
 *   for a second, under another name, or while a schedule holds it); PUT on an
 *   existing name updates its description; unknown principals are 400
 *   PrincipalNotFound, unknown scopes 404 ResourceGroupNotFound / SubscriptionNotFound;
 * - role assignment schedule requests: AdminAssign, AdminUpdate, AdminExtend and
 *   AdminRemove; a schedule's assignment disappears at its endDateTime, by the
 *   server's clock;
 * - faults: error responses (e.g. 429 with Retry-After, 503) for the next calls.
 */

export const BUILT_IN_ROLES: Record<string, string> = {
  Reader: 'acdd72a7-3385-48ef-bd42-f606fba81ae7',
  Contributor: 'b24988ac-6180-42a0-ab88-20f7382dd24c',
  Owner: '8e3af657-a8ff-443c-a75c-2fe8c4bcb635',
  'User Access Administrator': '18d7d88d-d35e-4fb5-a5c3-7773c20a72d9',
  'Role Based Access Control Administrator': 'f58310d9-a9f6-439a-9e8d-f62e7b41a168',
  'Storage Blob Data Reader': '2a2b9908-6ea1-4ae2-8e65-a410df84e7d1',
};

interface Held {
  scope: string;
  principalId: string;
  roleGuid: string;
}
interface PlainAssignment extends Held {
  name: string;
  description?: string;
}
interface ActiveSchedule extends Held {
  name: string;
  endMs: number;
  requestName: string;
}
interface Request extends Held {
  name: string;
  requestType: string;
  justification?: string;
  endDateTime?: string;
}

export interface AzureFault {
  status: number;
  code: string;
  /** Seconds, for 429. */
  retryAfter?: number;
  /** Only calls of this HTTP method. */
  method?: 'GET' | 'PUT' | 'DELETE';
}

/** Access as Azure would report it: a plain assignment or an active schedule. */
export interface AzureAccessHeld {
  kind: 'assignment' | 'schedule';
  scope: string;
  principalId: string;
  role: string;
  endDateTime?: string;
  description?: string;
}

export interface ArmServer {
  endpoint: string;
  subscription: string;
  addScope(scope: string): void;
  addPrincipal(id: string): void;
  /** A custom role definition, by its GUID. */
  addCustomRole(guid: string, name: string): void;
  /** Everything the principal holds, from assignments and active schedules. */
  held(principalId?: string): AzureAccessHeld[];
  /** Someone removes the principal's access by hand (assignments and schedules). */
  removeByHand(principalId: string): void;
  /** Someone else assigns a role, outside Timebox. */
  assignByHand(scope: string, role: string, principalId: string): void;
  failNext(times: number, fault: AzureFault): void;
  stats: { requests: number; injected: number };
  stop(): Promise<void>;
}

class ArmError extends Error {
  readonly status: number;
  readonly code: string;
  constructor(status: number, code: string, message: string) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

const lower = (s: string) => s.toLowerCase();
const sameHeld = (a: Held, b: Held) =>
  lower(a.scope) === lower(b.scope) &&
  lower(a.principalId) === lower(b.principalId) &&
  a.roleGuid === b.roleGuid;
const roleNameOf = (guid: string) =>
  Object.entries(BUILT_IN_ROLES).find(([, g]) => g === guid)?.[0] ?? guid;

async function body(req: IncomingMessage): Promise<Record<string, unknown>> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  const text = Buffer.concat(chunks).toString();
  return text ? (JSON.parse(text) as Record<string, unknown>) : {};
}

export async function startArmServer(
  options: { now?: () => number; subscription?: string } = {},
): Promise<ArmServer> {
  const now = options.now ?? Date.now;
  const subscription = options.subscription ?? '00000000-0000-0000-0000-0000000000aa';
  const scopes = new Set<string>();
  const principals = new Set<string>();
  const assignments: PlainAssignment[] = [];
  let schedules: ActiveSchedule[] = [];
  const requests = new Map<string, Request>();
  const faults: (AzureFault & { times: number })[] = [];
  const customRoles = new Map<string, string>();
  const stats = { requests: 0, injected: 0 };

  const roleId = (guid: string) =>
    `/subscriptions/${subscription}/providers/Microsoft.Authorization/roleDefinitions/${guid}`;
  const roleDefinition = (name: string, guid: string) => ({
    id: roleId(guid),
    name: guid,
    type: 'Microsoft.Authorization/roleDefinitions',
    properties: {
      roleName: name,
      type: customRoles.has(guid) ? 'CustomRole' : 'BuiltInRole',
      description: name,
      permissions: [],
    },
  });
  const allRoles = () => [
    ...Object.entries(BUILT_IN_ROLES),
    ...[...customRoles].map(([g, n]) => [n, g] as [string, string]),
  ];
  // Schedules end by themselves: Azure removes the assignment at endDateTime.
  const expire = () => {
    schedules = schedules.filter((s) => s.endMs > now());
  };
  const checkScope = (scope: string) => {
    const parts = scope.split('/');
    const sub = parts.slice(0, 3).join('/');
    if (!scopes.has(lower(sub)))
      throw new ArmError(
        404,
        'SubscriptionNotFound',
        `The subscription '${parts[2]}' could not be found.`,
      );
    const rg = parts.slice(0, 5).join('/');
    if (parts.length >= 5 && !scopes.has(lower(rg)))
      throw new ArmError(
        404,
        'ResourceGroupNotFound',
        `Resource group '${parts[4]}' could not be found.`,
      );
  };
  const roleGuidOf = (id: unknown): string => {
    const guid = lower(
      String(id ?? '')
        .split('/')
        .at(-1) ?? '',
    );
    if (!Object.values(BUILT_IN_ROLES).includes(guid) && !customRoles.has(guid))
      throw new ArmError(
        400,
        'RoleDefinitionDoesNotExist',
        `The specified role definition with ID '${guid}' does not exist.`,
      );
    return guid;
  };
  const checkPrincipal = (id: unknown): string => {
    const p = lower(String(id ?? ''));
    if (!principals.has(p))
      throw new ArmError(
        400,
        'PrincipalNotFound',
        `Principal ${p} does not exist in the directory ${subscription}.`,
      );
    return p;
  };
  const assignmentJson = (a: PlainAssignment) => ({
    id: `${a.scope}/providers/Microsoft.Authorization/roleAssignments/${a.name}`,
    name: a.name,
    type: 'Microsoft.Authorization/roleAssignments',
    properties: {
      scope: a.scope,
      roleDefinitionId: roleId(a.roleGuid),
      principalId: a.principalId,
      principalType: 'User',
      ...(a.description ? { description: a.description } : {}),
    },
  });
  const requestJson = (r: Request) => ({
    id: `${r.scope}/providers/Microsoft.Authorization/roleAssignmentScheduleRequests/${r.name}`,
    name: r.name,
    type: 'Microsoft.Authorization/RoleAssignmentScheduleRequests',
    properties: {
      scope: r.scope,
      roleDefinitionId: roleId(r.roleGuid),
      principalId: r.principalId,
      requestType: r.requestType,
      status: 'Provisioned',
      ...(r.justification ? { justification: r.justification } : {}),
      ...(r.endDateTime
        ? { scheduleInfo: { expiration: { type: 'AfterDateTime', endDateTime: r.endDateTime } } }
        : {}),
    },
  });

  function handle(
    method: string,
    path: string,
    query: URLSearchParams,
    input: Record<string, unknown>,
  ): [number, unknown] {
    const m =
      /^(\/subscriptions\/[^/]+(?:\/.*?)?)\/providers\/Microsoft\.Authorization\/(roleDefinitions|roleAssignments|roleAssignmentSchedules|roleAssignmentScheduleRequests)(?:\/([^/]+))?$/i.exec(
        path,
      );
    if (!m) throw new ArmError(404, 'InvalidResourceType', `no route ${method} ${path}`);
    const [, scope, kind, name] = m as unknown as [string, string, string, string | undefined];
    if (!query.get('api-version'))
      throw new ArmError(
        400,
        'MissingApiVersionParameter',
        'The api-version query parameter is required.',
      );
    expire();
    const props = (input.properties ?? {}) as Record<string, unknown>;
    if (kind === 'roleDefinitions') {
      if (method !== 'GET') throw new ArmError(405, 'MethodNotAllowed', method);
      if (name) {
        const found = allRoles().find(([, g]) => g === lower(name));
        if (!found)
          throw new ArmError(
            404,
            'RoleDefinitionDoesNotExist',
            `The role definition '${name}' could not be found.`,
          );
        return [200, roleDefinition(...found)];
      }
      const f = /roleName eq '((?:[^']|'')*)'/
        .exec(query.get('$filter') ?? '')?.[1]
        ?.replace(/''/g, "'");
      const all = allRoles().filter(([n]) => f === undefined || lower(n) === lower(f));
      return [200, { value: all.map(([n, g]) => roleDefinition(n, g)) }];
    }
    checkScope(scope);
    if (kind === 'roleAssignments') {
      if (!name) {
        const p = /principalId eq '([^']+)'/.exec(query.get('$filter') ?? '')?.[1];
        const list = assignments.filter(
          (a) => lower(a.scope) === lower(scope) && (!p || lower(a.principalId) === lower(p)),
        );
        return [200, { value: list.map(assignmentJson) }];
      }
      const at = assignments.findIndex(
        (a) => lower(a.scope) === lower(scope) && lower(a.name) === lower(name),
      );
      if (method === 'GET') {
        if (at < 0)
          throw new ArmError(
            404,
            'RoleAssignmentNotFound',
            `The role assignment '${name}' is not found.`,
          );
        return [200, assignmentJson(assignments[at]!)];
      }
      if (method === 'DELETE') {
        if (at < 0) return [204, undefined];
        const [gone] = assignments.splice(at, 1);
        return [200, assignmentJson(gone!)];
      }
      const held: Held = {
        scope,
        roleGuid: roleGuidOf(props.roleDefinitionId),
        principalId: checkPrincipal(props.principalId),
      };
      if (at >= 0) {
        const a = assignments[at]!;
        if (!sameHeld(a, held))
          throw new ArmError(
            409,
            'RoleAssignmentUpdateNotPermitted',
            'Tenant ID, application ID, principal ID, and scope are not allowed to be updated.',
          );
        a.description = props.description as string | undefined;
        return [200, assignmentJson(a)];
      }
      if (assignments.some((a) => sameHeld(a, held)) || schedules.some((s) => sameHeld(s, held)))
        throw new ArmError(409, 'RoleAssignmentExists', 'The role assignment already exists.');
      const a: PlainAssignment = {
        ...held,
        name,
        ...(props.description ? { description: props.description as string } : {}),
      };
      assignments.push(a);
      return [201, assignmentJson(a)];
    }
    if (kind === 'roleAssignmentSchedules') {
      const p = /principalId eq '([^']+)'/.exec(query.get('$filter') ?? '')?.[1];
      // At, above or below the scope, as Azure lists them.
      const related = (s: string) =>
        lower(s).startsWith(lower(scope)) || lower(scope).startsWith(lower(s));
      const list = schedules.filter(
        (s) => related(s.scope) && (!p || lower(s.principalId) === lower(p)),
      );
      return [
        200,
        {
          value: list.map((s) => ({
            id: `${s.scope}/providers/Microsoft.Authorization/roleAssignmentSchedules/${s.name}`,
            name: s.name,
            type: 'Microsoft.Authorization/roleAssignmentSchedules',
            properties: {
              scope: s.scope,
              roleDefinitionId: roleId(s.roleGuid),
              principalId: s.principalId,
              status: 'Provisioned',
              assignmentType: 'Assigned',
              endDateTime: new Date(s.endMs).toISOString(),
              roleAssignmentScheduleRequestId: `${s.scope}/providers/Microsoft.Authorization/roleAssignmentScheduleRequests/${s.requestName}`,
            },
          })),
        },
      ];
    }
    // roleAssignmentScheduleRequests
    if (!name) throw new ArmError(405, 'MethodNotAllowed', 'list is not served here');
    if (method === 'GET') {
      const r = requests.get(lower(name));
      if (!r)
        throw new ArmError(
          404,
          'RoleAssignmentScheduleRequestNotFound',
          `The request '${name}' is not found.`,
        );
      return [200, requestJson(r)];
    }
    if (method !== 'PUT') throw new ArmError(405, 'MethodNotAllowed', method);
    if (requests.has(lower(name)))
      throw new ArmError(
        400,
        'RoleAssignmentRequestExistsForSameName',
        'A request with this name already exists.',
      );
    const held: Held = {
      scope,
      roleGuid: roleGuidOf(props.roleDefinitionId),
      principalId: checkPrincipal(props.principalId),
    };
    const type = String(props.requestType ?? '');
    const end = (
      (props.scheduleInfo as Record<string, unknown> | undefined)?.expiration as
        Record<string, unknown> | undefined
    )?.endDateTime as string | undefined;
    const current = schedules.find((s) => sameHeld(s, held));
    const r: Request = {
      ...held,
      name,
      requestType: type,
      ...(props.justification ? { justification: props.justification as string } : {}),
      ...(end ? { endDateTime: end } : {}),
    };
    if (type === 'AdminAssign' || type === 'AdminUpdate' || type === 'AdminExtend') {
      const endMs = Date.parse(end ?? '');
      if (Number.isNaN(endMs) || endMs <= now())
        throw new ArmError(
          400,
          'InvalidScheduleInfo',
          'scheduleInfo.expiration.endDateTime must be in the future.',
        );
      if (type === 'AdminAssign') {
        if (current || assignments.some((a) => sameHeld(a, held)))
          throw new ArmError(400, 'RoleAssignmentExists', 'The Role assignment already exists.');
        schedules.push({ ...held, name: randomUUID(), endMs, requestName: name });
      } else {
        if (!current)
          throw new ArmError(
            400,
            'RoleAssignmentDoesNotExist',
            'The Role assignment does not exist.',
          );
        current.endMs = endMs;
        current.requestName = name;
      }
    } else if (type === 'AdminRemove') {
      if (!current)
        throw new ArmError(
          400,
          'RoleAssignmentDoesNotExist',
          'The Role assignment does not exist.',
        );
      schedules = schedules.filter((s) => s !== current);
    } else {
      throw new ArmError(400, 'InvalidRequestType', `requestType '${type}' is not supported here.`);
    }
    requests.set(lower(name), r);
    return [201, requestJson(r)];
  }

  function send(
    res: ServerResponse,
    status: number,
    json: unknown,
    headers: Record<string, string> = {},
  ): void {
    res.writeHead(status, {
      'content-type': 'application/json',
      'x-ms-request-id': randomUUID(),
      ...headers,
    });
    res.end(json === undefined ? '' : JSON.stringify(json));
  }

  const server = createServer((req, res) => {
    void (async () => {
      stats.requests++;
      const url = new URL(req.url ?? '/', 'http://localhost');
      const path = decodeURIComponent(url.pathname).replace(/\/{2,}/g, '/');
      const input = await body(req);
      const fault = faults.find((f) => !f.method || f.method === req.method);
      if (fault) {
        if (--fault.times <= 0) faults.splice(faults.indexOf(fault), 1);
        stats.injected++;
        send(
          res,
          fault.status,
          { error: { code: fault.code, message: `injected ${fault.code}` } },
          fault.retryAfter !== undefined ? { 'retry-after': String(fault.retryAfter) } : {},
        );
        return;
      }
      try {
        const [status, json] = handle(req.method ?? 'GET', path, url.searchParams, input);
        send(res, status, json);
      } catch (err) {
        const e =
          err instanceof ArmError ? err : new ArmError(500, 'InternalServerError', String(err));
        send(res, e.status, { error: { code: e.code, message: e.message } });
      }
    })();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  scopes.add(lower(`/subscriptions/${subscription}`));
  return {
    endpoint: `http://127.0.0.1:${port}`,
    subscription,
    addScope(scope) {
      scopes.add(lower(scope));
    },
    addPrincipal(id) {
      principals.add(lower(id));
    },
    addCustomRole(guid, name) {
      customRoles.set(lower(guid), name);
    },
    held(principalId) {
      expire();
      const mine = (h: Held) => !principalId || lower(h.principalId) === lower(principalId);
      return [
        ...assignments.filter(mine).map((a) => ({
          kind: 'assignment' as const,
          scope: a.scope,
          principalId: a.principalId,
          role: roleNameOf(a.roleGuid),
          ...(a.description ? { description: a.description } : {}),
        })),
        ...schedules.filter(mine).map((s) => ({
          kind: 'schedule' as const,
          scope: s.scope,
          principalId: s.principalId,
          role: roleNameOf(s.roleGuid),
          endDateTime: new Date(s.endMs).toISOString(),
        })),
      ];
    },
    removeByHand(principalId) {
      const p = lower(principalId);
      for (let i = assignments.length - 1; i >= 0; i--)
        if (lower(assignments[i]!.principalId) === p) assignments.splice(i, 1);
      schedules = schedules.filter((s) => lower(s.principalId) !== p);
    },
    assignByHand(scope, role, principalId) {
      assignments.push({
        scope,
        principalId: lower(principalId),
        roleGuid: BUILT_IN_ROLES[role]!,
        name: randomUUID(),
      });
    },
    failNext(times, fault) {
      faults.push({ ...fault, times });
    },
    stats,
    async stop() {
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}
