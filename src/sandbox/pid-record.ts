import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { basename } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { commandLine, isRunning, startTime, type ManagedProcess } from './process.ts';

/** What a pid record keeps of each child, enough to recognise it after the host is gone. */
export interface PidRecord {
  name: string;
  pid: number;
  binary: string;
  /** Clock ticks since boot when it started (/proc/<pid>/stat field 22); absent in records of older versions. */
  startTime?: string;
  /** Its full command line (/proc/<pid>/cmdline); absent in records of older versions. */
  cmdline?: string[];
}

/** Writes which children run now, so a later start can end them if this host is SIGKILLed. */
export function writePidRecord(file: string, procs: ManagedProcess[]): void {
  const records: PidRecord[] = [];
  for (const p of procs) {
    // spawn() returns once the child has exec'd, so this is the program's own command line.
    const cmdline = commandLine(p.pid);
    const started = startTime(p.pid);
    // A child already gone leaves nothing to end later.
    if (!cmdline || started === undefined) continue;
    records.push({
      name: p.name,
      pid: p.pid,
      binary: basename(p.child.spawnfile),
      startTime: started,
      cmdline,
    });
  }
  writeFileSync(file, JSON.stringify(records));
}

export function readPidRecord(file: string): PidRecord[] {
  if (!existsSync(file)) return [];
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as PidRecord[];
  } catch {
    return [];
  }
}

function sameCommandLine(a: string[], b: string[]): boolean {
  return a.length === b.length && a.every((arg, i) => arg === b[i]);
}

/**
 * A host that was SIGKILLed (nothing else skips its exit hook) leaves its
 * children, which run in process groups of their own: end the ones its record
 * names before starting again on the same data.
 */
export async function killRecorded(file: string, log: (msg: string) => void): Promise<void> {
  // Last started first, as stop() does: a controller-manager whose API server is
  // gone would exit by itself, unrecorded.
  for (const r of readPidRecord(file).reverse()) {
    const cmd = commandLine(r.pid);
    if (!cmd || !isRunning(r.pid)) continue;
    if (r.startTime === undefined || !Array.isArray(r.cmdline)) {
      // A record written before start times were kept cannot tell our child
      // from an unrelated process that got the same pid (after a reboot, or
      // another checkout's sandbox): leave it to the person who knows.
      if (basename(cmd[0] ?? '') === r.binary) {
        log(
          `not stopping pid ${r.pid} (${r.binary}): ${file} recorded it as ${r.name} without its ` +
            `start time, so it may be another program's; if it is left over from an earlier run ` +
            `here, stop it yourself (kill ${r.pid})`,
        );
      }
      continue;
    }
    // Only the very process we started: the same pid with the same start time
    // and command line. A reused pid has a later start time; another checkout's
    // etcd has another data directory on its command line.
    if (startTime(r.pid) !== r.startTime || !sameCommandLine(cmd, r.cmdline)) continue;
    log(`stopping ${r.name} (pid ${r.pid}) left over from an earlier run`);
    process.kill(r.pid, 'SIGKILL');
    for (let i = 0; i < 100 && isRunning(r.pid); i++) await sleep(50);
  }
  if (existsSync(file)) writeFileSync(file, '[]');
}
