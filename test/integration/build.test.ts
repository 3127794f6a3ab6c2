import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { REPO_ROOT } from '../../src/kube/manifests.ts';

const run = promisify(execFile);

// The container image runs the compiled JavaScript, not the TypeScript sources.
describe('production build', function () {
  this.timeout(120_000);
  let out: string;
  before(async () => {
    // Inside the repository, so the emitted modules resolve node_modules.
    mkdirSync(join(REPO_ROOT, '.timebox'), { recursive: true });
    out = mkdtempSync(join(REPO_ROOT, '.timebox', 'build-'));
    await run(
      join(REPO_ROOT, 'node_modules/.bin/tsc'),
      ['-p', 'tsconfig.build.json', '--outDir', out],
      { cwd: REPO_ROOT },
    );
  });
  after(() => rmSync(out, { recursive: true, force: true }));

  it('emits an operator and a CLI that run', async () => {
    const operator = await run(process.execPath, [join(out, 'main.js'), '--help']);
    assert.match(operator.stdout, /--metrics-bind-address/);
    const cli = await run(process.execPath, [join(out, 'cli', 'main.js'), '--help']);
    assert.match(cli.stdout, /timebox request --policy POLICY/);
  });
});
