import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT } from '../../src/kube/manifests.ts';

/**
 * The Node.js and V8 flags the image runs the operator with: those of the
 * Dockerfile's ENTRYPOINT, so the tests and benchmarks run what ships.
 */
export function imageNodeFlags(root = REPO_ROOT): string[] {
  const entry = /^ENTRYPOINT (\[.*\])$/m.exec(readFileSync(join(root, 'Dockerfile'), 'utf8'))?.[1];
  if (!entry) throw new Error(`no ENTRYPOINT ["node", ...] in ${join(root, 'Dockerfile')}`);
  return (JSON.parse(entry) as string[]).slice(1).filter((a) => a.startsWith('--'));
}
