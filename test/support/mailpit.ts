import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { REPO_ROOT } from '../../src/kube/manifests.ts';
import { freePort } from '../../src/sandbox/ports.ts';
import { startProcess, stopProcess, tail } from '../../src/sandbox/process.ts';
import { eventually } from './wait.ts';

const run = promisify(execFile);

const START_TIMEOUT_MS = 30_000;

export interface MailAddress {
  Name: string;
  Address: string;
}

/** One message in Mailpit's list (`GET /api/v1/messages`), as Mailpit names the fields. */
export interface MailSummary {
  ID: string;
  MessageID: string;
  From: MailAddress;
  To: MailAddress[];
  Subject: string;
  /** Who authenticated over SMTP to send it; empty without authentication. */
  Username: string;
  Created: string;
  Snippet: string;
}

/** One message read back in full: its parts, addresses and every header. */
export interface MailMessage {
  id: string;
  messageId: string;
  subject: string;
  from: MailAddress;
  to: MailAddress[];
  text: string;
  html: string;
  username: string;
  /** Header name (as sent) → values. */
  headers: Record<string, string[]>;
}

/** Failures Mailpit's SMTP server answers with, by stage; probability in percent. */
export interface ChaosTriggers {
  Sender?: { ErrorCode: number; Probability: number };
  Recipient?: { ErrorCode: number; Probability: number };
  Authentication?: { ErrorCode: number; Probability: number };
}

export interface MailpitOptions {
  /** Directory for mailpit.log; by default a temporary one removed on stop. */
  logDir?: string;
  /**
   * Serve SMTP over TLS with this certificate: `starttls` offers STARTTLS and
   * rejects mail sent without it, `implicit` speaks TLS from the first byte.
   */
  tls?: { certPem: string; keyPem: string; mode: 'starttls' | 'implicit' };
  /** Lets `setChaos` make the SMTP server fail on purpose (off by default). */
  chaos?: boolean;
}

export interface Mailpit {
  /** `smtp://127.0.0.1:<port>`, or `smtps://` with implicit TLS. */
  smtpUrl: string;
  /** Base URL of the web UI and HTTP API. */
  apiUrl: string;
  /** Every message received, newest first. */
  messages(): Promise<MailSummary[]>;
  message(id: string): Promise<MailMessage>;
  /** Waits until at least `n` messages have arrived; returns them newest first. */
  waitForMessages(n: number, timeoutMs?: number): Promise<MailSummary[]>;
  /** Deletes every message. */
  clear(): Promise<void>;
  /** Sets the failure triggers; triggers left out are turned off. Needs `chaos: true`. */
  setChaos(triggers: ChaosTriggers): Promise<void>;
  stop(): Promise<void>;
}

/** The Mailpit binary, built from the Go module proxy on first use (see hack/). */
async function mailpitBinary(): Promise<string> {
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
 * Starts Mailpit (a real SMTP server that keeps what it receives and shows it over
 * an HTTP API) on free loopback ports. Any SMTP username and password are
 * accepted; without `tls`, also over plain SMTP, so authenticated sends can be
 * tested without certificates.
 */
export async function startMailpit(opts: MailpitOptions = {}): Promise<Mailpit> {
  const bin = await mailpitBinary();
  const dir = await mkdtemp(join(tmpdir(), 'timebox-mailpit-'));
  const [smtpPort, httpPort] = [await freePort(), await freePort()];
  const args = [
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
  ];
  if (opts.chaos) args.push('--enable-chaos');
  const tls = opts.tls;
  // Mailpit refuses to require TLS while allowing logins without it, so the
  // plain-SMTP allowance is only for a server without TLS.
  if (!tls) {
    args.push('--smtp-auth-allow-insecure');
  } else {
    await writeFile(join(dir, 'smtp.crt'), tls.certPem);
    await writeFile(join(dir, 'smtp.key'), tls.keyPem, { mode: 0o600 });
    args.push('--smtp-tls-cert', join(dir, 'smtp.crt'), '--smtp-tls-key', join(dir, 'smtp.key'));
    args.push(tls.mode === 'implicit' ? '--smtp-require-tls' : '--smtp-require-starttls');
  }
  const logFile = join(opts.logDir ?? dir, 'mailpit.log');
  const proc = startProcess('mailpit', bin, args, logFile);
  const apiUrl = `http://127.0.0.1:${httpPort}`;
  const stop = async () => {
    await stopProcess(proc);
    await rm(dir, { recursive: true, force: true });
  };

  try {
    // A Mailpit that exits (a bad flag, a port taken) fails at once, not after the timeout.
    const exited = proc.exited.then((code) => {
      throw new Error(`Mailpit exited (${code}) before it answered`);
    });
    await Promise.race([
      exited,
      eventually(
        async () =>
          (await fetch(`${apiUrl}/readyz`)).ok &&
          (await smtpAnswers(smtpPort, tls?.mode === 'implicit')),
        { timeoutMs: START_TIMEOUT_MS, what: 'Mailpit to answer over HTTP and SMTP' },
      ),
    ]);
  } catch (err) {
    const log = tail(logFile);
    await stop();
    throw new Error(`${(err as Error).message}; mailpit.log:\n${log}`, { cause: err });
  }

  async function api<T>(path: string, init?: RequestInit): Promise<T> {
    const res = await fetch(`${apiUrl}${path}`, init);
    if (!res.ok) {
      throw new Error(
        `Mailpit ${init?.method ?? 'GET'} ${path}: ${res.status} ${await res.text()}`,
      );
    }
    // Some endpoints (DELETE, PUT) answer with a plain "ok".
    const json = res.headers.get('content-type')?.includes('application/json');
    return (json ? await res.json() : await res.text()) as T;
  }

  async function messages(): Promise<MailSummary[]> {
    return (await api<{ messages: MailSummary[] }>('/api/v1/messages?limit=1000')).messages;
  }

  return {
    smtpUrl: `${tls?.mode === 'implicit' ? 'smtps' : 'smtp'}://127.0.0.1:${smtpPort}`,
    apiUrl,
    messages,
    async message(id) {
      const path = `/api/v1/message/${encodeURIComponent(id)}`;
      const m = await api<{
        ID: string;
        MessageID: string;
        Subject: string;
        From: MailAddress;
        To: MailAddress[] | null;
        Text: string;
        HTML: string;
        Username: string;
      }>(path);
      const headers = await api<Record<string, string[]>>(`${path}/headers`);
      return {
        id: m.ID,
        messageId: m.MessageID,
        subject: m.Subject,
        from: m.From,
        to: m.To ?? [],
        text: m.Text,
        html: m.HTML,
        username: m.Username,
        headers,
      };
    },
    async waitForMessages(n, timeoutMs = 10_000) {
      let seen = 0;
      return eventually(
        async () => {
          const all = await messages();
          seen = all.length;
          return all.length >= n && all;
        },
        { timeoutMs, what: () => `${n} message(s) in Mailpit (have ${seen})` },
      );
    },
    async clear() {
      await api('/api/v1/messages', { method: 'DELETE' });
    },
    async setChaos(triggers) {
      await api('/api/v1/chaos', {
        method: 'PUT',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(triggers),
      });
    },
    stop,
  };
}
