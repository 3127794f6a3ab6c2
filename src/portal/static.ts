import { createHash } from 'node:crypto';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { extname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export interface StaticFile {
  body: Buffer;
  type: string;
  etag: string;
}

export type StaticFiles = ReadonlyMap<string, StaticFile>;

const TYPES: Record<string, string> = {
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
};

/**
 * Where the files are: beside this module in the sources, and in dist/portal/
 * when this module is bundled into dist/chunks/ (hack/build.ts).
 */
function staticDir(): string {
  const candidates = ['./static/', '../portal/static/'].map((p) =>
    fileURLToPath(new URL(p, import.meta.url)),
  );
  return candidates.find((d) => existsSync(d)) ?? candidates[0]!;
}

/** The portal's script and stylesheet, read once: there is nothing else to serve. */
export function loadStaticFiles(dir = staticDir()): StaticFiles {
  const files = new Map<string, StaticFile>();
  for (const name of readdirSync(dir)) {
    const type = TYPES[extname(name)];
    if (!type) continue;
    const body = readFileSync(join(dir, name));
    const etag = `"${createHash('sha256').update(body).digest('base64url').slice(0, 16)}"`;
    files.set(name, { body, type, etag });
  }
  return files;
}
