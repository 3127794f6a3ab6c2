import { randomUUID } from 'node:crypto';
import { AuthorizationManagementClient } from '@azure/arm-authorization';
import { DefaultAzureCredential } from '@azure/identity';
import type { AccessGrant } from '../../api/v1alpha1/types.ts';
import type { Clock } from '../../runtime/clock.ts';
import { TerminalError, type Artefact, type ProviderDriver, withCause } from '../provider.ts';
import {
  armTime,
  assignmentName,
  decodeClaims,
  encodeClaims,
  latestExpiry,
  liveClaims,
  type AzureBody,
  type Claims,
} from './artefacts.ts';
import { builtInRoleId, customRoleId, parseRole } from './roles.ts';
import { canonicalScopeKey, scopeProblem, subscriptionOf } from './scope.ts';

/** A role assignment, as the provider needs it. */
export interface Assignment {
  roleDefinitionId: string;
  principalId: string;
  description?: string;
}

export interface RoleDefinition {
  id: string;
  builtIn: boolean;
}

/** An active role assignment schedule, and the request that last set it. */
export interface Schedule {
  roleDefinitionId: string;
  principalId: string;
  endDateTime?: string;
  /** The name of the request that last set it. */
  requestName: string;
}

export type ScheduleRequestType = 'AdminAssign' | 'AdminUpdate' | 'AdminRemove';

/** The Azure Resource Manager calls the provider makes: a narrow port, so unit tests can fake it. */
export interface ArmPort {
  /**
   * The full ID of a role definition, and whether it is built in: a built-in
   * role's, by name, or any role's, by GUID or ID, looked up in the scope's subscription.
   */
  roleDefinition(scope: string, role: string): Promise<RoleDefinition>;
  /** undefined when there is no such assignment. */
  getAssignment(scope: string, name: string): Promise<Assignment | undefined>;
  /** Creates the assignment, or updates its description. */
  putAssignment(scope: string, name: string, a: Assignment): Promise<void>;
  /** Succeeds when there is no such assignment. */
  deleteAssignment(scope: string, name: string): Promise<void>;
  /** The principal's active role assignment schedules at exactly this scope. */
  schedules(scope: string, principalId: string): Promise<Schedule[]>;
  /** The justification of a schedule request; undefined when there is no such request. */
  requestJustification(scope: string, name: string): Promise<string | undefined>;
  putScheduleRequest(
    scope: string,
    name: string,
    r: {
      requestType: ScheduleRequestType;
      principalId: string;
      roleDefinitionId: string;
      startDateTime: string;
      endDateTime: string;
      justification: string;
    },
  ): Promise<void>;
}

/** ARM error codes, as the SDK reports them in `err.code`, with the HTTP status in `err.statusCode`. */
const codeOf = (err: unknown): string => String((err as { code?: unknown })?.code ?? '');
const statusOf = (err: unknown): number | undefined => (err as { statusCode?: number })?.statusCode;
const messageOf = (err: unknown): string => (err as Error)?.message ?? String(err);
const isNotFound = (err: unknown) =>
  statusOf(err) === 404 ||
  /^(RoleAssignmentNotFound|RoleAssignmentScheduleRequestNotFound)$/.test(codeOf(err));

/** The SDK's `{scope}` is a path without its leading slash. */
const bare = (scope: string) => scope.replace(/^\/+/, '');
const guidOf = (id: string) => id.split('/').at(-1)!.toLowerCase();

export interface ArmPortOptions {
  /**
   * Another Resource Manager endpoint (a sovereign cloud). A plain http:// URL
   * is taken for a local emulator and is sent no credentials.
   */
  endpoint?: string;
}

/**
 * The real port: @azure/arm-authorization. Credentials come from
 * DefaultAzureCredential: workload identity in AKS (AZURE_CLIENT_ID,
 * AZURE_TENANT_ID and AZURE_FEDERATED_TOKEN_FILE, injected by its webhook), a
 * managed identity, or AZURE_* variables. The SDK's pipeline retries 429 (after
 * Retry-After) and 5xx with exponential backoff first.
 */
export function armPort(options: ArmPortOptions = {}): ArmPort {
  const endpoint = options.endpoint;
  const local = endpoint?.startsWith('http://') ?? false;
  const credential = local
    ? { getToken: async () => ({ token: 'local', expiresOnTimestamp: Date.now() + 3_600_000 }) }
    : new DefaultAzureCredential();
  // Every call names its scope; the subscription is not used.
  const client = new AuthorizationManagementClient(credential, 'unused', {
    ...(endpoint ? { endpoint, $host: endpoint } : {}),
  });
  // The SDK refuses to send a token over plain HTTP: a local emulator gets none.
  if (local) {
    client.pipeline.removePolicy({ name: 'bearerTokenAuthenticationPolicy' });
    client.pipeline.addPolicy({
      name: 'timeboxLocalEmulator',
      sendRequest: (request, next) => {
        request.allowInsecureConnection = true;
        return next(request);
      },
    });
  }
  const roles = new Map<string, Promise<RoleDefinition>>();
  return {
    roleDefinition(scope, role) {
      const sub = scope.split('/').slice(0, 3).join('/');
      const key = `${sub.toLowerCase()} ${role.toLowerCase()}`;
      let id = roles.get(key);
      if (!id) {
        id = (async () => {
          if (role.includes('/') || /^[0-9a-f-]{36}$/i.test(role)) {
            const d = await client.roleDefinitions.get(bare(sub), guidOf(role));
            return { id: d.id!, builtIn: d.roleType === 'BuiltInRole' };
          }
          // Built-in roles only, by name: a custom role is named by its ID, so that
          // nobody's custom role called "Reader" is taken for the built-in one.
          for await (const d of client.roleDefinitions.list(bare(sub), {
            filter: `roleName eq '${role.replace(/'/g, "''")}'`,
          })) {
            if (d.roleType === 'BuiltInRole' && d.roleName?.toLowerCase() === role.toLowerCase())
              return { id: d.id!, builtIn: true };
          }
          throw new TerminalError(
            'RoleNotFound',
            `Azure has no built-in role named '${role}'; name a built-in role (e.g. Reader), or give a custom role by its role definition ID`,
          );
        })();
        roles.set(key, id);
        // A failure is not remembered: the next call asks again.
        id.catch(() => roles.delete(key));
      }
      return id;
    },
    async getAssignment(scope, name) {
      try {
        const a = await client.roleAssignments.get(bare(scope), name);
        return {
          roleDefinitionId: a.roleDefinitionId ?? '',
          principalId: a.principalId ?? '',
          ...(a.description ? { description: a.description } : {}),
        };
      } catch (err) {
        if (isNotFound(err)) return undefined;
        throw err;
      }
    },
    async putAssignment(scope, name, a) {
      await client.roleAssignments.create(bare(scope), name, {
        roleDefinitionId: a.roleDefinitionId,
        principalId: a.principalId,
        ...(a.description ? { description: a.description } : {}),
      });
    },
    async deleteAssignment(scope, name) {
      try {
        await client.roleAssignments.delete(bare(scope), name);
      } catch (err) {
        if (!isNotFound(err)) throw err;
      }
    },
    async schedules(scope, principalId) {
      const out: Schedule[] = [];
      for await (const s of client.roleAssignmentSchedules.listForScope(bare(scope), {
        filter: `principalId eq '${principalId}'`,
      })) {
        // Compared as the request's URL reached them: what Azure reports is canonical.
        if (canonicalScopeKey(s.scope ?? '') !== canonicalScopeKey(scope)) continue;
        out.push({
          roleDefinitionId: s.roleDefinitionId ?? '',
          principalId: s.principalId ?? '',
          ...(s.endDateTime ? { endDateTime: new Date(s.endDateTime).toISOString() } : {}),
          requestName: guidOf(s.roleAssignmentScheduleRequestId ?? ''),
        });
      }
      return out;
    },
    async requestJustification(scope, name) {
      try {
        return (await client.roleAssignmentScheduleRequests.get(bare(scope), name)).justification;
      } catch (err) {
        if (isNotFound(err)) return undefined;
        throw err;
      }
    },
    async putScheduleRequest(scope, name, r) {
      await client.roleAssignmentScheduleRequests.create(bare(scope), name, {
        principalId: r.principalId,
        roleDefinitionId: r.roleDefinitionId,
        requestType: r.requestType,
        justification: r.justification,
        scheduleInfo: {
          startDateTime: new Date(r.startDateTime),
          expiration: { type: 'AfterDateTime', endDateTime: new Date(r.endDateTime) },
        },
      });
    },
  };
}

export interface AzureProviderOptions {
  clock: Clock;
}

const sameId = (a: string, b: string) => a.toLowerCase() === b.toLowerCase();

/**
 * Azure RBAC. Azure allows one role assignment per principal, role and scope, so
 * overlapping grants share it: each grant's claim is written in Azure itself
 * (the assignment's description; the justification of the schedule request
 * that last set the schedule), with the access in the same write, and only the
 * last claim to go removes the access. Schedule mode: the schedule ends at the
 * latest expiry among the claims, and Azure ends it then by itself (fail-safe).
 */
export class AzureProvider implements ProviderDriver {
  readonly name = 'azure' as const;
  private readonly port: ArmPort;
  private readonly clock: Clock;
  /** Claims are read-modify-write per principal, role and scope: one at a time here. */
  private readonly locks = new Map<string, Promise<void>>();

  constructor(port: ArmPort, options: AzureProviderOptions) {
    this.port = port;
    this.clock = options.clock;
  }

  async observe(grant: AccessGrant): Promise<Artefact[]> {
    const { desiredAzureArtefacts } = await import('./artefacts.ts');
    const candidates = desiredAzureArtefacts(
      grant,
      grant.status?.expiresAt ?? new Date(0).toISOString(),
    );
    const found: Artefact[] = [];
    for (const c of candidates) {
      const b = c.body as AzureBody;
      let roleId: string;
      try {
        roleId = (await this.port.roleDefinition(b.scope, b.role)).id;
      } catch (err) {
        // Nothing can be held through a role or scope that does not exist.
        if (err instanceof TerminalError || isNotFound(err)) continue;
        throw err;
      }
      const held = await this.held(b, roleId).catch((err: unknown) => {
        if (isNotFound(err)) return undefined;
        throw err;
      });
      const mine = held?.claims.get(b.claim);
      if (mine === undefined) {
        // Azure ended the schedule at the claim's end (expiresAt, to the second),
        // as it was asked to: nothing to repair in the last moments before expiry.
        // Once the grant itself has expired, nothing is held any more.
        const expired = Date.parse(grant.status?.expiresAt ?? '') <= this.clock.now().getTime();
        if (b.mode === 'Schedule' && this.ended(b) && !expired) found.push(c);
        continue;
      }
      // The access lasts until the schedule ends, whatever the claim says. A
      // plain assignment's claim says until when: one written otherwise is repaired.
      const until =
        b.mode === 'Assignment'
          ? mine
          : held!.endDateTime && held!.endDateTime < b.expiresAt
            ? armTime(held!.endDateTime)
            : b.expiresAt;
      found.push({ ...c, body: { ...b, expiresAt: until } });
    }
    return found;
  }

  async grant(_grant: AccessGrant, artefact: Artefact): Promise<void> {
    const b = artefact.body as AzureBody;
    const what = `role ${b.role} at ${b.scope} for ${b.principalId}`;
    try {
      // Admission refuses these too; the driver holds even if admission was bypassed.
      const problem = scopeProblem(b.scope);
      if (problem) throw new TerminalError('InvalidScope', problem);
      // A schedule cannot be asked to end in the past; it has ended as it should.
      if (b.mode === 'Schedule' && this.ended(b)) return;
      const roleId = await this.roleFor(b);
      await this.serially(key(b, roleId), async () => {
        const held = await this.held(b, roleId);
        if (held && !held.claims.has(b.claim) && held.foreign) {
          throw new TerminalError(
            'AlreadyAssigned',
            `${b.principalId} already holds ${b.role} at ${b.scope} through an assignment Timebox does not own; Azure allows one per principal, role and scope, so there is nothing to grant`,
          );
        }
        if (held?.rewritten) throw rewritten(b, roleId, 'cannot add its claim');
        const claims = liveClaims(held?.claims ?? new Map(), this.clock.now());
        if (claims.get(b.claim) === b.expiresAt && (b.mode === 'Assignment' || covers(held, b)))
          return;
        claims.set(b.claim, b.expiresAt);
        await this.write(b, roleId, claims, held !== undefined);
      });
    } catch (err) {
      throw terminalFor(err, what);
    }
  }

  async revoke(_grant: AccessGrant, artefact: Artefact): Promise<void> {
    const b = artefact.body as AzureBody;
    let roleId: string;
    try {
      // Looked up as when it was granted, whatever its form: what was granted is found.
      roleId = (await this.port.roleDefinition(b.scope, b.role)).id;
    } catch (err) {
      // A role or scope that does not exist holds nothing to revoke.
      if (err instanceof TerminalError || isNotFound(err)) return;
      throw err;
    }
    await this.serially(key(b, roleId), async () => {
      const held = await this.held(b, roleId);
      if (!held) return;
      if (held.rewritten) {
        // Timebox's own assignment (its name says so), whose claims someone
        // overwrote: nobody can tell who else still needs it. Fail safe: remove
        // it (a grant still active writes its claim again at its next
        // reconcile), and say so, as this is not how it should have ended.
        await this.port.deleteAssignment(b.scope, assignmentName(b.scope, roleId, b.principalId));
        throw rewritten(b, roleId, 'removed it');
      }
      if (held.foreign) {
        // A schedule whose last request Timebox did not make. Azure ends Timebox's
        // at its claims' end, so once this grant has ended, one still there is
        // someone else's to keep. Before that, retry and say why.
        if (this.ended(b)) return;
        throw new Error(
          `${b.principalId}'s schedule for ${b.role} at ${b.scope} was last set by a request Timebox did not make (its justification holds no Timebox claims), so Timebox cannot tell whether it may end it; remove it in Azure (Privileged Identity Management) if this grant's access must end now. Azure ends it at its own end date`,
        );
      }
      const claims = liveClaims(held.claims, this.clock.now());
      claims.delete(b.claim);
      // Nothing to do when this grant's claim is not there and others still hold
      // it; claims that have all lapsed (or were pasted by hand) hold nothing.
      if (!held.claims.has(b.claim) && claims.size > 0) return;
      await this.write(b, roleId, claims, true);
    });
  }

  /** The role definition, as the grant names it: a custom role's ID names one in the scope's subscription. */
  private async roleFor(b: AzureBody): Promise<string> {
    const ref = parseRole(b.role);
    const sub = subscriptionOf(b.scope);
    if (ref.kind === 'custom' && ref.subscription !== undefined && ref.subscription !== sub) {
      throw new TerminalError(
        'RoleNotInScopeSubscription',
        `role ${b.role} is defined in subscription ${ref.subscription}, and the scope ${b.scope} is in ${sub}; name the role's ID in the scope's subscription`,
      );
    }
    const d = await this.port.roleDefinition(b.scope, b.role);
    if (ref.kind === 'custom' && d.builtIn) {
      throw new TerminalError(
        'BuiltInRoleNamedAsCustom',
        `role ${b.role} is a built-in role, named as a custom role of the subscription: name it by its name, or as ${builtInRoleId(ref.guid)}, so that the policy is checked against what it is`,
      );
    }
    if (ref.kind === 'builtIn' && !d.builtIn) {
      throw new TerminalError(
        'CustomRoleNamedAsBuiltIn',
        `role ${b.role} is a custom role, named as a built-in one: name it as ${customRoleId(sub, ref.guid)}`,
      );
    }
    return d.id;
  }

  /** Whether a claim's end has come. */
  private ended(b: AzureBody): boolean {
    return Date.parse(b.expiresAt) <= this.clock.now().getTime();
  }

  /**
   * What is held for this principal, role and scope, with the claims on it;
   * undefined when nothing. `foreign`: a schedule whose text holds no claims,
   * maybe not Timebox's. `rewritten`: Timebox's own assignment (at the name it
   * derives) whose description holds no claims any more: someone overwrote it.
   */
  private async held(
    b: AzureBody,
    roleId: string,
  ): Promise<
    { claims: Claims; endDateTime?: string; foreign: boolean; rewritten: boolean } | undefined
  > {
    if (b.mode === 'Assignment') {
      const a = await this.port.getAssignment(
        b.scope,
        assignmentName(b.scope, roleId, b.principalId),
      );
      if (!a) return undefined;
      const claims = decodeClaims(a.description);
      return { claims: claims ?? new Map(), foreign: false, rewritten: claims === undefined };
    }
    const s = (await this.port.schedules(b.scope, b.principalId)).find(
      (x) => sameId(x.roleDefinitionId, roleId) && sameId(x.principalId, b.principalId),
    );
    if (!s) return undefined;
    const claims = decodeClaims(await this.port.requestJustification(b.scope, s.requestName));
    return {
      claims: claims ?? new Map(),
      ...(s.endDateTime ? { endDateTime: s.endDateTime } : {}),
      foreign: claims === undefined,
      rewritten: false,
    };
  }

  /** Writes the claims and the access in one call: a crash never leaves one without the other. */
  private async write(b: AzureBody, roleId: string, claims: Claims, exists: boolean) {
    if (b.mode === 'Assignment') {
      const name = assignmentName(b.scope, roleId, b.principalId);
      if (claims.size === 0) await this.port.deleteAssignment(b.scope, name);
      else {
        await this.port.putAssignment(b.scope, name, {
          roleDefinitionId: roleId,
          principalId: b.principalId,
          description: encodeClaims(claims),
        });
      }
      return;
    }
    const now = armTime(this.clock.now().toISOString());
    const end = latestExpiry(claims);
    if (!end && !exists) return;
    await this.port.putScheduleRequest(b.scope, randomUUID(), {
      requestType: !end ? 'AdminRemove' : exists ? 'AdminUpdate' : 'AdminAssign',
      principalId: b.principalId,
      roleDefinitionId: roleId,
      startDateTime: now,
      endDateTime: end ?? now,
      justification: encodeClaims(claims),
    });
  }

  private async serially(k: string, fn: () => Promise<void>): Promise<void> {
    const before = this.locks.get(k) ?? Promise.resolve();
    const run = before.then(fn, fn);
    const tail = run.catch(() => undefined);
    this.locks.set(k, tail);
    try {
      await run;
    } finally {
      if (this.locks.get(k) === tail) this.locks.delete(k);
    }
  }
}

/** Timebox's own assignment's claims were overwritten: retried, and reported as the grant's condition. */
const rewritten = (b: AzureBody, roleId: string, did: string) =>
  new Error(
    `the description of Timebox's role assignment ${assignmentName(b.scope, roleId, b.principalId)} (${b.role} at ${b.scope} for ${b.principalId}) was overwritten outside Timebox and holds no "timebox claims:" any more, so Timebox ${did}; leave the claims in place when editing it (text around them is kept)`,
  );

const key = (b: AzureBody, roleId: string) =>
  `${b.mode} ${b.scope.toLowerCase()} ${roleId.toLowerCase()} ${b.principalId.toLowerCase()}`;

/** Whether the schedule held lasts at least until this claim's expiry. */
const covers = (held: { endDateTime?: string } | undefined, b: AzureBody) =>
  held?.endDateTime !== undefined && armTime(held.endDateTime) >= b.expiresAt;

function terminalFor(err: unknown, what: string): unknown {
  return withCause(terminalOf(err, what), err);
}

/**
 * ARM errors retrying cannot fix become terminal, with what to do about them.
 * Throttling (429, after Retry-After) and 5xx are retried by the SDK, then by
 * the queue.
 */
function terminalOf(err: unknown, what: string): unknown {
  if (err instanceof TerminalError) return err;
  const code = codeOf(err);
  const msg = messageOf(err);
  if (
    (err as Error)?.name === 'CredentialUnavailableError' ||
    (err as Error)?.name === 'AuthenticationError'
  )
    return new TerminalError(
      'NoCredentials',
      `${what}: the operator has no Azure credentials (${msg}). Configure workload identity for its ServiceAccount, or AZURE_* variables`,
      { retryForMs: 30_000 },
    );
  if (code === 'PrincipalNotFound')
    return new TerminalError(
      'PrincipalNotFound',
      `${what}: Azure has no such principal (${msg}). Give the object ID from Microsoft Entra ID`,
    );
  if (code === 'RoleDefinitionDoesNotExist' || code === 'RoleDefinitionNotFound')
    return new TerminalError('RoleNotFound', `${what}: Azure has no such role (${msg})`);
  if (
    /^(InvalidScope|ResourceGroupNotFound|SubscriptionNotFound|ResourceNotFound|InvalidResourceGroup|MissingSubscription)$/.test(
      code,
    )
  )
    return new TerminalError('ScopeNotFound', `${what}: Azure has no such scope (${msg})`);
  if (code === 'RoleAssignmentExists')
    return new TerminalError(
      'AlreadyAssigned',
      `${what}: the principal already holds this role here through an assignment Timebox does not own (${msg}); Azure allows one per principal, role and scope`,
    );
  if (code === 'AuthorizationFailed' || statusOf(err) === 403)
    return new TerminalError(
      'AuthorizationFailed',
      `${what}: the operator's Azure identity may not do this (${msg}). Give it the permissions listed in docs/providers.md at this scope`,
    );
  if (statusOf(err) === 400 || statusOf(err) === 404)
    return new TerminalError(
      'InvalidRequest',
      `Azure refused ${what}: ${code ? `${code}: ` : ''}${msg}`,
    );
  return err;
}
