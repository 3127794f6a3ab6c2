import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { SIGNATURE_HEADER, signWebhook, TIMESTAMP_HEADER } from '../../src/notify/webhook.ts';

export interface ReceivedEvent {
  id: string;
  type: string;
  time: string;
  subject: string;
  data: { summary: string; grant: { name: string }; actor?: { user: string } };
}

/**
 * A webhook receiver as a user would write one: it checks the signature over
 * "<timestamp>.<raw body>" and the timestamp's age before trusting anything, and
 * answers `failWith` (e.g. 503) while a test wants it down.
 */
export async function startReceiver(secret: string) {
  const events: ReceivedEvent[] = [];
  const refused: string[] = [];
  let attempts = 0;
  let failWith: number | undefined;
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      attempts++;
      if (failWith) {
        res.writeHead(failWith).end();
        return;
      }
      const body = Buffer.concat(chunks).toString('utf8');
      const ts = Number(req.headers[TIMESTAMP_HEADER.toLowerCase()]);
      const sig = req.headers[SIGNATURE_HEADER.toLowerCase()];
      if (!Number.isFinite(ts) || Math.abs(Date.now() / 1000 - ts) > 300) {
        refused.push('stale or missing timestamp');
        res.writeHead(401).end();
        return;
      }
      if (sig !== signWebhook(secret, ts, body)) {
        refused.push('bad signature');
        res.writeHead(401).end();
        return;
      }
      events.push(JSON.parse(body) as ReceivedEvent);
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/hook`,
    events,
    refused,
    get attempts() {
      return attempts;
    },
    failWith(status: number | undefined) {
      failWith = status;
    },
    types: (grant: string) =>
      events.filter((e) => e.data.grant.name === grant).map((e) => e.type.split('.').pop()),
    stop: () => new Promise<void>((r) => server.close(() => r())),
  };
}
