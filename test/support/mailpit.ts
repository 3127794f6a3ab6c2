import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startMailpitProcess } from '../../src/sandbox/mailpit.ts';
import { eventually } from './wait.ts';

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

/**
 * Starts Mailpit (a real SMTP server that keeps what it receives and shows it over
 * an HTTP API) on free loopback ports. Any SMTP username and password are
 * accepted; without `tls`, also over plain SMTP, so authenticated sends can be
 * tested without certificates.
 */
export async function startMailpit(opts: MailpitOptions = {}): Promise<Mailpit> {
  const dir = await mkdtemp(join(tmpdir(), 'timebox-mailpit-'));
  const args: string[] = [];
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
  let proc;
  try {
    proc = await startMailpitProcess({ dir, args, implicitTls: tls?.mode === 'implicit' });
  } catch (err) {
    await rm(dir, { recursive: true, force: true });
    throw err;
  }
  const { smtpPort, webUrl: apiUrl } = proc;
  const stop = async () => {
    await proc.stop();
    await rm(dir, { recursive: true, force: true });
  };

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
