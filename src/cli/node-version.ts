/** The Node.js major version the CLI needs (the project's `engines`). */
export const NODE_MAJOR_NEEDED = 24;

/**
 * Pure: what to tell someone running the CLI on a Node.js too old for it, or
 * undefined. Older versions fail deep inside a dependency with a stack trace
 * (undici needs APIs Node.js 20 lacks); this says what to do instead.
 */
export function nodeTooOld(version: string): string | undefined {
  const major = Number(version.replace(/^v/, '').split('.')[0]);
  if (Number.isInteger(major) && major >= NODE_MAJOR_NEEDED) return undefined;
  return `timebox needs Node.js ${NODE_MAJOR_NEEDED} or newer, and this is Node.js ${version}. Install Node.js ${NODE_MAJOR_NEEDED} (https://nodejs.org), or run it with: npx -p node@${NODE_MAJOR_NEEDED} -p timebox timebox`;
}
