import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { REPO_ROOT } from '../kube/manifests.ts';
import { freePort } from './ports.ts';
import { killRecorded, writePidRecord } from './pid-record.ts';
import { startProcess, stopProcess, tail } from './process.ts';

const run = promisify(execFile);
const START_TIMEOUT_MS = 30_000;

/** A running Mailpit: a real SMTP server that keeps what it receives, with a web UI and API. */
export interface MailpitProcess {
  smtpPort: number;
  /** The web UI and the HTTP API (`/api/v1/...`). */
  webUrl: string;
  /** Stops it: SIGTERM, then SIGKILL after `graceMs`. */
  stop(graceMs?: number): Promise<void>;
}

/** The Mailpit binary, built from the Go module proxy on first use (hack/install-mailpit.sh). */
export async function mailpitBinary(): Promise<string> {
  const script = join(REPO_ROOT, 'hack', 'install-mailpit.sh');
  return (await run('bash', [script], { maxBuffer: 1 << 24 })).stdout.trim();
}

/** True once something on `port` answers with an SMTP greeting (or accepts a TLS connection). */
function smtpAnswers(port: number, implicitTls: boolean): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(1_000, () => done(false));
    socket.once('error', () => done(false));
    // With implicit TLS the server waits for a ClientHello: an open connection is enough.
    if (implicitTls) socket.once('connect', () => done(true));
    else socket.once('data', (d) => done(d.toString().startsWith('220')));
  });
}

/**
 * Starts Mailpit on free loopback ports, accepting any SMTP login, and waits
 * until it answers over HTTP and SMTP. `args` adds flags (TLS, chaos); `dir`
 * holds its database, log and pid record (a temporary directory, removed on
 * stop, when absent); `detached` runs it in a process group of its own (see
 * StartOptions).
 */
export async function startMailpitProcess(
  opts: {
    dir?: string;
    args?: string[];
    implicitTls?: boolean;
    detached?: boolean;
    log?: (msg: string) => void;
  } = {},
): Promise<MailpitProcess> {
  const bin = await mailpitBinary();
  const dir = opts.dir ?? (await mkdtemp(join(tmpdir(), 'timebox-mailpit-')));
  const pidFile = join(dir, 'mailpit-pid.json');
  await killRecorded(pidFile, opts.log ?? (() => {}));
  const [smtpPort, httpPort] = [await freePort(), await freePort()];
  const logFile = join(dir, 'mailpit.log');
  const proc = startProcess(
    'mailpit',
    bin,
    [
      '--smtp',
      `127.0.0.1:${smtpPort}`,
      '--listen',
      `127.0.0.1:${httpPort}`,
      '--database',
      join(dir, 'mailpit.db'),
      '--smtp-auth-accept-any',
      // No lookups of github.com for a newer release, nor reverse DNS of each client.
      '--disable-version-check',
      '--smtp-disable-rdns',
      ...(opts.args ?? []),
    ],
    logFile,
    { detached: opts.detached ?? false },
  );
  writePidRecord(pidFile, [proc]);
  const webUrl = `http://127.0.0.1:${httpPort}`;
  const stop = async (graceMs?: number) => {
    await stopProcess(proc, graceMs);
    writePidRecord(pidFile, []);
    if (!opts.dir) await rm(dir, { recursive: true, force: true });
  };
  const deadline = Date.now() + START_TIMEOUT_MS;
  let exited: number | string | undefined;
  void proc.exited.then((code) => (exited = code));
  for (;;) {
    const ready =
      (await fetch(`${webUrl}/readyz`).then(
        (r) => r.ok,
        () => false,
      )) && (await smtpAnswers(smtpPort, opts.implicitTls ?? false));
    if (ready) return { smtpPort, webUrl, stop };
    // A Mailpit that exits (a bad flag, a port taken) fails at once, not after the timeout.
    if (exited !== undefined || Date.now() > deadline) {
      const log = tail(logFile);
      await stop();
      throw new Error(
        `Mailpit ${exited !== undefined ? `exited (${exited})` : 'did not answer in time'}; mailpit.log:\n${log}`,
      );
    }
    await sleep(100);
  }
}
