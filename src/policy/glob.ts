const escapeRegExp = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
const globSource = (pattern: string) => pattern.split('*').map(escapeRegExp).join('.*');

/** `*` matches any run of characters; everything else literally. */
export function globMatch(pattern: string, value: string): boolean {
  return new RegExp(`^${globSource(pattern)}$`).test(value);
}

/** Whether any of `patterns` matches `value`; none when absent. */
export const anyGlob = (patterns: readonly string[] | undefined, value: string): boolean =>
  (patterns ?? []).some((p) => globMatch(p, value));

/**
 * Whether `value` is `user`'s own according to `template`, where `{user}` stands
 * for the user name and `{localPart}` for its part before any `@`, both taken
 * literally (a user named `*` matches only `*`); `*` elsewhere is a glob.
 */
export function templateMatch(template: string, user: string, value: string, flags = ''): boolean {
  const localPart = user.split('@')[0] ?? user;
  const source = template
    .split(/(\{user\}|\{localPart\})/)
    .map((part) =>
      part === '{user}'
        ? escapeRegExp(user)
        : part === '{localPart}'
          ? escapeRegExp(localPart)
          : globSource(part),
    )
    .join('');
  return new RegExp(`^${source}$`, flags).test(value);
}

/** Pure: the value `template` (as templateMatch reads it) names for `user`. */
export function fillTemplate(template: string, user: string): string {
  const localPart = user.split('@')[0] ?? user;
  return template
    .split(/(\{user\}|\{localPart\})/)
    .map((part) => (part === '{user}' ? user : part === '{localPart}' ? localPart : part))
    .join('');
}
