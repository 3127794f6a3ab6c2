import { createServer, request } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface InjectedResponse {
  status: number;
  body: string;
  contentType?: string;
}

/** The error AWS's query APIs (IAM) answer when a caller is rate-limited. */
export const AWS_THROTTLING: InjectedResponse = {
  status: 400,
  contentType: 'text/xml',
  body: '<ErrorResponse xmlns="https://iam.amazonaws.com/doc/2010-05-08/"><Error><Type>Sender</Type><Code>Throttling</Code><Message>Rate exceeded</Message></Error><RequestId>fault-proxy</RequestId></ErrorResponse>',
};

/** A 503 from AWS. */
export const AWS_UNAVAILABLE: InjectedResponse = {
  status: 503,
  contentType: 'text/xml',
  body: '<ErrorResponse xmlns="https://iam.amazonaws.com/doc/2010-05-08/"><Error><Type>Receiver</Type><Code>ServiceUnavailable</Code><Message>Service is unavailable</Message></Error><RequestId>fault-proxy</RequestId></ErrorResponse>',
};

/**
 * An HTTP proxy before an emulator that answers chosen requests with an error
 * instead of forwarding them: throttling and 5xx as the real service sends them.
 */
export async function startFaultProxy(target: string): Promise<{
  endpoint: string;
  failNext(times: number, response: InjectedResponse): void;
  stats: { forwarded: number; injected: number };
  stop(): Promise<void>;
}> {
  const to = new URL(target);
  const queue: InjectedResponse[] = [];
  const stats = { forwarded: 0, injected: 0 };
  const server = createServer((req, res) => {
    const fault = queue.shift();
    if (fault) {
      stats.injected++;
      req.resume();
      res.writeHead(fault.status, { 'content-type': fault.contentType ?? 'text/plain' });
      res.end(fault.body);
      return;
    }
    stats.forwarded++;
    const up = request(
      {
        host: to.hostname,
        port: to.port,
        method: req.method,
        path: req.url,
        headers: { ...req.headers, host: to.host },
      },
      (upRes) => {
        res.writeHead(upRes.statusCode ?? 502, upRes.headers);
        upRes.pipe(res);
      },
    );
    up.on('error', (err) => {
      res.writeHead(502, { 'content-type': 'text/plain' });
      res.end(String(err));
    });
    req.pipe(up);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    failNext(times, response) {
      for (let i = 0; i < times; i++) queue.push(response);
    },
    stats,
    async stop() {
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}
