import {
  AddUserToGroupCommand,
  AttachRolePolicyCommand,
  AttachUserPolicyCommand,
  DeleteRolePolicyCommand,
  DeleteUserPolicyCommand,
  DetachRolePolicyCommand,
  DetachUserPolicyCommand,
  GetPolicyCommand,
  GetPolicyVersionCommand,
  GetRolePolicyCommand,
  GetUserPolicyCommand,
  IAMClient,
  ListAttachedRolePoliciesCommand,
  ListAttachedUserPoliciesCommand,
  ListGroupsForUserCommand,
  ListRoleTagsCommand,
  ListUserTagsCommand,
  PutRolePolicyCommand,
  PutUserPolicyCommand,
  RemoveUserFromGroupCommand,
  TagRoleCommand,
  TagUserCommand,
  UntagRoleCommand,
  UntagUserCommand,
  type IAMClientConfig,
} from '@aws-sdk/client-iam';
import type { AccessGrant } from '../../api/v1alpha1/types.ts';
import { TerminalError, type Artefact, type ProviderDriver, withCause } from '../provider.ts';
import {
  CLAIM_PREFIX,
  desiredAwsArtefacts,
  standingKey,
  type AwsBody,
  type InlinePolicyBody,
  type SharedBody,
} from './artefacts.ts';
import {
  boundedPolicy,
  INLINE_ROLE_POLICY_LIMIT,
  INLINE_USER_POLICY_LIMIT,
  policySize,
  type PolicyDocument,
} from './policy.ts';

/** The IAM calls the provider makes: a narrow port, so unit tests can fake it. */
export interface IamPort {
  managedPolicyDocument(policyArn: string): Promise<PolicyDocument>;
  putInlinePolicy(p: Principal, name: string, document: string): Promise<void>;
  /** undefined when there is no such inline policy. */
  getInlinePolicy(p: Principal, name: string): Promise<PolicyDocument | undefined>;
  /** Succeeds when there is no such policy. */
  deleteInlinePolicy(p: Principal, name: string): Promise<void>;
  listTags(p: Principal): Promise<Record<string, string>>;
  tag(p: Principal, key: string, value: string): Promise<void>;
  untag(p: Principal, keys: string[]): Promise<void>;
  attachedPolicies(p: Principal): Promise<string[]>;
  attachPolicy(p: Principal, policyArn: string): Promise<void>;
  /** Succeeds when the policy is not attached. */
  detachPolicy(p: Principal, policyArn: string): Promise<void>;
  groupsOf(userName: string): Promise<string[]>;
  addToGroup(userName: string, groupName: string): Promise<void>;
  /** Succeeds when the user is not in the group. */
  removeFromGroup(userName: string, groupName: string): Promise<void>;
}

export interface Principal {
  kind: 'role' | 'user';
  name: string;
}

const PRINCIPAL = /^arn:aws[a-z-]*:iam::\d{12}:(role|user)\/(?:[\w+=,.@-]+\/)*([\w+=,.@-]+)$/;
const GROUP = /^arn:aws[a-z-]*:iam::\d{12}:group\/(?:[\w+=,.@-]+\/)*([\w+=,.@-]+)$/;

export function principalOf(arn: string): Principal {
  const m = PRINCIPAL.exec(arn);
  if (!m) throw new TerminalError('InvalidPrincipal', `'${arn}' is not an IAM role or user ARN`);
  return { kind: m[1] as 'role' | 'user', name: m[2]! };
}

function groupNameOf(arn: string): string {
  const m = GROUP.exec(arn);
  if (!m) throw new TerminalError('InvalidGroup', `'${arn}' is not an IAM group ARN`);
  return m[1]!;
}

const errorName = (err: unknown) => (err as { name?: string })?.name ?? '';
const isNoSuchEntity = (err: unknown) => errorName(err) === 'NoSuchEntityException';

/**
 * IAM errors retrying cannot fix become terminal, with what to do about them.
 * Throttling and 5xx are retried with backoff by the SDK first, then by the queue.
 */
function terminalFor(err: unknown, what: string): unknown {
  return withCause(terminalOf(err, what), err);
}

function terminalOf(err: unknown, what: string): unknown {
  const name = errorName(err);
  const msg = (err as Error)?.message ?? String(err);
  if (name === 'NoSuchEntityException')
    return new TerminalError('NotFound', `${what}: ${msg}. Check that the ARN exists`);
  if (name === 'MalformedPolicyDocumentException' || name === 'InvalidInputException')
    return new TerminalError('InvalidInput', `${what}: ${msg}`);
  if (name === 'LimitExceededException')
    return new TerminalError('LimitExceeded', `${what}: ${msg}`);
  if (name === 'CredentialsProviderError')
    return new TerminalError(
      'NoCredentials',
      `${what}: the operator has no AWS credentials (${msg}). Configure IRSA or EKS Pod Identity for its ServiceAccount, or AWS_* variables`,
    );
  if (name === 'AccessDenied' || name === 'AccessDeniedException')
    return new TerminalError(
      'AccessDenied',
      `${what}: the operator's AWS identity may not do this (${msg}). Grant it the IAM permissions listed in docs/providers.md`,
    );
  return err;
}

/** Every item of a paginated IAM list call (IsTruncated / Marker). */
async function all<R extends { IsTruncated?: boolean; Marker?: string }, T>(
  page: (marker?: string) => Promise<R>,
  items: (r: R) => T[],
): Promise<T[]> {
  const out: T[] = [];
  let marker: string | undefined;
  do {
    const r = await page(marker);
    out.push(...items(r));
    marker = r.IsTruncated ? r.Marker : undefined;
  } while (marker);
  return out;
}

export function iamPort(config: IAMClientConfig = {}): IamPort {
  // Credentials and region come from the SDK's default chain (environment, IRSA,
  // EKS Pod Identity, instance profile). Its standard retry strategy retries
  // throttling and 5xx with exponential backoff and jitter.
  // IAM is global; the region only picks the partition (aws, aws-us-gov, aws-cn).
  const region = process.env.AWS_REGION ?? process.env.AWS_DEFAULT_REGION ?? 'us-east-1';
  const iam = new IAMClient({ maxAttempts: 6, region, ...config });
  const ignoreMissing = async (op: Promise<unknown>) => {
    try {
      await op;
    } catch (err) {
      if (!isNoSuchEntity(err)) throw err;
    }
  };
  return {
    async managedPolicyDocument(policyArn) {
      const p = await iam.send(new GetPolicyCommand({ PolicyArn: policyArn }));
      const v = await iam.send(
        new GetPolicyVersionCommand({
          PolicyArn: policyArn,
          VersionId: p.Policy?.DefaultVersionId,
        }),
      );
      return JSON.parse(decodeURIComponent(v.PolicyVersion?.Document ?? '{}')) as PolicyDocument;
    },
    async putInlinePolicy(pr, name, document) {
      const args = { PolicyName: name, PolicyDocument: document };
      if (pr.kind === 'role')
        await iam.send(new PutRolePolicyCommand({ RoleName: pr.name, ...args }));
      else await iam.send(new PutUserPolicyCommand({ UserName: pr.name, ...args }));
    },
    async getInlinePolicy(pr, name) {
      try {
        const out =
          pr.kind === 'role'
            ? await iam.send(new GetRolePolicyCommand({ RoleName: pr.name, PolicyName: name }))
            : await iam.send(new GetUserPolicyCommand({ UserName: pr.name, PolicyName: name }));
        return JSON.parse(decodeURIComponent(out.PolicyDocument ?? '{}')) as PolicyDocument;
      } catch (err) {
        if (isNoSuchEntity(err)) return undefined;
        throw err;
      }
    },
    async deleteInlinePolicy(pr, name) {
      await ignoreMissing(
        pr.kind === 'role'
          ? iam.send(new DeleteRolePolicyCommand({ RoleName: pr.name, PolicyName: name }))
          : iam.send(new DeleteUserPolicyCommand({ UserName: pr.name, PolicyName: name })),
      );
    },
    async listTags(pr) {
      const tags = await all(
        (Marker) =>
          pr.kind === 'role'
            ? iam.send(new ListRoleTagsCommand({ RoleName: pr.name, Marker }))
            : iam.send(new ListUserTagsCommand({ UserName: pr.name, Marker })),
        (r) => r.Tags ?? [],
      );
      return Object.fromEntries(tags.map((t) => [t.Key ?? '', t.Value ?? '']));
    },
    async tag(pr, key, value) {
      const Tags = [{ Key: key, Value: value }];
      if (pr.kind === 'role') await iam.send(new TagRoleCommand({ RoleName: pr.name, Tags }));
      else await iam.send(new TagUserCommand({ UserName: pr.name, Tags }));
    },
    async untag(pr, keys) {
      await ignoreMissing(
        pr.kind === 'role'
          ? iam.send(new UntagRoleCommand({ RoleName: pr.name, TagKeys: keys }))
          : iam.send(new UntagUserCommand({ UserName: pr.name, TagKeys: keys })),
      );
    },
    async attachedPolicies(pr) {
      return all(
        (Marker) =>
          pr.kind === 'role'
            ? iam.send(new ListAttachedRolePoliciesCommand({ RoleName: pr.name, Marker }))
            : iam.send(new ListAttachedUserPoliciesCommand({ UserName: pr.name, Marker })),
        (r) => (r.AttachedPolicies ?? []).map((p) => p.PolicyArn ?? ''),
      );
    },
    async attachPolicy(pr, PolicyArn) {
      if (pr.kind === 'role')
        await iam.send(new AttachRolePolicyCommand({ RoleName: pr.name, PolicyArn }));
      else await iam.send(new AttachUserPolicyCommand({ UserName: pr.name, PolicyArn }));
    },
    async detachPolicy(pr, PolicyArn) {
      await ignoreMissing(
        pr.kind === 'role'
          ? iam.send(new DetachRolePolicyCommand({ RoleName: pr.name, PolicyArn }))
          : iam.send(new DetachUserPolicyCommand({ UserName: pr.name, PolicyArn })),
      );
    },
    async groupsOf(UserName) {
      return all(
        (Marker) => iam.send(new ListGroupsForUserCommand({ UserName, Marker })),
        (r) => (r.Groups ?? []).map((g) => g.GroupName ?? ''),
      );
    },
    async addToGroup(UserName, GroupName) {
      await iam.send(new AddUserToGroupCommand({ UserName, GroupName }));
    },
    async removeFromGroup(UserName, GroupName) {
      await ignoreMissing(iam.send(new RemoveUserFromGroupCommand({ UserName, GroupName })));
    },
  };
}

/**
 * The expiry that bounds every statement of an inline policy, or '' when some
 * statement is unbounded or bounded otherwise (edited outside Timebox): then the
 * observed artefact differs from the desired one, and the policy is rewritten.
 */
function expiryOf(doc: PolicyDocument): string {
  const statements = Array.isArray(doc.Statement) ? doc.Statement : [doc.Statement];
  const bounds = new Set(
    statements.map((st) => String(st?.Condition?.DateLessThan?.['aws:CurrentTime'] ?? '')),
  );
  return bounds.size === 1 ? [...bounds][0]! : '';
}

/**
 * AWS IAM. InlinePolicy mode: an inline policy per grant and principal, named after
 * the grant's UID, with the managed policy's permissions bounded by expiresAt
 * (fail-safe). AttachPolicy and GroupMembership modes: shared, so reference-counted
 * by claim tags on the principal; only the last claim to go detaches.
 */
export class AwsProvider implements ProviderDriver {
  readonly name = 'aws' as const;
  private readonly port: IamPort;
  /** Claim bookkeeping is read-modify-write per principal: one at a time here. */
  private readonly locks = new Map<string, Promise<void>>();

  constructor(port: IamPort) {
    this.port = port;
  }

  async observe(grant: AccessGrant): Promise<Artefact[]> {
    const candidates = desiredAwsArtefacts(
      grant,
      grant.status?.expiresAt ?? new Date(0).toISOString(),
    );
    const found: Artefact[] = [];
    const tags = new Map<string, Promise<Record<string, string>>>();
    for (const c of candidates) {
      const b = c.body as AwsBody;
      const pr = principalOf(b.principalArn);
      if (b.mode === 'InlinePolicy') {
        const doc = await this.port.getInlinePolicy(pr, b.policyName);
        if (doc) found.push({ ...c, body: { ...b, expiresAt: expiryOf(doc) } });
        continue;
      }
      if (!tags.has(b.principalArn)) tags.set(b.principalArn, this.tagsOf(pr));
      if ((await tags.get(b.principalArn)!)[b.claim] === undefined) continue;
      found.push({ ...c, body: { ...b, held: await this.holds(pr, b) } });
    }
    return found;
  }

  async grant(_grant: AccessGrant, artefact: Artefact): Promise<void> {
    const b = artefact.body as AwsBody;
    const pr = principalOf(b.principalArn);
    if (b.mode === 'InlinePolicy') {
      await this.grantInline(pr, b);
      return;
    }
    const what = `${b.mode} ${b.target} for ${b.principalArn}`;
    await this.serially(b.principalArn, async () => {
      const tags = await this.tagsOf(pr);
      if (tags[b.claim] === undefined) {
        const claimed = Object.entries(tags).some(
          ([k, v]) => k.startsWith(CLAIM_PREFIX) && v === b.target,
        );
        // Held before any grant claimed it: standing access, which no expiry may remove.
        if (!claimed && (await this.holds(pr, b))) {
          await this.port.tag(pr, standingKey(b.target), b.target);
        }
        // The claim is written before the access, so a crash in between leaves a
        // claim that revoke() cleans up, never access without a claim.
        await this.port.tag(pr, b.claim, b.target);
      }
      if (b.mode === 'AttachPolicy') await this.port.attachPolicy(pr, b.target);
      else await this.port.addToGroup(pr.name, groupNameOf(b.target));
    }).catch((err: unknown) => {
      throw terminalFor(err, what);
    });
  }

  async revoke(_grant: AccessGrant, artefact: Artefact): Promise<void> {
    const b = artefact.body as AwsBody;
    const pr = principalOf(b.principalArn);
    if (b.mode === 'InlinePolicy') {
      await this.port.deleteInlinePolicy(pr, b.policyName);
      return;
    }
    await this.serially(b.principalArn, async () => {
      const tags = await this.tagsOf(pr);
      const standing = standingKey(b.target);
      const others = Object.entries(tags).some(
        ([k, v]) => k !== b.claim && k !== standing && k.startsWith(CLAIM_PREFIX) && v === b.target,
      );
      const wasStanding = tags[standing] !== undefined;
      // While another grant claims it, that grant's expiry decides; access held
      // before any grant stays. Access goes before the claim, so a crash in
      // between leaves a claim to retry, never access without one.
      if (!others && !wasStanding) {
        if (b.mode === 'AttachPolicy') await this.port.detachPolicy(pr, b.target);
        else await this.port.removeFromGroup(pr.name, groupNameOf(b.target));
      }
      await this.port.untag(pr, !others && wasStanding ? [b.claim, standing] : [b.claim]);
    });
  }

  private async grantInline(pr: Principal, b: InlinePolicyBody): Promise<void> {
    let managed: PolicyDocument;
    try {
      managed = await this.port.managedPolicyDocument(b.policyArn);
    } catch (err) {
      throw terminalFor(err, `managed policy ${b.policyArn}`);
    }
    const doc = boundedPolicy(managed, b.expiresAt);
    const size = policySize(doc);
    const limit = pr.kind === 'role' ? INLINE_ROLE_POLICY_LIMIT : INLINE_USER_POLICY_LIMIT;
    if (size > limit) {
      throw new TerminalError(
        'PolicyTooLarge',
        `${b.policyArn} is ${size} characters once bounded by its expiry; an inline policy of an IAM ${pr.kind} may have at most ${limit}. Use a smaller managed policy, or mode AttachPolicy (not fail-safe)`,
      );
    }
    try {
      await this.port.putInlinePolicy(pr, b.policyName, JSON.stringify(doc));
    } catch (err) {
      throw terminalFor(err, `inline policy ${b.policyName} on ${b.principalArn}`);
    }
  }

  /** The principal's tags; none when the principal does not exist. */
  private async tagsOf(pr: Principal): Promise<Record<string, string>> {
    try {
      return await this.port.listTags(pr);
    } catch (err) {
      if (isNoSuchEntity(err)) return {};
      throw err;
    }
  }

  private async holds(pr: Principal, b: SharedBody): Promise<boolean> {
    if (b.mode === 'AttachPolicy') return (await this.port.attachedPolicies(pr)).includes(b.target);
    return (await this.port.groupsOf(pr.name)).includes(groupNameOf(b.target));
  }

  private async serially(key: string, fn: () => Promise<void>): Promise<void> {
    const before = this.locks.get(key) ?? Promise.resolve();
    const run = before.then(fn, fn);
    const tail = run.catch(() => undefined);
    this.locks.set(key, tail);
    try {
      await run;
    } finally {
      if (this.locks.get(key) === tail) this.locks.delete(key);
    }
  }
}
