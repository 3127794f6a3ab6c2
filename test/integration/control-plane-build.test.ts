import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { REPO_ROOT } from '../../src/kube/manifests.ts';
import { ensureControlPlaneBinaries } from '../../src/sandbox/binaries.ts';
import { eventually } from '../support/wait.ts';

const SCRIPT = join(REPO_ROOT, 'hack', 'build-control-plane.sh');
const VERSION = 'v1.35.0-fake';
const BINARIES = ['etcd', 'kube-apiserver', 'kube-controller-manager', 'kubectl'];

/**
 * A `go` that builds nothing: `go build -o OUT` writes an empty executable, and
 * `go mod download -json` names a go.mod with one staging module. Enough to run
 * hack/build-control-plane.sh end to end without building Kubernetes.
 */
function fakeGo(dir: string): string {
  const bin = join(dir, 'fake-go');
  mkdirSync(bin, { recursive: true });
  const gomod = join(dir, 'kubernetes.go.mod');
  writeFileSync(gomod, 'module k8s.io/kubernetes\n\tk8s.io/api => ./staging/src/k8s.io/api\n');
  writeFileSync(
    join(bin, 'go'),
    `#!/usr/bin/env bash
set -eu
if [[ "$1" == mod ]]; then echo '{"GoMod": "${gomod}"}'; exit 0; fi
# A slow build, for as long as the test says (FAKE_GO_HOLD names a file to wait for).
if [[ -n "\${FAKE_GO_HOLD:-}" ]]; then while [[ ! -e "$FAKE_GO_HOLD" ]]; do sleep 0.05; done; fi
while [[ $# -gt 0 ]]; do
  if [[ "$1" == -o ]]; then printf '#!/bin/sh\\n' >"$2"; chmod +x "$2"; fi
  shift
done
`,
  );
  chmodSync(join(bin, 'go'), 0o755);
  return bin;
}

describe('hack/build-control-plane.sh', function () {
  this.timeout(60_000);
  let dir: string;
  let env: NodeJS.ProcessEnv;
  let binDir: string;

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'timebox-cp-build-'));
    env = {
      ...process.env,
      PATH: [fakeGo(dir), process.env.PATH].join(delimiter),
      TIMEBOX_CACHE_DIR: join(dir, 'cache'),
      TIMEBOX_K8S_VERSION: VERSION,
    };
    binDir = join(dir, 'cache', 'control-plane', `k8s-${VERSION}-etcd-v3.6.5`);
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('says which binary it builds, n of m, and how long each took, as it goes', async () => {
    const lines: string[] = [];
    const saved = { ...process.env };
    Object.assign(process.env, env);
    try {
      const b = await ensureControlPlaneBinaries((m) => lines.push(m));
      assert.equal(b.etcd, join(binDir, 'etcd'));
    } finally {
      for (const k of Object.keys(process.env)) if (!(k in saved)) delete process.env[k];
      Object.assign(process.env, saved);
    }
    const progress = lines.filter((l) => /^(building|built) /.test(l));
    assert.deepEqual(
      progress.map((l) => l.replace(/ in \d+s$/, ' in Ns').replace(/: .*$/, '')),
      BINARIES.flatMap((b, i) => [
        `building ${b} (${i + 1} of 4)`,
        `built ${b} (${i + 1} of 4) in Ns`,
      ]),
    );
    assert.match(lines.join('\n'), /control plane binaries ready in .* \(4 built in \d+s\)/);
  });

  it('says it is still building while a binary takes long', async () => {
    const hold = join(dir, 'release');
    const build = spawn('bash', [SCRIPT], {
      env: { ...env, FAKE_GO_HOLD: hold, TIMEBOX_BUILD_HEARTBEAT_SECONDS: '0.1' },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    build.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    await eventually(async () => /still building etcd \(1 of 4\), \d+s so far/.test(stderr), {
      what: () => `a heartbeat (stderr: ${stderr})`,
    });
    writeFileSync(hold, '');
    // Its stderr closes with it: the heartbeat holds no copy of it.
    const [code] = (await once(build, 'close')) as [number];
    assert.equal(code, 0, stderr);
  });

  it("says it waits for another build's lock, and whose, before waiting", async () => {
    // Another build holds the lock, and has built all but kubectl so far.
    mkdirSync(binDir, { recursive: true });
    for (const b of BINARIES.slice(0, 3)) writeFileSync(join(binDir, b), '', { mode: 0o755 });
    writeFileSync(join(binDir, '.lock.owner'), 'pid 4242, building since 09:00:00Z\n');
    const holder = spawn('flock', [join(binDir, '.lock'), 'sh', '-c', 'echo held; cat'], {
      stdio: ['pipe', 'pipe', 'inherit'],
    });
    await once(holder.stdout, 'data');

    const build = spawn('bash', [SCRIPT], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    build.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    build.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    await eventually(async () => /waiting for another build/.test(stderr), {
      what: () => `the waiting message (stderr: ${stderr})`,
    });
    assert.match(
      stderr,
      new RegExp(
        `waiting for another build of the control plane \\(pid 4242, building since 09:00:00Z, in ${binDir}\\) to finish`,
      ),
    );

    // The other build finishes kubectl and lets go: this one has nothing left to do.
    writeFileSync(join(binDir, 'kubectl'), '', { mode: 0o755 });
    holder.stdin.end();
    const [code] = (await once(build, 'exit')) as [number];
    assert.equal(code, 0, stderr);
    assert.equal(stdout.trim(), binDir);
    assert.match(stderr, /the other build finished after \d+s/);
    assert.doesNotMatch(stderr, /building \S+ \(\d of/, 'nothing was built twice');
  });
});
