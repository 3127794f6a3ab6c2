import { createServer, type Server } from 'node:http';
import type { Registry } from 'prom-client';

/** `host:port`, `:port` (all interfaces) or `0` (disabled), as controller-runtime's flags. */
export function parseBindAddress(
  addr: string,
  flag: string,
): { host: string; port: number } | undefined {
  if (addr === '0') return undefined;
  const m = /^(.*):(\d+)$/.exec(addr);
  if (!m) throw new Error(`${flag} must be host:port, :port or 0 (disabled), got '${addr}'`);
  const port = Number(m[2]);
  if (port > 65535) throw new Error(`${flag}: port ${port} is out of range`);
  return { host: m[1] || '0.0.0.0', port };
}

/**
 * Where to serve one endpoint: the flag if given, else its default port, on every
 * interface in a cluster (the kubelet probes the pod's IP) but on loopback only in a
 * sandbox, where nothing else needs it and a laptop should not offer it to the
 * network.
 */
export function bindAddress(
  given: string | undefined,
  defaultPort: number,
  flag: string,
  sandbox: boolean,
): { host: string; port: number } | undefined {
  if (given !== undefined) return parseBindAddress(given, flag);
  return { host: sandbox ? '127.0.0.1' : '0.0.0.0', port: defaultPort };
}

async function listen(server: Server, host: string, port: number, flag: string): Promise<Server> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) =>
      reject(
        err.code === 'EADDRINUSE'
          ? new Error(
              `port ${port} on ${host} is taken (another Timebox, or another program): stop it, or pass ${flag} with another port (host:port, :port, or 0 to turn it off)`,
              { cause: err },
            )
          : err,
      ),
    );
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  return server;
}

/** Serves /metrics. */
export function serveMetrics(
  registry: Registry,
  host: string,
  port: number,
  flag = '--metrics-bind-address',
): Promise<Server> {
  const server = createServer((req, res) => {
    if (req.url?.split('?')[0] !== '/metrics') {
      res.writeHead(404).end('not found\n');
      return;
    }
    registry.metrics().then(
      (body) => res.writeHead(200, { 'Content-Type': registry.contentType }).end(body),
      (err: unknown) => res.writeHead(500).end(`${String(err)}\n`),
    );
  });
  return listen(server, host, port, flag);
}

/**
 * /healthz: the process serves requests. /readyz: its caches are synced, so it
 * could lead at once (a standby replica is ready too).
 */
export function serveHealth(
  ready: () => boolean,
  host: string,
  port: number,
  flag = '--health-probe-bind-address',
): Promise<Server> {
  const server = createServer((req, res) => {
    const path = req.url?.split('?')[0];
    if (path === '/healthz') {
      res.writeHead(200).end('ok\n');
    } else if (path === '/readyz') {
      if (ready()) res.writeHead(200).end('ok\n');
      else res.writeHead(503).end('caches not synced\n');
    } else {
      res.writeHead(404).end('not found\n');
    }
  });
  return listen(server, host, port, flag);
}
