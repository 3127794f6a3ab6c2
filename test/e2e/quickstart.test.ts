import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync, symlinkSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { delimiter, dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { REPO_ROOT } from '../../src/kube/manifests.ts';
import { ensureControlPlaneBinaries } from '../../src/sandbox/binaries.ts';
import { CLUSTER_START_TIMEOUT_MS } from '../support/cluster.ts';
import { eventually } from '../support/wait.ts';

const run = promisify(execFile);

/**
 * The shell blocks of the README's quick start meant for `npm start`'s sandbox:
 * every ```sh block from "## Quick start" up to the one for a real cluster.
 * Read from README.md, so that this test breaks when the README changes.
 */
function sandboxQuickStart(readme: string): string[] {
  const section = readme.slice(readme.indexOf('## Quick start'));
  const end = section.indexOf('Against a real cluster');
  assert.ok(end > 0, 'the README says where the real-cluster part starts');
  return [...section.slice(0, end).matchAll(/```sh\n([\s\S]*?)```/g)].map((m) => m[1]!);
}

/**
 * A newcomer's first ten minutes: `npm start` without a cluster, then the README's
 * quick start pasted into another terminal, as written, from the repository's root.
 */
describe("the README's quick start, as copied", function () {
  this.timeout(CLUSTER_START_TIMEOUT_MS);
  let work: string;

  before(async () => {
    // A checkout of its own, so the sandbox's .timebox/ is this test's alone.
    work = await mkdtemp(join(tmpdir(), 'timebox-quickstart-'));
    for (const entry of ['package.json', 'node_modules', 'src', 'config', 'crds', 'hack'])
      symlinkSync(join(REPO_ROOT, entry), join(work, entry));
  });
  after(async () => {
    await rm(work, { recursive: true, force: true });
  });

  it('works against npm start, as the admin and as the demo people', async () => {
    const blocks = sandboxQuickStart(readFileSync(join(REPO_ROOT, 'README.md'), 'utf8'));
    assert.ok(blocks.length >= 2, `the quick start's commands: ${blocks.join('\n---\n')}`);
    const script = blocks.join('\n');
    assert.match(script, /export KUBECONFIG=/);

    const main = spawn(
      process.execPath,
      [
        'src/main.ts',
        '--sandbox',
        '--metrics-bind-address=0',
        '--health-probe-bind-address=0',
        // Another sandbox on this machine may hold the default port.
        '--webhook-bind-address=127.0.0.1:0',
      ],
      {
        cwd: work,
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let stdout = '';
    let stderr = '';
    main.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    main.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    try {
      await eventually(async () => /operator started/.test(stderr), {
        timeoutMs: 120_000,
        what: () => `npm start (stderr: ${stderr.slice(-3000)})`,
      });
      // "any kubectl works": the one the control plane build leaves, and this
      // Node.js (24) first, as `npm ci` makes it the project's.
      const { kubectl } = await ensureControlPlaneBinaries();
      const env: NodeJS.ProcessEnv = {
        ...process.env,
        PATH: [dirname(kubectl), dirname(process.execPath), process.env.PATH].join(delimiter),
      };
      delete env.KUBECONFIG;
      const quickStart = await run('bash', ['-euo', 'pipefail', '-xc', script], {
        cwd: work,
        env,
      }).catch((err: Error & { stdout?: string; stderr?: string }) => {
        throw new Error(
          `the quick start failed: ${err.message}\n${err.stdout}\n${err.stderr}\noperator: ${stderr.slice(-3000)}`,
        );
      });
      assert.match(quickStart.stdout, /^yes$/m, 'alice may create deployments in payments');
      assert.match(quickStart.stdout, /alice-payments-debug\s.*Active/);

      // And what npm start printed under "Try it", as alice and as bob.
      const tryIt = stdout
        .split('\n')
        .filter((l) => /^\s+KUBECONFIG=\S+ npm run timebox -- /.test(l) && !l.includes(' NAME '))
        .map((l) => l.trim());
      assert.equal(tryIt.length, 2, `the printed commands: ${stdout}`);
      for (const line of tryIt) {
        const r = await run('bash', ['-euo', 'pipefail', '-c', line], { cwd: work, env }).catch(
          (err: Error & { stdout?: string; stderr?: string }) => {
            throw new Error(`${line} failed: ${err.message}\n${err.stdout}\n${err.stderr}`);
          },
        );
        if (/ ls --pending/.test(line)) assert.match(r.stdout, /alice@example\.com/);
      }
    } finally {
      main.kill('SIGINT');
      if (main.exitCode === null) await once(main, 'exit');
    }
  });
});
