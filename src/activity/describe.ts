import type {
  AccessActivityStatus,
  ActivityRequest,
  RightSizing,
} from '../api/v1alpha1/activity.ts';

const where = (r: { namespace?: string }) => (r.namespace ? ` in ${r.namespace}` : '');
const request = (r: ActivityRequest) =>
  `${r.at} ${r.verb} ${r.resource}${r.name ? `/${r.name}` : ''}${where(r)}${r.code !== undefined ? ` (${r.code})` : ''}`;

/** Pure: a grant's activity record in words, for `timebox describe` and the portal. */
export function describeActivity(s: AccessActivityStatus | undefined, max = 10): string[] {
  if (!s || (!s.requests && !s.denied?.length))
    return ['  (no requests recorded)', ...describeRightSizing(s?.rightSizing, max)];
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
  lines.push(...describeRightSizing(s.rightSizing, max));
  return lines;
}

const list = (xs: string[]) => `[${xs.map((x) => (x === '' ? '""' : x)).join(', ')}]`;
const more = (total: number, shown: number) =>
  total > shown ? ` … and ${total - shown} more` : '';

/** Pure: the right-sizing hint in words, with the rules to allow instead as YAML flow mappings. */
export function describeRightSizing(r: RightSizing | undefined, max = 10): string[] {
  if (!r) return [];
  const lines = [`  Right-sizing: ${r.summary}`, `    Compared:  ${r.roles.join('; ')}`];
  for (const u of r.used.slice(0, max)) {
    const unused = u.verbs.filter((v) => !u.used.includes(v));
    lines.push(
      `    used   ${u.resource}: ${u.used.join(', ')}${unused.length ? `; not ${unused.join(', ')}` : ''}`,
    );
  }
  if (r.used.length > max) lines.push(`    …${more(r.used.length, max)} used`);
  if (r.unusedResources.length)
    lines.push(
      `    unused ${r.unusedResources.slice(0, max * 2).join(', ')}${more(r.unusedResources.length + (r.omitted ?? 0), max * 2)}`,
    );
  if (r.unusedNamespaces?.length) lines.push(`    never used in ${r.unusedNamespaces.join(', ')}`);
  if (r.suggestedRules?.length) {
    lines.push('    Rules that would have covered every use:');
    for (const rule of r.suggestedRules.slice(0, max * 2))
      lines.push(
        `      - {apiGroups: ${list(rule.apiGroups)}, resources: ${list(rule.resources)}, verbs: ${list(rule.verbs)}${rule.resourceNames ? `, resourceNames: ${list(rule.resourceNames)}` : ''}}`,
      );
    if (r.suggestedRules.length > max * 2)
      lines.push(`      #${more(r.suggestedRules.length, max * 2)}`);
  }
  return lines;
}
