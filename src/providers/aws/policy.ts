/**
 * Pure building blocks of the AWS provider: the inline policy a grant puts on its
 * principal. Every statement of the referenced managed policy is copied with a
 * `DateLessThan aws:CurrentTime` condition, so AWS itself stops honouring it at
 * expiresAt even if the operator is down (fail-safe expiry).
 */

export interface PolicyStatement {
  Sid?: string;
  Effect: 'Allow' | 'Deny';
  Action?: string | string[];
  NotAction?: string | string[];
  Resource?: string | string[];
  NotResource?: string | string[];
  Condition?: Record<string, Record<string, string | string[]>>;
}

export interface PolicyDocument {
  Version: string;
  Statement: PolicyStatement | PolicyStatement[];
}

/** AWS's limits for the inline policies of a role and of a user, counted without whitespace. */
export const INLINE_ROLE_POLICY_LIMIT = 10_240;
export const INLINE_USER_POLICY_LIMIT = 2_048;

/** Inline policies are named after the grant's UID, so each grant owns exactly one. */
export function inlinePolicyName(grantUid: string): string {
  return `timebox-${grantUid}`;
}

/** ISO 8601 UTC at second precision, the form AWS documents for date conditions. */
export function awsTime(iso: string): string {
  return new Date(iso).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/**
 * Pure: the managed policy's statements, each bounded by expiresAt. Deny
 * statements are bounded too, so after expiry the inline policy has no effect at
 * all rather than leaving a stray deny on the principal.
 */
export function boundedPolicy(managed: PolicyDocument, expiresAt: string): PolicyDocument {
  const statements = Array.isArray(managed.Statement) ? managed.Statement : [managed.Statement];
  const until = awsTime(expiresAt);
  return {
    Version: '2012-10-17',
    Statement: statements.map((s) => ({
      ...s,
      Condition: {
        ...s.Condition,
        DateLessThan: { ...s.Condition?.DateLessThan, 'aws:CurrentTime': until },
      },
    })),
  };
}

/** The size AWS counts: the JSON without whitespace. */
export function policySize(doc: PolicyDocument): number {
  return JSON.stringify(doc).length;
}
