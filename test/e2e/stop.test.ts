import assert from 'node:assert/strict';
import { spawn, type ChildProcessByStdio } from 'node:child_process';
import type { Readable } from 'node:stream';
import { once } from 'node:events';
import { readFileSync, readdirSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { commandLine, isRunning } from '../../src/sandbox/process.ts';
import { readPidRecord } from '../../src/sandbox/pid-record.ts';
import { CLUSTER_START_TIMEOUT_MS } from '../support/cluster.ts';
import { eventually } from '../support/wait.ts';

const MAIN = fileURLToPath(new URL('../../src/main.ts', import.meta.url));
/** What `npm start` promises: everything it started is gone this soon after a signal. */
const STOPPED_WITHIN_MS = 8_000;
const COMPONENTS = ['etcd', 'kube-apiserver', 'kube-controller-manager', 'mailpit'];

interface Started {
  main: ChildProcessByStdio<null, Readable, Readable>;
  /** Every process main started, by the name of its binary. */
  children: Map<string, number>;
  stderr: () => string;
}

/** The direct children of a process, from /proc. */
function childrenOf(pid: number): number[] {
  return readdirSync(`/proc/${pid}/task`).flatMap((task) =>
    readFileSync(`/proc/${pid}/task/${task}/children`, 'utf8')
      .split(' ')
      .filter(Boolean)
      .map(Number),
  );
}

/**
 * `npm start --sandbox` in a process group of its own, as a shell runs a
 * foreground job, so a signal to the group is what a terminal's Ctrl-C sends.
 */
async function start(work: string): Promise<Started> {
  const main = spawn(
    process.execPath,
    [
      MAIN,
      '--sandbox',
      '--metrics-bind-address=0',
      '--health-probe-bind-address=0',
      '--webhook-bind-address=127.0.0.1:0',
    ],
    { cwd: work, stdio: ['ignore', 'pipe', 'pipe'], detached: true },
  );
  let stderr = '';
  main.stdout.resume();
  main.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  await eventually(async () => /operator started/.test(stderr), {
    timeoutMs: 120_000,
    what: () => `npm start to start (stderr: ${stderr.slice(-3000)})`,
  });
  const children = new Map<string, number>();
  for (const pid of childrenOf(main.pid!)) {
    const binary = commandLine(pid)?.[0]?.split('/').pop();
    if (binary) children.set(binary, pid);
  }
  assert.deepEqual([...children.keys()].sort(), [...COMPONENTS].sort(), 'what npm start runs');
  // The pid records a later start reads after a SIGKILL name the same processes.
  const recorded = [
    ...readPidRecord(join(work, '.timebox', 'sandbox', 'pids.json')),
    ...readPidRecord(join(work, '.timebox', 'sandbox', 'mailpit-pid.json')),
  ];
  assert.deepEqual(
    recorded.map((r) => r.pid).sort(),
    [...children.values()].sort(),
    'the pid records',
  );
  return { main, children, stderr: () => stderr };
}

/** Signals the whole process group, waits for main to exit, and for every child to be gone. */
async function stopByGroup(s: Started, signal: NodeJS.Signals): Promise<number> {
  const began = performance.now();
  const exited = once(s.main, 'exit') as Promise<[number | null, string | null]>;
  process.kill(-s.main.pid!, signal);
  const [code] = await exited;
  assert.equal(code, 0, `exit code after ${signal} (stderr: ${s.stderr().slice(-3000)})`);
  await eventually(async () => [...s.children.values()].every((pid) => !isRunning(pid)), {
    timeoutMs: STOPPED_WITHIN_MS,
    what: () =>
      `every child to be gone: ${[...s.children].filter(([, pid]) => isRunning(pid)).join(', ')}`,
  });
  const tookMs = performance.now() - began;
  assert.ok(tookMs < STOPPED_WITHIN_MS, `stopped in ${tookMs.toFixed(0)} ms`);
  return tookMs;
}

describe('npm start stops everything it started', function () {
  this.timeout(CLUSTER_START_TIMEOUT_MS);
  let work: string;
  let running: Started | undefined;

  before(async () => {
    work = await mkdtemp(join(tmpdir(), 'timebox-stop-'));
  });
  afterEach(() => {
    // A failed case must not leave its processes to the next one.
    if (running && running.main.exitCode === null) process.kill(-running.main.pid!, 'SIGKILL');
    for (const pid of running?.children.values() ?? [])
      if (isRunning(pid)) process.kill(pid, 'SIGKILL');
    running = undefined;
  });
  after(async () => {
    await rm(work, { recursive: true, force: true });
  });

  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    it(`on ${signal} to its process group (${signal === 'SIGINT' ? 'Ctrl-C' : signal === 'SIGHUP' ? 'the terminal closing' : 'a process manager'})`, async () => {
      running = await start(work);
      await stopByGroup(running, signal);
      assert.match(running.stderr(), new RegExp(`"shutting down","signal":"${signal}"`));
    });
  }

  it('when etcd has died first, and the API server cannot stop gracefully', async () => {
    running = await start(work);
    const etcd = running.children.get('etcd')!;
    const gone = eventually(async () => !isRunning(etcd), { what: 'etcd to die' });
    process.kill(etcd, 'SIGKILL');
    await gone;
    await stopByGroup(running, 'SIGINT');
  });

  it('after a SIGKILL, which nothing can catch, the next start ends what was left', async () => {
    running = await start(work);
    const left = running.children;
    const exited = once(running.main, 'exit');
    // Only main: its children run in groups of their own, and outlive it.
    process.kill(running.main.pid!, 'SIGKILL');
    await exited;
    assert.ok([...left.values()].every(isRunning), 'the children outlive a SIGKILLed main');

    running = await start(work);
    assert.deepEqual(
      [...left].filter(([, pid]) => isRunning(pid)),
      [],
      'the earlier run’s processes',
    );
    for (const name of COMPONENTS)
      assert.match(
        running.stderr(),
        new RegExp(`stopping ${name} \\(pid ${left.get(name)}\\) left over`),
      );
    await stopByGroup(running, 'SIGINT');
  });
});
