import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { CoreV1Api, KubeConfig } from '@kubernetes/client-node';
import { isRunning } from '../../src/sandbox/process.ts';
import { freePort } from '../../src/sandbox/ports.ts';
import { personKubeconfigPath } from '../../src/sandbox/sandbox.ts';
import { grantsApi } from '../support/timebox.ts';
import { CLUSTER_START_TIMEOUT_MS } from '../support/cluster.ts';
import { eventually } from '../support/wait.ts';
import { launchBrowser, signInWithBrowser } from '../support/browser.ts';

const MAIN = fileURLToPath(new URL('../../src/main.ts', import.meta.url));

describe('npm start without a cluster', function () {
  this.timeout(CLUSTER_START_TIMEOUT_MS);
  let work: string;

  before(async () => {
    work = await mkdtemp(join(tmpdir(), 'timebox-start-'));
  });
  after(async () => {
    await rm(work, { recursive: true, force: true });
  });

  it('starts a sandbox, prints its kubeconfig, and Ctrl-C stops everything', async () => {
    // --sandbox: this machine may have a kubeconfig of its own, which must not be used.
    const [metricsPort, healthPort] = [await freePort(), await freePort()];
    const child = spawn(
      process.execPath,
      [
        MAIN,
        '--sandbox',
        `--metrics-bind-address=127.0.0.1:${metricsPort}`,
        `--health-probe-bind-address=127.0.0.1:${healthPort}`,
      ],
      {
        cwd: work,
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    try {
      await eventually(async () => /operator started/.test(stderr), {
        timeoutMs: 120_000,
        what: () => `the operator to connect (stdout: ${stdout}, stderr: ${stderr})`,
      });
      assert.match(stdout, /Sandbox kubeconfig: \.timebox\/sandbox\/kubeconfig/);
      const kubeconfig = join(work, '.timebox', 'sandbox', 'kubeconfig');
      const kc = new KubeConfig();
      kc.loadFromFile(kubeconfig);
      await kc.makeApiClient(CoreV1Api).readNamespace({ name: 'default' });

      const pids = (
        JSON.parse(readFileSync(join(work, '.timebox', 'sandbox', 'pids.json'), 'utf8')) as {
          pid: number;
        }[]
      ).map((p) => p.pid);
      assert.equal(pids.length, 3);

      assert.equal((await fetch(`http://127.0.0.1:${healthPort}/readyz`)).status, 200);
      assert.match(
        await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text(),
        /^timebox_leader_is_leader 1$/m,
      );

      // A newcomer's first request reaches the demo approvers' mailbox (Mailpit).
      const mailUrl = /The mail the payments leads get.*: (http:\/\/\S+)/.exec(stdout)?.[1];
      assert.ok(mailUrl, `the Mailpit URL is printed: ${stdout}`);
      const alice = new KubeConfig();
      alice.loadFromFile(
        personKubeconfigPath(join(work, '.timebox', 'sandbox'), 'alice@example.com'),
      );
      await grantsApi(alice).create({
        metadata: { name: 'first-request', namespace: 'payments' },
        spec: {
          subject: { kind: 'User', name: 'alice@example.com' },
          policy: 'payments-oncall',
          duration: '1h',
          reason: 'INC-1 demo',
          access: [{ kubernetes: { clusterRole: 'view', namespaces: ['payments'] } }],
        },
      });
      const mail = await eventually(
        async () => {
          const { messages } = (await (await fetch(`${mailUrl}/api/v1/messages`)).json()) as {
            messages: { Subject: string; To: { Address: string }[] }[];
          };
          return messages.find((m) => /Requested/.test(m.Subject));
        },
        {
          timeoutMs: 30_000,
          what: () => `the request to be mailed (stderr: ${stderr.slice(-2000)})`,
        },
      );
      assert.match(mail.Subject, /alice@example\.com asks for ClusterRole view/);
      assert.deepEqual(
        mail.To.map((t) => t.Address),
        ['payments-leads@example.com'],
      );

      // The portal: a newcomer requests as alice and approves as bob, in two
      // browsers, with only what npm start printed.
      const portalUrl = /The self-service portal: (http:\/\/\S+)/.exec(stdout)?.[1];
      assert.ok(portalUrl, `the portal URL is printed: ${stdout}`);
      const password = (user: string) =>
        new RegExp(`${user.replace('.', '\\.')} \\(password (\\S+)\\)`).exec(stdout)?.[1];
      const [alicePassword, bobPassword] = [
        password('alice@example.com'),
        password('bob@example.com'),
      ];
      assert.ok(alicePassword && bobPassword, `the demo passwords are printed: ${stdout}`);
      const browser = await launchBrowser();
      try {
        const asAlice = await (await browser.newContext()).newPage();
        await signInWithBrowser(asAlice, portalUrl, {
          user: 'alice@example.com',
          password: alicePassword,
        });
        await asAlice.goto(`${portalUrl}/request?policy=payments-oncall`);
        await asAlice.getByLabel('ClusterRole').selectOption('view');
        await asAlice.getByLabel(/^Duration/).fill('30m');
        await asAlice.getByLabel(/^Reason/).fill('INC-2 from the portal');
        await asAlice.getByRole('button', { name: 'Request' }).click();
        await asAlice.waitForURL(/done=requested/);
        const name = decodeURIComponent(new URL(asAlice.url()).pathname.split('/').pop()!);
        await asAlice.goto(`${portalUrl}/access`);
        const asBob = await (await browser.newContext()).newPage();
        await signInWithBrowser(
          asBob,
          portalUrl,
          { user: 'bob@example.com', password: bobPassword },
          '/approvals',
        );
        const card = asBob.locator('article', { hasText: name });
        await card.getByText('INC-2 from the portal').waitFor();
        await card.getByRole('button', { name: 'Approve' }).click();
        await asBob.waitForURL(/done=approved/);
        await asAlice
          .locator('tr', { hasText: name })
          .locator('[data-phase="Active"]')
          .waitFor({ timeout: 30_000 });
      } finally {
        await browser.close();
      }

      child.kill('SIGINT');
      const [code] = (await once(child, 'exit')) as [number | null];
      assert.equal(code, 0, `exit code (stderr: ${stderr})`);
      assert.deepEqual(pids.filter(isRunning), [], 'no control plane process survives Ctrl-C');
      await assert.rejects(fetch(mailUrl), 'Mailpit stopped too');
      await assert.rejects(fetch(portalUrl), 'the portal stopped too');
      // The data is kept so the next start finds it.
      assert.ok(existsSync(join(work, '.timebox', 'sandbox', 'etcd')));
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
    }
  });
});
