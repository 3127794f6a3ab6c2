import type { AccessGrant, AccessTarget } from '../api/v1alpha1/types.ts';
import { specHash } from '../policy/evaluate.ts';

function target(t: AccessTarget): string {
  if (t.kubernetes) {
    const k = t.kubernetes;
    const role = k.role ? `Role ${k.role}` : `ClusterRole ${k.clusterRole}`;
    return `kubernetes: ${role} ${k.clusterWide ? 'CLUSTER-WIDE' : `in namespaces ${(k.namespaces ?? []).join(', ')}`}`;
  }
  if (t.aws) {
    const a = t.aws;
    const what = a.groupArn ? `membership of ${a.groupArn}` : `policy ${a.policyArn}`;
    return `aws: ${what} for ${a.principalArn} (mode ${a.mode ?? 'InlinePolicy'})`;
  }
  if (t.gcp) return `gcp: ${t.gcp.role} on ${t.gcp.resource} for ${t.gcp.member}`;
  return '(empty entry)';
}

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
    ...g.spec.access.map((t) => `    - ${target(t)}`),
    `  spec hash:    ${specHash(g.spec)}`,
  ];
}
