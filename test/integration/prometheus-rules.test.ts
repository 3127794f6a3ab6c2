import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { REPO_ROOT } from '../../src/kube/manifests.ts';

const run = promisify(execFile);
const dir = join(REPO_ROOT, 'config', 'prometheus');

// promtool comes from Debian's prometheus package (hack/setup.sh installs it).
describe('Prometheus alerting rules (promtool)', () => {
  it('are valid rules', async () => {
    const { stdout } = await run('promtool', ['check', 'rules', join(dir, 'rules.yaml')]);
    assert.match(stdout, /SUCCESS: 12 rules found/);
  });

  it('fire, and stay quiet, as the unit tests in config/prometheus/tests expect', async () => {
    const { stdout } = await run('promtool', ['test', 'rules', 'rules_test.yaml'], {
      cwd: join(dir, 'tests'),
    });
    assert.match(stdout, /SUCCESS/);
  });
});
