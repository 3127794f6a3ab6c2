import { names, rule, str } from '../schema.ts';

/**
 * How an AWS target gives access:
 * - InlinePolicy (default): a copy of the managed policy's statements as an inline
 *   policy of the grant, bounded by `DateLessThan aws:CurrentTime` (fail-safe);
 * - AttachPolicy: the managed policy attached to the principal (for policies too
 *   large to copy); not fail-safe, and shared by overlapping grants;
 * - GroupMembership: the user added to an IAM group; not fail-safe, shared likewise.
 */
export const AWS_MODES = ['InlinePolicy', 'AttachPolicy', 'GroupMembership'] as const;
export type AwsMode = (typeof AWS_MODES)[number];

export interface AwsAccess {
  principalArn: string;
  /** InlinePolicy and AttachPolicy modes. */
  policyArn?: string;
  /** GroupMembership mode. */
  groupArn?: string;
  mode?: AwsMode;
}

export interface AwsAllow {
  /** Glob patterns (`*` matches any run of characters). */
  principalArns?: string[];
  policyArns?: string[];
  groupArns?: string[];
  /** Modes grants may use; only the fail-safe InlinePolicy when absent. */
  modes?: AwsMode[];
  /**
   * Which principal is each requester's own, as templates where `{user}` stands
   * for the requester's user name, e.g. `arn:aws:iam::111122223333:role/{user}`.
   * A selfOnly policy with AWS access must set it: that is how selfOnly covers AWS.
   */
  selfPrincipalArns?: string[];
}

export const awsAccessSchema = {
  type: 'object',
  description:
    'AWS IAM: the permissions of policyArn (or membership of groupArn), given to principalArn until expiry.',
  required: ['principalArn'],
  properties: {
    principalArn: str(2048, {
      pattern: '^arn:aws[a-z-]*:iam::[0-9]{12}:(role|user)/[\\w+=,.@/-]+$',
      description: 'An IAM role or user, e.g. arn:aws:iam::111122223333:role/alice.',
    }),
    policyArn: str(2048, {
      pattern: '^arn:aws[a-z-]*:iam::(aws|[0-9]{12}):policy/[\\w+=,.@/-]+$',
      description: 'A managed policy, e.g. arn:aws:iam::aws:policy/ReadOnlyAccess.',
    }),
    groupArn: str(2048, {
      pattern: '^arn:aws[a-z-]*:iam::[0-9]{12}:group/[\\w+=,.@/-]+$',
      description:
        'An IAM group (GroupMembership mode), e.g. arn:aws:iam::111122223333:group/oncall.',
    }),
    mode: {
      type: 'string',
      enum: [...AWS_MODES],
      default: 'InlinePolicy',
      description:
        'InlinePolicy: a copy of the policy bounded by aws:CurrentTime, which AWS itself ends at expiry (fail-safe). AttachPolicy: the managed policy attached, for policies over the 10,240-character inline limit. GroupMembership: the user added to groupArn. The last two are not fail-safe: only Timebox removes them.',
    },
  },
  'x-kubernetes-validations': [
    rule(
      "has(self.mode) && self.mode == 'GroupMembership' ? (has(self.groupArn) && !has(self.policyArn)) : (has(self.policyArn) && !has(self.groupArn))",
      'set policyArn for the InlinePolicy and AttachPolicy modes, or groupArn (and no policyArn) for mode GroupMembership',
    ),
    rule(
      "!has(self.mode) || self.mode != 'GroupMembership' || self.principalArn.contains(':user/')",
      'mode GroupMembership needs an IAM user as principalArn (roles cannot join groups)',
    ),
  ],
};

export const awsAllowSchema = {
  type: 'object',
  properties: {
    principalArns: names(256, str(2048, { description: 'Glob: * matches any characters.' })),
    policyArns: names(256, str(2048)),
    groupArns: names(256, str(2048)),
    modes: {
      ...names(3, { type: 'string', enum: [...AWS_MODES] }),
      description:
        'Modes grants may use. Absent: only InlinePolicy, whose expiry AWS enforces itself.',
    },
    selfPrincipalArns: {
      ...names(
        16,
        str(512, {
          'x-kubernetes-validations': [
            rule(
              "self.contains('{user}') || self.contains('{localPart}')",
              'a selfPrincipalArns entry must contain {user} (the requester) or {localPart} (its part before @), e.g. arn:aws:iam::111122223333:role/{user}',
            ),
            rule(
              "!self.matches('[*][{]|[}][*]')",
              'a selfPrincipalArns entry must not put * next to {user} or {localPart}: role/*{user} would let user al match role/alice',
            ),
          ],
        }),
      ),
      description:
        "Each requester's own principals, as templates: {user} stands for the requester's user name and {localPart} for its part before @, e.g. arn:aws:iam::111122223333:role/{user}. Required for AWS access under selfOnly.",
    },
  },
};

/** A rule on the policy's spec: selfOnly needs a way to tell each requester's own principal. */
export const awsPolicyRules = [
  rule(
    '!has(self.selfOnly) || !self.selfOnly || self.access.all(a, !has(a.aws) || (has(a.aws.selfPrincipalArns) && size(a.aws.selfPrincipalArns) > 0))',
    "selfOnly cannot be checked for AWS without knowing each requester's own principal: set aws.selfPrincipalArns, e.g. ['arn:aws:iam::111122223333:role/{user}'] ({user} is the requester's user name)",
  ),
];
