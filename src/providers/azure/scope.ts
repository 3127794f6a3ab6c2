/**
 * Pure: what an Azure scope may look like, and its canonical form.
 *
 * The SDK puts a scope into the request path unencoded, and a URL parser then
 * reads `\` as `/`, `%2e%2e` as `..`, drops tabs and newlines, and resolves dot
 * segments: `…/storageAccounts/x\..\..\..` would reach the subscription. So a
 * scope is made of Azure resource-name characters only (ASCII letters, digits,
 * `-`, `_`, `.`, `(`, `)`; no segment ends with `.`, so `.` and `..` are not
 * segments), and must come out of a URL parser unchanged.
 */

/** One path segment: Azure resource-name characters, not ending with `.` (nor `.` or `..`). */
export const SEGMENT = '[-A-Za-z0-9_.()]*[-A-Za-z0-9_()]';
/** A segment of a scope pattern: the same characters and `*`. */
const PATTERN_SEGMENT = '[-A-Za-z0-9_.()*]*[-A-Za-z0-9_()*]';
const GUID = '[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}';
/** A resource provider's namespace, e.g. Microsoft.Storage. */
const NAMESPACE = '[A-Za-z][A-Za-z0-9]*([.][A-Za-z][A-Za-z0-9]*)*';

/** A subscription, a resource group in it (1 to 90 characters), or a resource below that. */
export const SCOPE_PATTERN = `^/subscriptions/${GUID}(/resourceGroups/[-A-Za-z0-9_.()]{0,89}[-A-Za-z0-9_()](/providers/${NAMESPACE}(/${SEGMENT})+)?)?$`;
/** A policy's scope pattern: `/subscriptions/` and segments of resource-name characters and `*`. */
export const SCOPE_GLOB_PATTERN = `^/subscriptions(/${PATTERN_SEGMENT})+$`;

export const SCOPE_RULES =
  'letters, digits, -, _, ., ( and ) in each segment, no segment ending with . (so no . or .. segments), and no \\, %, spaces or control characters';

const scopeRe = new RegExp(SCOPE_PATTERN);
const globRe = new RegExp(SCOPE_GLOB_PATTERN);

/** What a URL parser makes of a path: the path a request for it reaches. */
export function resolvedPath(path: string): string {
  try {
    return new URL(path, 'https://management.azure.com').pathname;
  } catch {
    return '';
  }
}

/**
 * Why `scope` is not a canonical Azure scope, or undefined when it is: it has
 * the shape and characters of SCOPE_PATTERN and a URL parser leaves it unchanged.
 */
export function scopeProblem(scope: string): string | undefined {
  if (!scopeRe.test(scope) || resolvedPath(scope) !== scope) {
    return `scope '${JSON.stringify(scope).slice(1, -1)}' is not an Azure scope Timebox accepts: write /subscriptions/<id>, /subscriptions/<id>/resourceGroups/<name> or /subscriptions/<id>/resourceGroups/<name>/providers/<namespace>/<type>/<name>..., with ${SCOPE_RULES}`;
  }
  return undefined;
}

export const isCanonicalScope = (scope: string): boolean => scopeProblem(scope) === undefined;

/** Whether `pattern` is a well-formed scope pattern (SCOPE_GLOB_PATTERN). */
export const isScopeGlob = (pattern: string): boolean => globRe.test(pattern);

/**
 * The scope a request for `scope` really reaches, for comparing it with what
 * Azure reports: resolved as a URL parser does, without a trailing slash (but
 * for the root), lower case, as Azure ignores case.
 */
export function canonicalScopeKey(scope: string): string {
  const path = resolvedPath(scope);
  let decoded: string;
  try {
    decoded = decodeURIComponent(path);
  } catch {
    decoded = path;
  }
  return (decoded.length > 1 ? decoded.replace(/\/+$/, '') : decoded).toLowerCase();
}

/** The subscription ID of a canonical scope, lower case. */
export const subscriptionOf = (scope: string): string => (scope.split('/')[2] ?? '').toLowerCase();
