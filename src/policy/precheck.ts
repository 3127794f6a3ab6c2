import type { AccessGrant, AccessPolicy } from '../api/v1alpha1/types.ts';
import type { Decision } from './decision.ts';
import { evaluateRequest } from './evaluate.ts';

export interface Precheck {
  policy: string;
  decision: Decision;
}

/**
 * Pure: what the controller would decide about a request made now under each of
 * `policies`, with its own evaluation and messages, before anything is created.
 * A request refused here would be Denied anyway; one accepted may still wait for
 * approvals. (Roles that let their holder outlive a grant are judged by the
 * controller, from the live roles.)
 */
export function precheck(
  draft: AccessGrant,
  policies: readonly AccessPolicy[],
  now: Date,
): Precheck[] {
  return policies.map((p) => {
    const grant = { ...draft, spec: { ...draft.spec, policy: p.metadata.name ?? '' } };
    const { verdict, reason, message } = evaluateRequest(grant, p, [], now);
    return { policy: p.metadata.name ?? '', decision: { verdict, reason, message } };
  });
}

/**
 * Pure: the one policy a request fits, or why none or several do. With several,
 * the person names one; with none, the reasons of the nearest misses say what to
 * change.
 */
export function choosePolicy(
  checks: Precheck[],
): { policy: string; decision: Decision } | { error: string } {
  const fits = checks.filter((c) => c.decision.verdict !== 'Denied');
  if (fits.length === 1) return fits[0]!;
  if (fits.length > 1) {
    return {
      error: `several policies allow this: ${fits.map((f) => f.policy).join(', ')}; name one`,
    };
  }
  if (checks.length === 0) return { error: 'no AccessPolicy exists' };
  return {
    error: `no policy allows this request: ${checks
      .map((c) => `${c.policy}: ${c.decision.message}`)
      .join('; ')}`,
  };
}
