import type { NodemailerError, SMTPTransportOptions, Transporter } from 'nodemailer';
import { renderEmail } from './email-render.ts';
import { DeliveryError, type Delivery, type Notification, type Sender } from './types.ts';

/** Where an email channel sends, and through which SMTP server. */
export interface EmailChannelConfig {
  to: string[];
  smtp: {
    /**
     * `smtp://host[:port]` (port 587 by default; STARTTLS whenever the server offers
     * it) or `smtps://host[:port]` (implicit TLS, port 465 by default). No credentials
     * in the URL: they go in `username` and `password`.
     */
    url: string;
    from: string;
    username?: string;
    password?: string;
  };
}

export interface EmailSenderOptions {
  /** Merged over the options derived from the config (timeouts, `tls.ca`, …). */
  transport?: Partial<SMTPTransportOptions>;
}

/**
 * Defaults far shorter than nodemailer's (2 minutes to connect, 10 minutes idle): a
 * notification that cannot be handed over within seconds is retried later, rather
 * than holding a delivery worker.
 */
const CONNECT_TIMEOUT_MS = 10_000;
const GREETING_TIMEOUT_MS = 10_000;
const SOCKET_TIMEOUT_MS = 30_000;

/** Socket errors that say nothing about the message: the next attempt may get through. */
const TRANSIENT_NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EAI_AGAIN',
]);
const TRANSIENT_NODEMAILER_CODES = new Set(['ECONNECTION', 'ESOCKET', 'ETIMEDOUT', 'EPROXY']);

/**
 * A failed TLS handshake or an untrusted certificate (Node's codes, e.g.
 * UNABLE_TO_VERIFY_LEAF_SIGNATURE, ERR_SSL_WRONG_VERSION_NUMBER), which nodemailer
 * reports as a socket error: the same server answers the same way next time.
 */
function isTlsFailure(err: NodemailerError): boolean {
  if (err.code === 'ETLS') return true;
  const original = err.originalCode ?? '';
  return /CERT|SIGNATURE|HOSTNAME_MISMATCH|^ERR_SSL_|^ERR_TLS_/.test(original);
}

/** The id all messages about one grant refer to, so mail clients show them as one thread. */
export function threadMessageId(grantUid: string): string {
  return `<${msgIdPart(grantUid)}@timebox>`;
}

/** Message-ID from the notification id: a duplicate delivery carries the same one. */
export function notificationMessageId(n: Notification): string {
  return `<${msgIdPart(n.id)}@timebox>`;
}

function msgIdPart(s: string): string {
  return s.replace(/[^A-Za-z0-9._-]/g, '-');
}

function transportOptions(
  config: EmailChannelConfig,
  override: Partial<SMTPTransportOptions> | undefined,
): SMTPTransportOptions {
  let url: URL;
  try {
    url = new URL(config.smtp.url);
  } catch {
    throw new Error(
      `email channel: smtp.url ${JSON.stringify(config.smtp.url)} is not a URL; write smtp://host:port or smtps://host:port`,
    );
  }
  if (url.username || url.password) {
    // Not echoing the URL: it holds a password.
    throw new Error(
      'email channel: smtp.url contains credentials; put them in smtp.username and smtp.password instead',
    );
  }
  if (url.protocol !== 'smtp:' && url.protocol !== 'smtps:') {
    throw new Error(
      `email channel: smtp.url must start with smtp:// (STARTTLS) or smtps:// (implicit TLS), not ${url.protocol}//`,
    );
  }
  const secure = url.protocol === 'smtps:';
  const opts: SMTPTransportOptions = {
    // URL keeps the brackets of an IPv6 host; the socket wants the bare address.
    host: url.hostname.replace(/^\[(.*)\]$/, '$1'),
    port: url.port ? Number(url.port) : secure ? 465 : 587,
    secure,
    connectionTimeout: CONNECT_TIMEOUT_MS,
    greetingTimeout: GREETING_TIMEOUT_MS,
    socketTimeout: SOCKET_TIMEOUT_MS,
  };
  if (config.smtp.username !== undefined) {
    opts.auth = { user: config.smtp.username, pass: config.smtp.password ?? '' };
    // A password never crosses a network in the clear: without STARTTLS (absent,
    // or stripped by someone on the path) the send fails instead. Loopback (a
    // local relay, the sandbox's Mailpit) is exempt.
    if (!secure && !LOOPBACK.has(opts.host!)) opts.requireTLS = true;
  }
  return { ...opts, ...override };
}

const LOOPBACK = new Set(['127.0.0.1', '::1', 'localhost']);

/** A send that takes longer than this fails (and is retried): a stalling server cannot hold a worker. */
export const SEND_DEADLINE_MS = 60_000;

/** What to do about a failure, in words, from the SMTP reply or the socket error. */
function hint(err: NodemailerError, where: string, retryable: boolean): string {
  const original = err.originalCode ?? err.code;
  if (err.code === 'EAUTH') return 'check smtp.username and the password';
  if (original === 'ECONNREFUSED') return `nothing accepts connections at ${where}; check smtp.url`;
  if (err.code === 'ETIMEDOUT') return `no answer from ${where}; check smtp.url and the network`;
  if (isTlsFailure(err)) {
    return 'TLS failed: check that the server certificate is valid and trusted, and the scheme: smtps:// needs a port that speaks TLS at once (usually 465), smtp:// upgrades with STARTTLS (usually 587)';
  }
  if (original === 'ENOTFOUND') return `the host of ${where} does not resolve; check smtp.url`;
  if (err.command === 'RCPT TO') return 'the server refused the recipients; check `to`';
  if (err.command === 'MAIL FROM') return 'the server refused the sender; check smtp.from';
  return retryable ? 'the server may accept it later' : 'retrying will not help';
}

function isRetryable(err: NodemailerError): boolean {
  // An SMTP reply decides: 4xx is temporary, 5xx permanent (RFC 5321), except 503
  // (bad sequence of commands), which is about the session, not the message.
  if (typeof err.responseCode === 'number') {
    return err.responseCode < 500 || err.responseCode === 503;
  }
  if (isTlsFailure(err)) return false;
  if (err.originalCode && TRANSIENT_NETWORK_CODES.has(err.originalCode)) return true;
  if (err.code === 'EDNS') return err.originalCode !== 'ENOTFOUND';
  return err.code !== undefined && TRANSIENT_NODEMAILER_CODES.has(err.code);
}

/** Removes the password, plain or in the base64 of SMTP AUTH, from any text. */
function redactor(config: EmailChannelConfig): (s: string) => string {
  const { username = '', password } = config.smtp;
  if (!password) return (s) => s;
  const secrets = [
    password,
    Buffer.from(password).toString('base64'),
    Buffer.from(`\0${username}\0${password}`).toString('base64'),
  ];
  return (s) => secrets.reduce((acc, secret) => acc.replaceAll(secret, '***'), s);
}

function deliveryError(
  raw: unknown,
  config: EmailChannelConfig,
  where: string,
  redact: (s: string) => string,
): DeliveryError {
  const err = (raw instanceof Error ? raw : new Error(String(raw))) as NodemailerError;
  const retryable = isRetryable(err);
  err.message = redact(err.message);
  if (err.response) err.response = redact(err.response);
  // OpenSSL's messages end in a line break; a log line should stay one line.
  const what = err.message.replace(/\s+/g, ' ').trim();
  return new DeliveryError(
    `email to ${config.to.join(', ')} via ${where} failed: ${what} (${hint(err, where, retryable)})`,
    { retryable, cause: err },
  );
}

/**
 * A Sender that mails one message per notification, with a text and an HTML part,
 * threaded per grant (`In-Reply-To`/`References`), and the notification id in
 * `X-Timebox-Notification-Id`. `ref` is the Message-ID sent; `previous` is ignored,
 * as a sent email cannot be updated.
 */
export function emailSender(config: EmailChannelConfig, opts: EmailSenderOptions = {}): Sender {
  if (config.to.length === 0) {
    throw new Error('email channel: `to` is empty; name at least one recipient');
  }
  const options = transportOptions(config, opts.transport);
  const where = `${options.host}:${options.port}`;
  // nodemailer (about 20 MiB) is loaded with the first email, not with the operator.
  let transporter: Promise<Transporter> | undefined;
  const transport = () =>
    (transporter ??= import('nodemailer').then((m) => m.default.createTransport(options)));
  const redact = redactor(config);
  return {
    kind: 'email',
    async send(n: Notification): Promise<Delivery> {
      const mail = renderEmail(n);
      const thread = threadMessageId(n.grant.uid);
      let timer: NodeJS.Timeout | undefined;
      const deadline = new Promise<never>((_, reject) => {
        timer = setTimeout(() => {
          // Drops the stalled connection; the transport opens a new one next time.
          void transport().then((t) => t.close());
          reject(
            Object.assign(
              new Error(`no complete answer from ${where} within ${SEND_DEADLINE_MS / 1000} s`),
              { code: 'ETIMEDOUT' },
            ),
          );
        }, SEND_DEADLINE_MS);
      });
      try {
        const sending = (await transport()).sendMail({
          from: config.smtp.from,
          to: config.to,
          subject: mail.subject,
          text: mail.text,
          html: mail.html,
          messageId: notificationMessageId(n),
          inReplyTo: thread,
          references: [thread],
          headers: { 'X-Timebox-Notification-Id': n.id },
        });
        const info = await Promise.race([sending, deadline]);
        return { ref: info.messageId };
      } catch (err) {
        throw deliveryError(err, config, where, redact);
      } finally {
        clearTimeout(timer);
      }
    },
  };
}
