import type { AccessGrant } from '../api/v1alpha1/types.ts';

/** The verdict on a grant request, with a reason that becomes the condition reason. */
export interface Decision {
  verdict: 'Approved' | 'Pending' | 'Denied';
  reason: string;
  message: string;
}

/**
 * Whether a grant may be activated. Until AccessPolicy evaluation lands, a grant
 * that names no policy is approved at once, and one that names a policy waits,
 * since nothing can evaluate it yet.
 */
export function decide(grant: AccessGrant): Decision {
  if (!grant.spec.policy) {
    return {
      verdict: 'Approved',
      reason: 'NoPolicy',
      message: 'no AccessPolicy is named; the grant is activated without approval',
    };
  }
  return {
    verdict: 'Pending',
    reason: 'PolicyEvaluationUnavailable',
    message: `AccessPolicy '${grant.spec.policy}' cannot be evaluated by this version of Timebox`,
  };
}
