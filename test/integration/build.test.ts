import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { REPO_ROOT } from '../../src/kube/manifests.ts';

const run = promisify(execFile);

// The container image runs the compiled JavaScript, not the TypeScript sources.
describe('production build', function () {
  this.timeout(120_000);
  let out: string;
  let root: string;
  before(async () => {
    // Inside the repository, so the emitted modules resolve node_modules; laid out
    // as the package is (bin/ next to dist/).
    mkdirSync(join(REPO_ROOT, '.timebox'), { recursive: true });
    root = mkdtempSync(join(REPO_ROOT, '.timebox', 'build-'));
    out = join(root, 'dist');
    await run(
      join(REPO_ROOT, 'node_modules/.bin/tsc'),
      ['-p', 'tsconfig.build.json', '--outDir', out],
      { cwd: REPO_ROOT },
    );
    mkdirSync(join(root, 'bin'));
    for (const bin of ['timebox.mjs', 'kubectl_complete-timebox.mjs']) {
      copyFileSync(join(REPO_ROOT, 'bin', bin), join(root, 'bin', bin));
    }
  });
  after(() => rmSync(root, { recursive: true, force: true }));

  it('emits an operator and a CLI that run', async () => {
    const operator = await run(process.execPath, [join(out, 'main.js'), '--help']);
    assert.match(operator.stdout, /--metrics-bind-address/);
    const cli = await run(process.execPath, [join(root, 'bin', 'timebox.mjs'), '--help']);
    assert.match(cli.stdout, /timebox request --policy POLICY/);
    // What npm installs as `kubectl-timebox` says so in its help.
    const plugin = join(root, 'bin', 'kubectl-timebox');
    symlinkSync('timebox.mjs', plugin);
    assert.match(
      (await run(process.execPath, [plugin, '--help'])).stdout,
      /kubectl timebox request/,
    );
    // What kubectl runs to complete `kubectl timebox ap<TAB>`, in cobra's format.
    const completion = await run(process.execPath, [
      join(root, 'bin', 'kubectl_complete-timebox.mjs'),
      'ap',
    ]);
    assert.equal(completion.stdout, 'approve\tapprove a request, exactly the version shown\n:4\n');
  });
});
