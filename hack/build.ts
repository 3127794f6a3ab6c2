// The production build: the operator, the CLI and the portal as a few bundled,
// tree-shaken ES modules (esbuild), which load in a fraction of the time and
// memory of the thousand files tsc would emit (measured by `npm run bench -- scale`).
// Type checking is `npm run typecheck`'s job; this only builds.
import { cpSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { build } from 'esbuild';

const out = process.argv[2] ?? 'dist';

/**
 * Left to node_modules: SDKs loaded only when a feature needs them (each cloud
 * provider, email), and what only the sandbox or the tests use. Their own files
 * (protocol definitions, native addons) stay where they expect to be.
 */
const EXTERNAL = [
  '@aws-sdk/*',
  '@azure/*',
  '@google-cloud/*',
  'google-auth-library',
  'google-gax',
  'nodemailer',
  'oidc-provider',
  '@testcontainers/*',
];

rmSync(out, { recursive: true, force: true });
await build({
  entryPoints: {
    main: 'src/main.ts',
    'cli/main': 'src/cli/main.ts',
    // Its static files are found beside it (src/portal/static.ts).
    'portal/main': 'src/portal/main.ts',
  },
  outdir: out,
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node24',
  chunkNames: 'chunks/[name]-[hash]',
  external: EXTERNAL,
  // CommonJS dependencies call require(); an ES module has none of its own.
  banner: {
    js: "import { createRequire as __timeboxRequire } from 'node:module';\nconst require = __timeboxRequire(import.meta.url);",
  },
  legalComments: 'linked',
  // Smaller sources are less memory held by V8 (about 12 MiB here); names are
  // kept, so stack traces still say which function failed.
  minifyWhitespace: true,
  minifySyntax: true,
  logLevel: 'warning',
});
// Parsed by any Node.js, so built alone (no shared chunk, no banner): the CLI's
// launcher checks the version with it before loading anything else.
await build({
  entryPoints: { 'cli/node-version': 'src/cli/node-version.ts' },
  outdir: out,
  format: 'esm',
  platform: 'node',
  target: 'node14',
  logLevel: 'warning',
});
cpSync(join('src', 'portal', 'static'), join(out, 'portal', 'static'), { recursive: true });
