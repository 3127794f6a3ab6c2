import type { AccessTarget } from './types.ts';

/** Pure: one access entry in words, as approvers and notifications show it. */
export function describeTarget(t: AccessTarget): string {
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
