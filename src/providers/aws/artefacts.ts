import { createHash } from 'node:crypto';
import type { AccessGrant } from '../../api/v1alpha1/types.ts';
import type { AwsMode } from './api.ts';
import type { Artefact } from '../provider.ts';
import { awsTime, inlinePolicyName } from './policy.ts';

/**
 * Pure: the AWS artefacts a grant should hold. An inline policy is owned by one
 * grant alone. An attached managed policy or a group membership is one thing in
 * IAM that overlapping grants share, so each grant records a claim on it (a tag on
 * the principal) and only the last claim to go removes it.
 */

/** InlinePolicy mode: the grant's own policy, which AWS ends at expiresAt. */
export interface InlinePolicyBody {
  mode: 'InlinePolicy';
  principalArn: string;
  policyArn: string;
  policyName: string;
  expiresAt: string;
}

/** AttachPolicy or GroupMembership mode: a claim on something shared. */
export interface SharedBody {
  mode: Exclude<AwsMode, 'InlinePolicy'>;
  principalArn: string;
  /** The attached policy's ARN, or the group's. */
  target: string;
  /** The tag key on the principal that records this grant's claim. */
  claim: string;
  /** Whether the policy is attached (or the user is in the group). */
  held: boolean;
}

export type AwsBody = InlinePolicyBody | SharedBody;

export const CLAIM_PREFIX = 'timebox:';

const short = (s: string) => createHash('sha256').update(s).digest('hex').slice(0, 10);

/** The tag that records one grant's claim on a shared policy or group. */
export function claimKey(grantUid: string, target: string): string {
  return `${CLAIM_PREFIX}${grantUid}:${short(target)}`;
}

/** The tag that records that the principal held the target before any grant did. */
export function standingKey(target: string): string {
  return `${CLAIM_PREFIX}standing:${short(target)}`;
}

export function desiredAwsArtefacts(grant: AccessGrant, expiresAt: string): Artefact[] {
  const uid = grant.metadata.uid ?? '';
  const name = inlinePolicyName(uid);
  return grant.spec.access.flatMap((a, i): Artefact[] => {
    const x = a.aws;
    if (!x) return [];
    const mode = x.mode ?? 'InlinePolicy';
    if (mode === 'InlinePolicy') {
      // One inline policy per grant and principal; a second entry for the same principal gets its own.
      const first = grant.spec.access.findIndex(
        (b) =>
          (b.aws?.mode ?? 'InlinePolicy') === 'InlinePolicy' &&
          b.aws?.principalArn === x.principalArn,
      );
      const policyName = i === first ? name : `${name}-${i}`;
      const body: InlinePolicyBody = {
        mode,
        principalArn: x.principalArn,
        policyArn: x.policyArn ?? '',
        policyName,
        expiresAt: awsTime(expiresAt),
      };
      return [
        {
          provider: 'aws',
          ref: `InlinePolicy ${x.principalArn} ${policyName}`,
          failSafe: true,
          body,
        },
      ];
    }
    const target = (mode === 'GroupMembership' ? x.groupArn : x.policyArn) ?? '';
    const body: SharedBody = {
      mode,
      principalArn: x.principalArn,
      target,
      claim: claimKey(uid, target),
      held: true,
    };
    const what = mode === 'GroupMembership' ? 'GroupMembership' : 'AttachedPolicy';
    return [{ provider: 'aws', ref: `${what} ${x.principalArn} ${target}`, failSafe: false, body }];
  });
}
