import { bufferFromFileOrString, KubeConfig, type RequestContext } from '@kubernetes/client-node';
import { Agent, type Dispatcher } from 'undici';

/**
 * A KubeConfig whose requests share one connection pool. client-node 2.0 builds a
 * new undici Agent for every request, so each API call pays a fresh TCP and TLS
 * handshake; an operator making thousands of calls needs them reused.
 * Clusters reached through a proxy keep client-node's own dispatcher.
 */
export class PooledKubeConfig extends KubeConfig {
  private pool: Dispatcher | undefined;
  private readonly allowH2: boolean;

  constructor(base: KubeConfig, opts: { allowH2?: boolean } = {}) {
    super();
    this.loadFromString(base.exportConfig());
    this.allowH2 = opts.allowH2 ?? true;
  }

  override async applySecurityAuthentication(context: RequestContext): Promise<void> {
    await super.applySecurityAuthentication(context);
    const cluster = this.getCurrentCluster();
    if (!cluster?.server.startsWith('https:') || cluster.proxyUrl) return;
    this.pool ??= this.buildAgent();
    context.setDispatcher(this.wrap(this.pool) as Parameters<RequestContext['setDispatcher']>[0]);
  }

  /** Hook for subclasses that add headers per request. */
  protected wrap(pool: Dispatcher): Dispatcher {
    return pool;
  }

  private buildAgent(): Agent {
    const cluster = this.getCurrentCluster()!;
    const user = this.getCurrentUser();
    return new Agent({
      allowH2: this.allowH2,
      connect: {
        ca: bufferFromFileOrString(cluster.caFile, cluster.caData) ?? undefined,
        cert: bufferFromFileOrString(user?.certFile, user?.certData) ?? undefined,
        key: bufferFromFileOrString(user?.keyFile, user?.keyData) ?? undefined,
        rejectUnauthorized: !cluster.skipTLSVerify,
        ...(cluster.tlsServerName ? { servername: cluster.tlsServerName } : {}),
      },
    });
  }

  async close(): Promise<void> {
    await this.pool?.close();
  }
}
