import assert from 'node:assert/strict';
import { newCA, newServingCert } from '../../src/admission/certs.ts';
import { emailSender, type EmailChannelConfig } from '../../src/notify/email.ts';
import { escapeHtml } from '../../src/notify/email-render.ts';
import { DeliveryError, type Notification } from '../../src/notify/types.ts';
import { freePort } from '../../src/sandbox/ports.ts';
import { startMailpit, type Mailpit } from '../support/mailpit.ts';
import {
  SAMPLE_APPROVE,
  SAMPLE_DENY,
  SAMPLE_UID,
  sampleNotification,
} from '../support/notification.ts';

const UID = SAMPLE_UID;
const APPROVE = SAMPLE_APPROVE;
const DENY = SAMPLE_DENY;
/** A Requested notification, with `over` applied. */
const notification = (over: Partial<Notification> = {}) => sampleNotification('Requested', over);
const PASSWORD = 's3cret-Passw0rd';

function config(smtpUrl: string, auth?: { username: string; password: string }) {
  return {
    to: ['oncall@example.com', 'security@example.com'],
    smtp: { url: smtpUrl, from: 'Timebox <timebox@example.com>', ...auth },
  } satisfies EmailChannelConfig;
}

/** The DeliveryError a send rejected with; fails the test if it was delivered. */
async function failure(p: Promise<unknown>): Promise<DeliveryError> {
  try {
    await p;
  } catch (err) {
    assert.ok(err instanceof DeliveryError, `expected a DeliveryError, got ${String(err)}`);
    return err;
  }
  assert.fail('the notification was delivered, but should have failed');
}

/** The one message Mailpit holds, read in full. */
async function onlyMessage(mailpit: Mailpit) {
  const [summary, ...rest] = await mailpit.waitForMessages(1);
  assert.equal(rest.length, 0, 'exactly one message');
  return mailpit.message(summary!.ID);
}

describe('email notifications (Mailpit)', function () {
  // The first run builds Mailpit from source (about a minute).
  this.timeout(60_000);
  let mailpit: Mailpit;

  before(async function () {
    this.timeout(10 * 60_000);
    mailpit = await startMailpit({ chaos: true });
  });

  after(async () => {
    await mailpit?.stop();
  });

  beforeEach(async () => {
    await mailpit.setChaos({});
    await mailpit.clear();
  });

  it('mails a request with who, what, where, how long, why and how to approve', async () => {
    const delivery = await emailSender(config(mailpit.smtpUrl)).send(notification());
    const m = await onlyMessage(mailpit);

    assert.equal(
      m.subject,
      '[Timebox] Requested: alice asks for ClusterRole edit in namespaces payments for 1h (payments/alice-debug)',
    );
    assert.deepEqual(
      m.to.map((a) => a.Address),
      ['oncall@example.com', 'security@example.com'],
    );
    assert.equal(m.from.Address, 'timebox@example.com');
    for (const part of [m.text, m.html]) {
      assert.match(part, /payments\/alice-debug/);
      assert.match(part, /User alice/);
      assert.match(part, /ClusterRole edit in namespaces payments/);
      assert.match(part, /1h, from activation/);
      assert.match(part, /INC-42: payments API returns 500/);
    }
    assert.ok(m.text.includes(APPROVE), 'the approve command');
    assert.ok(m.text.includes(DENY), 'the deny command');
    // In HTML, escaped: the deny command carries a quoted placeholder.
    assert.ok(m.html.includes(escapeHtml(APPROVE)), 'the approve command, in HTML');
    assert.ok(m.html.includes(escapeHtml(DENY)), 'the deny command, in HTML');
    assert.match(m.html, /<a href="https:\/\/timebox\.example\/g\/1">/);
    assert.deepEqual(m.headers['X-Timebox-Notification-Id'], [`${UID}.requested`]);
    assert.equal(`<${m.messageId}>`, delivery.ref, 'ref is the Message-ID sent');
  });

  it('delivers a reason containing <script> escaped in the HTML part', async () => {
    const n = notification();
    n.grant.reason = '<script>alert("x")</script> fix prod';
    await emailSender(config(mailpit.smtpUrl)).send(n);
    const m = await onlyMessage(mailpit);

    assert.ok(!m.html.includes('<script>'), m.html);
    assert.ok(m.html.includes('&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; fix prod'));
    assert.ok(m.text.includes('<script>alert("x")</script> fix prod'), 'text shows it as written');
  });

  it('threads the messages about one grant, apart from other grants', async () => {
    const sender = emailSender(config(mailpit.smtpUrl));
    await sender.send(notification());
    await sender.send(
      notification({
        id: `${UID}.approved`,
        event: 'Approved',
        summary: 'bob approved alice for edit in payments for 1h',
        actor: { user: 'bob', comment: 'go ahead' },
      }),
    );
    const other = notification({
      id: 'ffff0000-other.requested',
      summary: 'carol asks for edit in payments for 1h',
    });
    other.grant = { ...other.grant, uid: 'ffff0000-other', name: 'carol-debug' };
    await sender.send(other);

    const all = await mailpit.waitForMessages(3);
    const msgs = await Promise.all(all.map((s) => mailpit.message(s.ID)));
    const bySubject = (prefix: string) => msgs.find((m) => m.subject.startsWith(prefix))!;
    const [requestedMsg, approvedMsg, otherMsg] = [
      bySubject('[Timebox] Requested: alice'),
      bySubject('[Timebox] Approved: bob'),
      bySubject('[Timebox] Requested: carol'),
    ];
    assert.ok(requestedMsg && approvedMsg && otherMsg, 'all three arrived');
    for (const m of [requestedMsg, approvedMsg]) {
      assert.deepEqual(m.headers['In-Reply-To'], [`<${UID}@timebox>`]);
      assert.deepEqual(m.headers['References'], [`<${UID}@timebox>`]);
    }
    assert.deepEqual(otherMsg.headers['In-Reply-To'], ['<ffff0000-other@timebox>']);
    assert.notEqual(requestedMsg.messageId, approvedMsg.messageId);
    assert.match(approvedMsg.text, /Approved by: +bob: "go ahead"/);
    assert.ok(!approvedMsg.text.includes(APPROVE), 'no approve command once approved');
  });

  it('sends the same notification twice with the same Message-ID, so receivers can drop it', async () => {
    const sender = emailSender(config(mailpit.smtpUrl));
    await sender.send(notification());
    await sender.send(notification());
    const [a, b] = await mailpit.waitForMessages(2);
    assert.equal(a!.MessageID, `${UID}.requested@timebox`);
    assert.equal(b!.MessageID, a!.MessageID);
  });

  it('logs in with the configured username and password', async () => {
    await emailSender(
      config(mailpit.smtpUrl, { username: 'timebox-mailer', password: PASSWORD }),
    ).send(notification());
    const m = await onlyMessage(mailpit);
    assert.equal(m.username, 'timebox-mailer');
  });

  it('reports a refused login as not retryable, without the password', async () => {
    await mailpit.setChaos({ Authentication: { ErrorCode: 535, Probability: 100 } });
    const err = await failure(
      emailSender(config(mailpit.smtpUrl, { username: 'timebox-mailer', password: PASSWORD })).send(
        notification(),
      ),
    );
    assert.equal(err.retryable, false);
    assert.match(err.message, /535/);
    assert.match(err.message, /check smtp\.username and the password/);
    const everything = `${err.message} ${String(err.stack)} ${String(err.cause)} ${JSON.stringify(err.cause)}`;
    assert.ok(!everything.includes(PASSWORD), everything);
    assert.ok(!everything.includes(Buffer.from(PASSWORD).toString('base64')), everything);
    assert.equal((await mailpit.messages()).length, 0, 'nothing was delivered');
  });

  it('reports an unreachable SMTP server as retryable', async () => {
    const port = await freePort(); // nothing listens there
    const err = await failure(emailSender(config(`smtp://127.0.0.1:${port}`)).send(notification()));
    assert.equal(err.retryable, true);
    assert.match(err.message, new RegExp(`127\\.0\\.0\\.1:${port}`));
    assert.match(err.message, /ECONNREFUSED/);
    assert.match(err.message, /check smtp\.url/);
  });

  it('reports a temporary rejection (451) as retryable', async () => {
    await mailpit.setChaos({ Recipient: { ErrorCode: 451, Probability: 100 } });
    const err = await failure(emailSender(config(mailpit.smtpUrl)).send(notification()));
    assert.equal(err.retryable, true);
    assert.match(err.message, /451/);
  });

  it('reports a permanent rejection (554 to MAIL FROM) as not retryable', async () => {
    await mailpit.setChaos({ Sender: { ErrorCode: 554, Probability: 100 } });
    const err = await failure(emailSender(config(mailpit.smtpUrl)).send(notification()));
    assert.equal(err.retryable, false);
    assert.match(err.message, /554/);
    assert.match(err.message, /check smtp\.from/);
    assert.equal((await mailpit.messages()).length, 0, 'nothing was delivered');
  });

  it('refuses a URL that is not SMTP, or holds the password, before sending anything', () => {
    assert.throws(() => emailSender(config('http://127.0.0.1:25')), /smtp:\/\/ .* smtps:\/\//);
    assert.throws(
      () => emailSender(config(`smtp://u:${PASSWORD}@127.0.0.1:25`)),
      (err: Error) =>
        /smtp\.username and smtp\.password/.test(err.message) && !err.message.includes(PASSWORD),
    );
  });
});

describe('email notifications over TLS (Mailpit)', function () {
  this.timeout(60_000);
  const ca = newCA(new Date());
  const serving = newServingCert(ca, ['127.0.0.1'], new Date());
  const trustCa = { transport: { tls: { ca: ca.certPem } } };
  let starttls: Mailpit;
  let implicit: Mailpit;

  before(async function () {
    this.timeout(10 * 60_000);
    [starttls, implicit] = await Promise.all([
      startMailpit({ tls: { ...serving, mode: 'starttls' } }),
      startMailpit({ tls: { ...serving, mode: 'implicit' } }),
    ]);
  });

  after(async () => {
    await Promise.all([starttls?.stop(), implicit?.stop()]);
  });

  it('smtp:// upgrades with STARTTLS when the server offers it', async () => {
    // This Mailpit rejects mail sent without STARTTLS; the control below shows it does.
    assert.match(starttls.smtpUrl, /^smtp:\/\//);
    await emailSender(config(starttls.smtpUrl), trustCa).send(notification());
    assert.equal((await starttls.waitForMessages(1)).length, 1);

    const plain = await failure(
      emailSender(config(starttls.smtpUrl), { transport: { ignoreTLS: true } }).send(
        notification(),
      ),
    );
    assert.match(plain.message, /STARTTLS/i);
  });

  it('does not send to a server whose certificate it does not trust', async () => {
    await starttls.clear();
    const err = await failure(emailSender(config(starttls.smtpUrl)).send(notification()));
    assert.equal(err.retryable, false, err.message);
    assert.match(err.message, /certificate/i);
    assert.match(err.message, /TLS failed: check that the server certificate is valid and trusted/);
    assert.equal((await starttls.messages()).length, 0, 'nothing was delivered');
  });

  it('smtps:// speaks TLS from the first byte', async () => {
    assert.match(implicit.smtpUrl, /^smtps:\/\//);
    await emailSender(config(implicit.smtpUrl), trustCa).send(notification());
    const [m] = await implicit.waitForMessages(1);
    assert.equal(
      m!.Subject,
      '[Timebox] Requested: alice asks for ClusterRole edit in namespaces payments for 1h (payments/alice-debug)',
    );
  });
});
