import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import type { AccessGrant } from '../../src/api/v1alpha1/types.ts';
import type { ClusterEnvironment } from '../../src/sandbox/environment.ts';
import { CLUSTER_START_TIMEOUT_MS, testCluster } from '../support/cluster.ts';
import { eventually } from '../support/wait.ts';
import {
  canListPods,
  createAccessPolicy,
  createNamespace,
  grantsApi,
  installTimebox,
  kubeconfigAs,
  OperatorProcess,
  waitForPhase,
} from '../support/timebox.ts';

const CLI = fileURLToPath(new URL('../../src/cli/main.ts', import.meta.url));
const ALICE = 'alice@example.com';
const BOB = 'bob@example.com';

describe('timebox CLI, end to end', function () {
  this.timeout(120_000);
  let cluster: ClusterEnvironment;
  let operator: OperatorProcess;
  let work: string;
  let ns: string;
  const kubeconfigs: Record<string, string> = {};

  /** Runs the CLI as `user`, as a separate process, the way people run it. */
  async function timebox(
    user: string,
    ...args: string[]
  ): Promise<{ code: number; stdout: string; stderr: string }> {
    try {
      const { stdout, stderr } = await new Promise<{ stdout: string; stderr: string }>(
        (resolve, reject) =>
          execFile(
            process.execPath,
            [CLI, '--kubeconfig', kubeconfigs[user]!, '-n', ns, ...args],
            (err, stdout, stderr) =>
              err ? reject(Object.assign(err, { stdout, stderr })) : resolve({ stdout, stderr }),
          ),
      );
      return { code: 0, stdout, stderr };
    } catch (err) {
      const e = err as { code: number; stdout: string; stderr: string };
      return { code: e.code, stdout: e.stdout, stderr: e.stderr };
    }
  }

  /** Alice asks for view in the test namespace for an hour, under the test's policy. */
  const requestView = (name: string, reason: string) =>
    timebox(
      ALICE,
      'request',
      '--policy',
      `cli-${ns}`,
      '--cluster-role',
      'view',
      '--duration',
      '1h',
      '--reason',
      reason,
      '--name',
      name,
    );

  before(async function () {
    this.timeout(CLUSTER_START_TIMEOUT_MS);
    cluster = await testCluster();
    await installTimebox(cluster, ['timebox-operator-cli']);
    work = mkdtempSync(join(tmpdir(), 'timebox-cli-'));
    for (const user of [ALICE, BOB]) kubeconfigs[user] = kubeconfigAs(cluster, user, work);
    operator = OperatorProcess.start(
      'operator',
      kubeconfigAs(cluster, 'timebox-operator-cli', work),
    );
    await operator.waitForLog(/starting controllers/);
    ns = await createNamespace(cluster, 'payments');
    await createAccessPolicy(cluster.admin(), `cli-${ns}`, {
      requesters: { users: [ALICE] },
      selfOnly: true,
      namespaces: [ns],
      access: [{ kubernetes: { clusterRoles: ['view', 'edit'], namespaces: [ns] } }],
      maxDuration: '4h',
      requireReason: true,
      allowPersistentEscalation: true,
      approval: { mode: 'Manual', approvers: { users: [BOB] } },
    });
  });
  after(async () => {
    await operator?.stop();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it('requests, lists, approves, describes and revokes', async () => {
    const req = await timebox(
      ALICE,
      'request',
      '--policy',
      `cli-${ns}`,
      '--cluster-role',
      'edit',
      '--duration',
      '1h',
      '--reason',
      'INC-4211',
      '--name',
      'alice-edit',
    );
    assert.equal(req.code, 0, req.stderr);
    assert.match(req.stdout, new RegExp(`accessgrant ${ns}/alice-edit requested`));
    await eventually(async () => (await timebox(ALICE, 'ls')).stdout.includes('Pending'));

    const mine = await timebox(ALICE, 'ls');
    assert.match(
      mine.stdout,
      /^NAMESPACE\s+NAME\s+SUBJECT\s+PHASE\s+EXPIRES\s+POLICY\s+REQUESTED-BY$/m,
    );
    assert.match(mine.stdout, new RegExp(`alice-edit\\s+${ALICE}\\s+Pending`));
    assert.match(
      (await timebox(ALICE, 'ls', '--pending')).stdout,
      /nothing waits for your approval/,
    );
    const pending = JSON.parse((await timebox(BOB, 'ls', '--pending', '-o', 'json')).stdout) as {
      items: AccessGrant[];
    };
    assert.deepEqual(
      pending.items.map((g) => g.metadata.name),
      ['alice-edit'],
    );
    // What the approver decides on, at a glance: who, what, how long, why.
    const waiting = (await timebox(BOB, 'ls', '--pending')).stdout;
    assert.match(
      waiting,
      /^NAMESPACE\s+NAME\s+REQUESTED-BY\s+SUBJECT\s+ACCESS\s+DURATION\s+REASON$/m,
    );
    assert.match(
      waiting,
      new RegExp(
        `alice-edit\\s+${ALICE}\\s+${ALICE}\\s+kubernetes: ClusterRole edit in namespaces ${ns}\\s+\\S+\\s+\\S`,
      ),
    );
    assert.match(
      (await timebox(BOB, 'ls', '-n', 'default')).stdout,
      /no access grants of yours in namespace default \(-n NS for another, -A for all\)/,
    );

    const approved = await timebox(BOB, 'approve', 'alice-edit', '--comment', 'confirmed');
    assert.equal(approved.code, 0, approved.stderr);
    assert.match(approved.stdout, new RegExp(`approved accessgrant ${ns}/alice-edit as ${BOB}`));
    await waitForPhase(cluster, ns, 'alice-edit', 'Active');
    assert.equal(await canListPods(cluster, ALICE, ns), true);

    const described = await timebox(ALICE, 'describe', 'alice-edit');
    assert.match(described.stdout, /^Phase:\s+Active \(Granted: access granted until/m);
    assert.match(described.stdout, new RegExp(`Approve by ${BOB} at .*: confirmed`));
    assert.match(
      described.stdout,
      new RegExp(`kubernetes RoleBinding ${ns}/timebox-alice-edit-\\w+: Active`),
    );
    const asYaml = parse((await timebox(ALICE, 'ls', '-o', 'yaml')).stdout) as {
      items: AccessGrant[];
    };
    assert.equal(asYaml.items[0]?.status?.phase, 'Active');

    assert.match(
      described.stdout,
      new RegExp(`^  - kubernetes: ClusterRole edit in namespaces ${ns}$`, 'm'),
      'access in words, not JSON',
    );

    const revoked = await timebox(ALICE, 'revoke', 'alice-edit');
    assert.equal(revoked.code, 0, revoked.stderr);
    await waitForPhase(cluster, ns, 'alice-edit', 'Revoked');
    assert.equal(await canListPods(cluster, ALICE, ns), false);
    const ended = (await timebox(ALICE, 'describe', 'alice-edit')).stdout;
    assert.match(ended, /^Ended:\s+\S+ \(it was to expire at /m);
    assert.doesNotMatch(ended, /^Expires:/m, 'no countdown to an expiry that will not come');
  });

  it('approves exactly the version shown, and lets an approver revoke with a reason', async () => {
    assert.equal((await requestView('reviewed', 'INC-4212')).code, 0);
    await eventually(async () =>
      (await timebox(BOB, 'describe', 'reviewed')).stdout.includes('Pending'),
    );
    const described = await timebox(BOB, 'describe', 'reviewed');
    const hash = /^Spec hash:\s+([0-9a-f]{64})$/m.exec(described.stdout)?.[1];
    assert.ok(hash, described.stdout);
    assert.match(described.stdout, new RegExp(`approve reviewed -n ${ns} --spec-hash ${hash}`));

    // The grant Bob reviewed is deleted and re-created under the same name, asking
    // for more: his --spec-hash no longer matches, and nothing is approved.
    await grantsApi(cluster.admin()).delete(ns, 'reviewed');
    await eventually(async () => (await timebox(BOB, 'describe', 'reviewed')).code === 1);
    const wider = await timebox(
      ALICE,
      'request',
      '--policy',
      `cli-${ns}`,
      '--cluster-role',
      'edit',
      '--duration',
      '4h',
      '--reason',
      'INC-4212',
      '--name',
      'reviewed',
    );
    assert.equal(wider.code, 0, wider.stderr);
    await eventually(async () =>
      (await timebox(BOB, 'describe', 'reviewed')).stdout.includes('Pending'),
    );
    const stale = await timebox(BOB, 'approve', 'reviewed', '--spec-hash', hash);
    assert.equal(stale.code, 1);
    assert.match(
      stale.stderr,
      new RegExp(`is not the version you reviewed: you reviewed spec hash ${hash}`),
    );
    assert.match(
      stale.stderr,
      /Nothing was approved; review it again with: timebox describe reviewed/,
    );

    // Approving shows what is approved, in words.
    const shown = await timebox(BOB, 'approve', 'reviewed', '--comment', 'ok');
    assert.equal(shown.code, 0, shown.stderr);
    assert.match(shown.stderr, /You approve:\n.*\n\s+requested by: alice@example.com/);
    assert.match(shown.stderr, new RegExp(`kubernetes: ClusterRole edit in namespaces ${ns}`));
    assert.match(shown.stderr, /duration:\s+4h, from approval/);
    await waitForPhase(cluster, ns, 'reviewed', 'Active');

    // Bob is not the requester: revoke needs his reason, and records it.
    const noReason = await timebox(BOB, 'revoke', 'reviewed');
    assert.equal(noReason.code, 2);
    assert.match(noReason.stderr, /revoke it as an approver of its policy: add --comment/);
    const ended = await timebox(BOB, 'revoke', 'reviewed', '--comment', 'incident closed');
    assert.equal(ended.code, 0, ended.stderr);
    const revoked = await waitForPhase(cluster, ns, 'reviewed', 'Revoked');
    assert.equal(
      revoked.status?.conditions?.[0]?.message,
      `access revoked by ${BOB}, an approver of AccessPolicy 'cli-${ns}': incident closed`,
    );
  });

  it('exits 3 with the reason when a request it waits for is denied', async () => {
    const waiting = timebox(
      ALICE,
      'request',
      '--name',
      'waits-for-bob',
      '--policy',
      `cli-${ns}`,
      '--cluster-role',
      'view',
      '--duration',
      '1h',
      '--reason',
      'INC-2',
      '--wait',
      '--timeout',
      '60s',
    );
    await waitForPhase(cluster, ns, 'waits-for-bob', 'Pending');
    const denied = await timebox(
      BOB,
      'deny',
      'waits-for-bob',
      '--comment',
      'not during the freeze',
    );
    assert.equal(denied.code, 0, denied.stderr);
    const res = await waiting;
    assert.equal(res.code, 3, res.stderr);
    assert.match(res.stderr, /is Denied: denied by bob@example\.com: not during the freeze/);
    // While it waited, it said what for.
    assert.match(res.stderr, /waiting: accessgrant \S+\/waits-for-bob is Pending: .*approv/);
  });

  it('says what to do on mistakes, with distinct exit codes', async () => {
    const missing = await timebox(ALICE, 'describe', 'nope');
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /"nope" not found; list yours with: timebox ls/);
    const usage = await timebox(ALICE, 'request', '--cluster-role', 'edit', '--duration', '1h');
    assert.equal(usage.code, 2);
    assert.match(usage.stderr, /--policy is required/);
    const deny = await timebox(BOB, 'deny', 'whatever');
    assert.equal(deny.code, 2);
    assert.match(deny.stderr, /deny needs --comment/);
    const badDuration = await timebox(
      ALICE,
      'request',
      '--policy',
      'p',
      '--cluster-role',
      'edit',
      '--duration',
      '2 days',
    );
    assert.equal(badDuration.code, 2);
    assert.match(badDuration.stderr, /e\.g\. 90m, 2h or 1h30m/);
    const badMode = await timebox(
      ALICE,
      'request',
      '--policy',
      'p',
      '--aws-principal',
      'arn:aws:iam::111122223333:user/alice',
      '--aws-mode',
      'GroupMembership',
      '--duration',
      '1h',
    );
    assert.equal(badMode.code, 2);
    assert.match(badMode.stderr, /needs --aws-principal \(a user ARN\) and --aws-group/);
    const typo = await timebox(ALICE, 'request', '--policy', 'p', '--reasn', 'INC-1');
    assert.equal(typo.code, 2);
    assert.match(typo.stderr, /unknown option --reasn; did you mean --reason\?/);
    const misplaced = await timebox(
      BOB,
      'approve',
      'x',
      '--aws-policy',
      'arn:aws:iam::aws:policy/x',
    );
    assert.equal(misplaced.code, 2);
    assert.match(
      misplaced.stderr,
      /--aws-policy is not an option of approve; it takes --comment, --spec-hash/,
    );
  });

  it("refuses, before anything is made, a request its policy would deny, in the policy's words", async () => {
    const policy = `cli-${ns}`;
    const ask = (...args: string[]) =>
      timebox(ALICE, 'request', '--duration', '1h', '--reason', 'INC-1', ...args);
    const before = (await grantsApi(cluster.admin()).list(ns)).length;
    const unknown = await ask('--policy', 'no-such-policy', '--cluster-role', 'view');
    assert.equal(unknown.code, 3);
    assert.match(unknown.stderr, /there is no AccessPolicy 'no-such-policy'/);
    const typo = await ask('--policy', policy, '--cluster-role', 'veiw');
    assert.equal(typo.code, 3);
    assert.match(typo.stderr, /not requested: .*veiw/);
    const noReason = await timebox(
      ALICE,
      'request',
      '--policy',
      policy,
      '--cluster-role',
      'view',
      '--duration',
      '1h',
    );
    assert.equal(noReason.code, 3);
    assert.match(noReason.stderr, /reason/);
    const elsewhere = await ask(
      '--policy',
      policy,
      '--cluster-role',
      'view',
      '--target-namespace',
      'kube-system',
    );
    assert.equal(elsewhere.code, 3);
    assert.match(elsewhere.stderr, /kube-system/);
    assert.equal((await grantsApi(cluster.admin()).list(ns)).length, before, 'nothing was made');
  });

  it('completes the names of your grants when kubectl completes `kubectl timebox`', async () => {
    const made = await requestView('alice-completes', 'INC-7 completion');
    assert.equal(made.code, 0, made.stderr);
    // The plugin and its completion command on PATH, as npm installs them.
    const bin = join(work, 'bin');
    mkdirSync(bin, { recursive: true });
    for (const [name, args] of [
      ['kubectl-timebox', '"$@"'],
      ['kubectl_complete-timebox', '__complete "$@"'],
    ]) {
      writeFileSync(join(bin, name!), `#!/bin/sh\nexec "${process.execPath}" "${CLI}" ${args}\n`, {
        mode: 0o755,
      });
    }
    const kubectl = cluster.sandbox?.binaries.kubectl ?? 'kubectl';
    const complete = (...words: string[]) =>
      new Promise<string>((resolve, reject) =>
        execFile(
          kubectl,
          ['__complete', 'timebox', ...words],
          {
            env: {
              ...process.env,
              PATH: `${bin}:${process.env.PATH}`,
              KUBECONFIG: kubeconfigs[ALICE]!,
            },
          },
          (err, stdout, stderr) => (err ? reject(new Error(stderr)) : resolve(stdout)),
        ),
      );
    const names = await complete('describe', '-n', ns, 'alice-c');
    assert.match(names, /^alice-completes\tPending · alice@example\.com · INC-7 completion$/m);
    assert.match(names, /^:4$/m);
    assert.match(await complete('appr'), /^approve\t/m);
  });
});
