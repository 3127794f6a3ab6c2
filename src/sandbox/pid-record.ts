import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { basename } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { commandLine, isRunning, type ManagedProcess } from './process.ts';

/** What a pid record keeps of each child, enough to recognise it after the host is gone. */
export interface PidRecord {
  name: string;
  pid: number;
  binary: string;
}

/** Writes which children run now, so a later start can end them if this host is SIGKILLed. */
export function writePidRecord(file: string, procs: ManagedProcess[]): void {
  const records: PidRecord[] = procs.map((p) => ({
    name: p.name,
    pid: p.pid,
    binary: basename(p.child.spawnfile),
  }));
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
    // Only a process still running our binary: the pid may have been reused.
    if (!cmd || !isRunning(r.pid) || basename(cmd[0] ?? '') !== r.binary) continue;
    log(`stopping ${r.name} (pid ${r.pid}) left over from an earlier run`);
    process.kill(r.pid, 'SIGKILL');
    for (let i = 0; i < 100 && isRunning(r.pid); i++) await sleep(50);
  }
  if (existsSync(file)) writeFileSync(file, '[]');
}
