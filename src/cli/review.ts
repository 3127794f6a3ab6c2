import { describeTarget } from '../api/v1alpha1/describe.ts';
import type { AccessGrant } from '../api/v1alpha1/types.ts';
import { specHash } from '../policy/evaluate.ts';

/**
 * Pure: what an approver reviews, in words, with the hash their decision is bound
 * to. `timebox approve` prints it and binds the approval to exactly this version.
 */
export function reviewLines(g: AccessGrant): string[] {
  const s = g.spec.subject;
  return [
    `AccessGrant ${g.metadata.namespace}/${g.metadata.name} (uid ${g.metadata.uid})`,
    `  requested by: ${g.status?.requestedBy ?? g.metadata.annotations?.['timebox.dev/requested-by'] ?? '(unknown)'}`,
    `  subject:      ${s.kind} ${s.namespace ? `${s.namespace}/` : ''}${s.name}`,
    `  policy:       ${g.spec.policy}`,
    `  duration:     ${g.spec.duration}${g.spec.startAt ? `, from ${g.spec.startAt}` : ', from approval'}`,
    `  reason:       ${g.spec.reason?.trim() || '(none given)'}`,
    '  access:',
    ...g.spec.access.map((t) => `    - ${describeTarget(t)}`),
    `  spec hash:    ${specHash(g.spec)}`,
  ];
}
