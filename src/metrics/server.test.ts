import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { Registry } from 'prom-client';
import { bindAddress, serveHealth, serveMetrics } from './server.ts';

describe('metrics and health servers', () => {
  it('bind to loopback by default in a sandbox, and to every interface in a cluster', () => {
    assert.deepEqual(bindAddress(undefined, 8080, '--metrics-bind-address', true), {
      host: '127.0.0.1',
      port: 8080,
    });
    assert.deepEqual(bindAddress(undefined, 8081, '--health-probe-bind-address', false), {
      host: '0.0.0.0',
      port: 8081,
    });
    assert.deepEqual(bindAddress(':9090', 8080, '--metrics-bind-address', true), {
      host: '0.0.0.0',
      port: 9090,
    });
    assert.equal(bindAddress('0', 8080, '--metrics-bind-address', true), undefined);
    assert.throws(
      () => bindAddress('8080', 8080, '--metrics-bind-address', true),
      /--metrics-bind-address must be host:port, :port or 0/,
    );
  });

  it('says which port is taken and which flag chooses another', async () => {
    const squatter = createServer();
    await new Promise<void>((r) => squatter.listen(0, '127.0.0.1', r));
    const port = (squatter.address() as { port: number }).port;
    try {
      await assert.rejects(
        serveMetrics(new Registry(), '127.0.0.1', port),
        new RegExp(
          `port ${port} on 127.0.0.1 is taken .*pass --metrics-bind-address with another port`,
        ),
      );
      await assert.rejects(
        serveHealth(() => true, '127.0.0.1', port),
        /pass --health-probe-bind-address with another port/,
      );
    } finally {
      squatter.close();
    }
  });
});
