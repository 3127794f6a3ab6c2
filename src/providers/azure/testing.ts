/**
 * For tests: scopes that look like one resource to a glob (no `/` past it) and
 * are canonical to nobody: the URL the SDK sends for them reaches the
 * subscription, another subscription, or the tenant root, or Azure may read
 * them as another name. Each is [what, scope], below `${rg}/providers/...`.
 */
export function scopeEscapes(sub: string, rg: string, otherSub: string): [string, string][] {
  const storage = `${rg}/providers/Microsoft.Storage/storageAccounts`;
  return [
    ['backslash dot segments', `${storage}/x\\..\\..\\..\\..\\..\\..`],
    ['to the tenant root', `${storage}/x${'\\..'.repeat(8)}`],
    ['to another subscription', `${storage}/x${'\\..'.repeat(8)}\\subscriptions\\${otherSub}`],
    ['percent-encoded dots', `${storage}/%2e%2e/%2e%2e/%2e%2e/%2e%2e`],
    ['percent-encoded slash', `${storage}/x%2f..%2f..%2f..`],
    ['a newline inside ..', `${storage}/.\n./.\n./.\n./.\n.`],
    ['a tab inside ..', `${storage}/.\t./.\t./.\t./.\t.`],
    ['unicode dot look-alikes', `${storage}/\uff0e\uff0e/\u2024\u2024`],
    ['a trailing dot', `${storage}/x.`],
    ['a .. segment', `${storage}/x/../../..`],
    ['an empty segment', `/subscriptions/${sub}//resourceGroups/payments`],
  ];
}
