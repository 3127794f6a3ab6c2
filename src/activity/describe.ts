import type { AccessActivityStatus, ActivityRequest } from '../api/v1alpha1/activity.ts';

const where = (r: { namespace?: string }) => (r.namespace ? ` in ${r.namespace}` : '');
const request = (r: ActivityRequest) =>
  `${r.at} ${r.verb} ${r.resource}${r.name ? `/${r.name}` : ''}${where(r)}${r.code !== undefined ? ` (${r.code})` : ''}`;

/** Pure: a grant's activity record in words, for `timebox describe` and the portal. */
export function describeActivity(s: AccessActivityStatus | undefined, max = 10): string[] {
  if (!s || (!s.requests && !s.denied?.length)) return ['  (no requests recorded)'];
  const lines = [
    `  Requests:    ${s.requests ?? 0}${s.firstUsed ? `, first ${s.firstUsed}, last ${s.lastUsed}` : ''}`,
  ];
  const counts = s.counts ?? [];
  if (counts.length) {
    lines.push('  By verb and resource:');
    for (const c of counts.slice(0, max))
      lines.push(`    ${String(c.count).padStart(6)}  ${c.verb} ${c.resource}${where(c)}`);
    const rest = counts.slice(max).reduce((n, c) => n + c.count, 0) + (s.otherRequests ?? 0);
    if (rest) lines.push(`    ${String(rest).padStart(6)}  other`);
  }
  const listed = (title: string, items: ActivityRequest[] | undefined, omitted = 0) => {
    if (!items?.length && !omitted) return;
    lines.push(`  ${title}:`);
    for (const r of (items ?? []).slice(0, max)) lines.push(`    - ${request(r)}`);
    const more = Math.max(0, (items?.length ?? 0) - max) + omitted;
    if (more) lines.push(`    … and ${more} more`);
  };
  listed('Writes', s.writes, s.writesOmitted);
  listed('Denied attempts', s.denied, s.deniedOmitted);
  const r = s.rightSizing;
  if (r) {
    lines.push(`  Right-sizing: ${r.summary}`);
    for (const u of r.used.slice(0, max))
      lines.push(`    used ${u.resource}: ${u.used.join(', ')} (of ${u.verbs.join(', ')})`);
  }
  return lines;
}
