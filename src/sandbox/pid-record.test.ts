import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { once } from 'node:events';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { killRecorded, readPidRecord, writePidRecord } from './pid-record.ts';
import { commandLine, isRunning, startProcess, startTime, startTimeFromStat } from './process.ts';

describe('killRecorded', () => {
  let dir: string;
  let file: string;
  const others: ChildProcess[] = [];

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'timebox-pid-record-'));
    file = join(dir, 'pids.json');
  });
  afterEach(async () => {
    for (const p of others.splice(0)) {
      if (p.exitCode === null && p.signalCode === null) {
        p.kill('SIGKILL');
        await once(p, 'exit');
      }
    }
    rmSync(dir, { recursive: true, force: true });
  });

  /** A process this test did not record: someone else's, with a pid a stale record may name. */
  function unrelated(args = ['30']): ChildProcess {
    const p = spawn('sleep', args, { stdio: 'ignore' });
    others.push(p);
    return p;
  }

  it('leaves alone a process an old record names by program only, and says what to do', async () => {
    const other = unrelated();
    writeFileSync(file, JSON.stringify([{ name: 'etcd', pid: other.pid, binary: 'sleep' }]));
    const logs: string[] = [];
    await killRecorded(file, (m) => logs.push(m));
    assert.ok(isRunning(other.pid!), 'the unrelated process still runs');
    assert.match(logs.join('\n'), new RegExp(`not stopping pid ${other.pid} .*kill ${other.pid}`));
  });

  it('leaves alone a process with the same command line that started at another time (a reused pid)', async () => {
    const other = unrelated();
    const cmdline = commandLine(other.pid!)!;
    const earlier = String(Number(startTime(other.pid!)) - 1);
    writeFileSync(
      file,
      JSON.stringify([
        { name: 'etcd', pid: other.pid, binary: 'sleep', startTime: earlier, cmdline },
      ]),
    );
    await killRecorded(file, () => {});
    assert.ok(isRunning(other.pid!));
  });

  it("leaves alone a process with the same start time but another command line (another checkout's)", async () => {
    const other = unrelated(['31']);
    writeFileSync(
      file,
      JSON.stringify([
        {
          name: 'etcd',
          pid: other.pid,
          binary: 'sleep',
          startTime: startTime(other.pid!),
          cmdline: ['sleep', '30'],
        },
      ]),
    );
    await killRecorded(file, () => {});
    assert.ok(isRunning(other.pid!));
  });

  it('ends the recorded process whose start time and command line still match', async () => {
    const proc = startProcess('etcd', 'sleep', ['30'], join(dir, 'sleep.log'));
    writePidRecord(file, [proc]);
    const [record] = readPidRecord(file);
    assert.deepEqual(record?.cmdline, ['sleep', '30']);
    assert.match(record?.startTime ?? '', /^\d+$/);
    const logs: string[] = [];
    await killRecorded(file, (m) => logs.push(m));
    assert.equal(await proc.exited, 'SIGKILL');
    assert.match(logs.join('\n'), new RegExp(`stopping etcd \\(pid ${proc.pid}\\) left over`));
    assert.equal(readFileSync(file, 'utf8'), '[]', 'the record is emptied');
  });
});

describe('startTimeFromStat', () => {
  it('reads field 22 even when the program name holds spaces and parentheses', () => {
    const rest = 'S 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 987654 20 21';
    assert.equal(startTimeFromStat(`42 (etcd) ${rest}`), '987654');
    assert.equal(startTimeFromStat(`42 (a) 1 2 3 (b) ${rest}`), '987654');
  });

  it('reads the start time of a running process, the same each time', () => {
    const mine = startTime(process.pid);
    assert.match(mine ?? '', /^\d+$/);
    assert.equal(startTime(process.pid), mine);
  });
});
