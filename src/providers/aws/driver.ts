import {
  DeleteRolePolicyCommand,
  DeleteUserPolicyCommand,
  GetPolicyCommand,
  GetPolicyVersionCommand,
  GetRolePolicyCommand,
  GetUserPolicyCommand,
  IAMClient,
  PutRolePolicyCommand,
  PutUserPolicyCommand,
  type IAMClientConfig,
} from '@aws-sdk/client-iam';
import type { AccessGrant } from '../../api/v1alpha1/types.ts';
import { TerminalError, type Artefact, type ProviderDriver } from '../provider.ts';
import {
  awsTime,
  boundedPolicy,
  INLINE_ROLE_POLICY_LIMIT,
  inlinePolicyName,
  policySize,
  type PolicyDocument,
} from './policy.ts';

/** The IAM calls the provider makes: a narrow port, so unit tests can fake it. */
export interface IamPort {
  managedPolicyDocument(policyArn: string): Promise<PolicyDocument>;
  putInlinePolicy(p: Principal, name: string, document: string): Promise<void>;
  /** undefined when there is no such inline policy. */
  getInlinePolicy(p: Principal, name: string): Promise<PolicyDocument | undefined>;
  deleteInlinePolicy(p: Principal, name: string): Promise<void>;
}

export interface Principal {
  kind: 'role' | 'user';
  name: string;
}

const PRINCIPAL = /^arn:aws[a-z-]*:iam::\d{12}:(role|user)\/(?:[\w+=,.@-]+\/)*([\w+=,.@-]+)$/;

export function principalOf(arn: string): Principal {
  const m = PRINCIPAL.exec(arn);
  if (!m) throw new TerminalError('InvalidPrincipal', `'${arn}' is not an IAM role or user ARN`);
  return { kind: m[1] as 'role' | 'user', name: m[2]! };
}

const isNoSuchEntity = (err: unknown) =>
  (err as { name?: string })?.name === 'NoSuchEntityException';

export function iamPort(config: IAMClientConfig = {}): IamPort {
  // The SDK's standard retry strategy retries throttling and 5xx with backoff.
  const iam = new IAMClient({ maxAttempts: 6, ...config });
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
      if (pr.kind === 'role') {
        await iam.send(
          new PutRolePolicyCommand({
            RoleName: pr.name,
            PolicyName: name,
            PolicyDocument: document,
          }),
        );
      } else {
        await iam.send(
          new PutUserPolicyCommand({
            UserName: pr.name,
            PolicyName: name,
            PolicyDocument: document,
          }),
        );
      }
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
      try {
        if (pr.kind === 'role')
          await iam.send(new DeleteRolePolicyCommand({ RoleName: pr.name, PolicyName: name }));
        else await iam.send(new DeleteUserPolicyCommand({ UserName: pr.name, PolicyName: name }));
      } catch (err) {
        if (!isNoSuchEntity(err)) throw err;
      }
    },
  };
}

/** What an AWS artefact is, normalised for comparison. */
export interface InlinePolicyBody {
  principalArn: string;
  policyName: string;
  expiresAt: string;
}

/** Pure: the inline policies a grant should hold until expiresAt, one per aws entry. */
export function desiredInlinePolicies(grant: AccessGrant, expiresAt: string): Artefact[] {
  const name = inlinePolicyName(grant.metadata.uid ?? '');
  return grant.spec.access.flatMap((a, i) => {
    if (!a.aws) return [];
    // One inline policy per grant and principal; a second entry for the same principal gets its own.
    const policyName =
      i === grant.spec.access.findIndex((b) => b.aws?.principalArn === a.aws!.principalArn)
        ? name
        : `${name}-${i}`;
    const body: InlinePolicyBody & { policyArn: string } = {
      principalArn: a.aws.principalArn,
      policyName,
      expiresAt: awsTime(expiresAt),
      policyArn: a.aws.policyArn,
    };
    return [
      {
        provider: 'aws' as const,
        ref: `InlinePolicy ${a.aws.principalArn} ${policyName}`,
        failSafe: true,
        body,
      },
    ];
  });
}

function expiryOf(doc: PolicyDocument): string {
  const statements = Array.isArray(doc.Statement) ? doc.Statement : [doc.Statement];
  return String(statements[0]?.Condition?.DateLessThan?.['aws:CurrentTime'] ?? '');
}

/**
 * AWS IAM: an inline policy per grant and principal, named after the grant's UID,
 * with the managed policy's permissions bounded by expiresAt (fail-safe).
 */
export class AwsProvider implements ProviderDriver {
  readonly name = 'aws' as const;
  private readonly port: IamPort;

  constructor(port: IamPort) {
    this.port = port;
  }

  async observe(grant: AccessGrant): Promise<Artefact[]> {
    const expiresAt = grant.status?.expiresAt;
    const candidates = desiredInlinePolicies(grant, expiresAt ?? new Date(0).toISOString());
    const found: Artefact[] = [];
    for (const c of candidates) {
      const b = c.body as InlinePolicyBody & { policyArn: string };
      const doc = await this.port.getInlinePolicy(principalOf(b.principalArn), b.policyName);
      if (doc) found.push({ ...c, body: { ...b, expiresAt: expiryOf(doc) } });
    }
    return found;
  }

  async grant(_grant: AccessGrant, artefact: Artefact): Promise<void> {
    const b = artefact.body as InlinePolicyBody & { policyArn: string };
    const principal = principalOf(b.principalArn);
    const doc = boundedPolicy(await this.port.managedPolicyDocument(b.policyArn), b.expiresAt);
    const size = policySize(doc);
    if (size > INLINE_ROLE_POLICY_LIMIT) {
      throw new TerminalError(
        'PolicyTooLarge',
        `${b.policyArn} is ${size} characters once bounded by its expiry; an inline policy may have at most ${INLINE_ROLE_POLICY_LIMIT}. Use a smaller managed policy`,
      );
    }
    await this.port.putInlinePolicy(principal, b.policyName, JSON.stringify(doc));
  }

  async revoke(_grant: AccessGrant, artefact: Artefact): Promise<void> {
    const b = artefact.body as InlinePolicyBody;
    await this.port.deleteInlinePolicy(principalOf(b.principalArn), b.policyName);
  }
}
