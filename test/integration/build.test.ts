import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  symlinkSync,
} from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { REPO_ROOT } from '../../src/kube/manifests.ts';
import type { LoggedError } from '../../src/log/serialize.ts';
import type { ClusterEnvironment } from '../../src/sandbox/environment.ts';
import { CLUSTER_START_TIMEOUT_MS, testCluster } from '../support/cluster.ts';
import { imageNodeFlags } from '../support/image.ts';
import {
  canListPods,
  createNamespace,
  grant,
  grantsApi,
  installTimebox,
  kubeconfigAs,
  OperatorProcess,
  waitForPhase,
} from '../support/timebox.ts';

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
    // What `npm run build` and the image run: the bundle (hack/build.ts).
    await run(process.execPath, [join(REPO_ROOT, 'hack', 'build.ts'), out], { cwd: REPO_ROOT });
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

  it("finds the portal's files beside the bundle", () => {
    assert.ok(existsSync(join(out, 'portal', 'static', 'portal.js')));
    assert.ok(existsSync(join(out, 'portal', 'static', 'portal.css')));
  });

  describe('the bundled operator, against the real API server', () => {
    let cluster: ClusterEnvironment;
    let operator: OperatorProcess | undefined;
    before(async function () {
      this.timeout(CLUSTER_START_TIMEOUT_MS);
      cluster = await testCluster();
      await installTimebox(cluster, ['timebox-operator-build']);
    });
    after(async () => {
      await operator?.stop();
    });

    it("grants and revokes, as the sources do, with the image's Node.js flags", async () => {
      const work = mkdtempSync(join(root, 'kube-'));
      operator = OperatorProcess.start(
        'bundled',
        kubeconfigAs(cluster, 'timebox-operator-build', work),
        [],
        {},
        join(out, 'main.js'),
        imageNodeFlags(),
      );
      await operator.waitForLog(/starting controllers/);
      const ns = await createNamespace(cluster, 'payments');
      const api = grantsApi(cluster.admin());
      await api.create(grant(ns, 'bundled'));
      await waitForPhase(cluster, ns, 'bundled', 'Active', 20_000);
      assert.equal(await canListPods(cluster, 'alice@example.com', ns), true);
      await api.patch(ns, 'bundled', { spec: { revoked: true } });
      await waitForPhase(cluster, ns, 'bundled', 'Revoked', 20_000);
      assert.equal(await canListPods(cluster, 'alice@example.com', ns), false);
    });

    it("logs JSON lines, with the API server's refusal as its code and message", async () => {
      // Someone with no RBAC at all: every list the operator makes is refused.
      const work = mkdtempSync(join(root, 'kube-'));
      const kubeconfig = kubeconfigAs(cluster, 'nobody@example.com', work);
      const refused = OperatorProcess.start('refused', kubeconfig, [], {}, join(out, 'main.js'));
      try {
        await refused.waitForLog(/initial list failed; retrying/);
      } finally {
        await refused.stop();
      }
      const records = refused.logs
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l) as { level: string; ts: string; msg: string; err?: LoggedError });
      for (const r of records) {
        assert.ok(['debug', 'info', 'warn', 'error'].includes(r.level), JSON.stringify(r));
        assert.equal(new Date(r.ts).toISOString(), r.ts);
      }
      const err = records.find((r) => r.msg === 'initial list failed; retrying')?.err;
      assert.equal(err?.type, 'ApiException', JSON.stringify(err));
      assert.equal(err.code, 403);
      assert.equal(err.reason, 'Forbidden');
      assert.match(err.message, /is forbidden: User "nobody@example.com" cannot list/);
      assert.match(err.stack ?? '', /^ApiException: .*forbidden.*\n\s+at /);
      // Not the response it came in, nor the credential the request carried.
      assert.doesNotMatch(refused.logs, /HTTP-Code|audit-id|"details"/i);
      const token = /token: (\S+)/.exec(readFileSync(kubeconfig, 'utf8'))?.[1];
      assert.ok(token && !refused.logs.includes(token));
    });
  });
});
