import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync, readFileSync } from 'node:fs';
import { once } from 'node:events';

export interface ManagedProcess {
  readonly name: string;
  readonly pid: number;
  readonly child: ChildProcess;
  readonly logFile: string;
  /** Resolves with the exit code (or signal name) once the process has exited. */
  readonly exited: Promise<number | string>;
}

export interface StartOptions {
  /**
   * Start the child in a process group of its own, so a terminal's Ctrl-C (a
   * SIGINT to the whole foreground group) or a SIGTERM to the host's group
   * reaches only the host, which then stops its children in order. Only for a
   * host that stops them on every signal itself (src/main.ts): others would
   * leave them running.
   */
  detached?: boolean;
}

/** Every child started here and not yet exited, in start order. */
const running: ManagedProcess[] = [];

/** Spawns a long-running child with stdout and stderr appended to a log file. */
export function startProcess(
  name: string,
  command: string,
  args: string[],
  logFile: string,
  opts: StartOptions = {},
): ManagedProcess {
  // The child writes its log file itself, not through a pipe to this process:
  // a pipe whose reader is gone (this host SIGKILLed) would kill a chatty child
  // with SIGPIPE at its next line and leave a quiet one running, at random.
  const log = openSync(logFile, 'a');
  let child: ChildProcess;
  try {
    child = spawn(command, args, {
      stdio: ['ignore', log, log],
      detached: opts.detached ?? false,
    });
  } finally {
    closeSync(log);
  }
  if (child.pid === undefined) {
    throw new Error(`could not start ${name} (${command})`);
  }
  const exited = new Promise<number | string>((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', (code, signal) => resolve(code ?? signal ?? 'unknown'));
  });
  // A rejected `exited` must never crash the host process; callers observe it when they await.
  exited.catch(() => undefined);
  const proc = { name, pid: child.pid, child, logFile, exited };
  running.push(proc);
  void exited
    .finally(() => {
      const i = running.indexOf(proc);
      if (i >= 0) running.splice(i, 1);
    })
    .catch(() => undefined);
  return proc;
}

function hasExited(proc: ManagedProcess): boolean {
  return proc.child.exitCode !== null || proc.child.signalCode !== null;
}

/** Asks a process to stop, and kills it if it has not exited within the grace period. */
export async function stopProcess(proc: ManagedProcess, graceMs = 10_000): Promise<void> {
  if (hasExited(proc)) return;
  proc.child.kill('SIGTERM');
  const timer = setTimeout(() => proc.child.kill('SIGKILL'), Math.max(0, graceMs));
  try {
    await Promise.race([proc.exited, once(proc.child, 'exit')]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Stops the given processes one after the other, in the order given, all within
 * one deadline (a Date.now() value): each gets SIGTERM and what is left of the
 * time, then SIGKILL. A process that hangs in its graceful shutdown (an API
 * server whose etcd is gone) so costs the others their grace, never the bound.
 */
export async function stopInOrder(procs: ManagedProcess[], deadline: number): Promise<void> {
  for (const p of procs) await stopProcess(p, deadline - Date.now());
}

/** Every child started here that is still running, last started first: the order to stop them in. */
export function runningProcesses(): ManagedProcess[] {
  return running.filter((p) => !hasExited(p)).reverse();
}

/** SIGKILLs every child started here at once: when the host exits without stopping them. */
export function killAllProcesses(): void {
  for (const p of running) {
    try {
      p.child.kill('SIGKILL');
    } catch {
      /* already gone */
    }
  }
}

// Whatever way the host exits, short of SIGKILL, no child outlives it; after a
// SIGKILL, the next start ends them from their pid record (pid-record.ts).
process.on('exit', killAllProcesses);

export function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
  // A zombie still answers signal 0; it is no longer running.
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return !/\) Z /.test(stat);
  } catch {
    return true;
  }
}

/** The command line of a running process, or undefined if it is gone or unreadable. */
export function commandLine(pid: number): string[] | undefined {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean);
  } catch {
    return undefined;
  }
}

/**
 * When a process started, in clock ticks since boot (field 22 of
 * /proc/<pid>/stat), or undefined if it is gone. With the pid it names one
 * process for as long as the host runs: a reused pid has a later start time.
 */
export function startTime(pid: number): string | undefined {
  try {
    return startTimeFromStat(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return undefined;
  }
}

/** Field 22 (starttime) of a /proc/<pid>/stat line. */
export function startTimeFromStat(stat: string): string | undefined {
  // Field 2, the program name in parentheses, may itself hold spaces and ')':
  // the fields after the last ')' start at field 3.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const ticks = fields[22 - 3];
  return ticks && /^\d+$/.test(ticks) ? ticks : undefined;
}

/** Last lines of a log file, to put in an error message when a process fails to start. */
export function tail(file: string, lines = 20): string {
  try {
    return readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '';
  }
}
