import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { parse } from 'yaml';
import { argocdConfigMapFile, toLua } from '../../src/integrations/argocd.ts';
import { REPO_ROOT } from '../../src/kube/manifests.ts';

const run = promisify(execFile);
const dir = join(REPO_ROOT, 'config', 'argocd');

interface HealthTest {
  healthStatus: { status: string; message: string };
  inputPath: string;
}

/**
 * Runs health.lua the way Argo CD does (a Lua 5.1 chunk with a global `obj`,
 * returning a table), under Debian's lua5.1 (hack/setup.sh installs it).
 */
describe('Argo CD health check (Lua 5.1)', () => {
  const { tests } = parse(readFileSync(join(dir, 'health_test.yaml'), 'utf8')) as {
    tests: HealthTest[];
  };
  const script = readFileSync(join(dir, 'health.lua'), 'utf8');
  let work: string;
  before(() => (work = mkdtempSync(join(tmpdir(), 'timebox-lua-'))));
  after(() => rmSync(work, { recursive: true, force: true }));

  for (const t of tests) {
    it(`${t.inputPath} is ${t.healthStatus.status}`, async () => {
      const obj = parse(readFileSync(join(dir, t.inputPath), 'utf8')) as unknown;
      const harness = join(work, 'run.lua');
      writeFileSync(
        harness,
        `obj = ${toLua(obj)}\nlocal hs = (function()\n${script}\nend)()\nio.write(hs.status, "\\n", hs.message or "")\n`,
      );
      const { stdout } = await run('lua5.1', [harness]);
      const [status, ...message] = stdout.split('\n');
      assert.deepEqual({ status, message: message.join('\n') }, t.healthStatus);
    });
  }

  it('argocd-cm-patch.yaml carries this script (npm run generate)', () => {
    const f = argocdConfigMapFile();
    assert.equal(readFileSync(join(REPO_ROOT, f.path), 'utf8'), f.content);
  });
});
