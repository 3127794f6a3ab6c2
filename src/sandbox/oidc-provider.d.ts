// oidc-provider ships no types (and there is no @types package for v9). These
// declare only what src/sandbox/oidc.ts uses; widen them when it uses more.
declare module 'oidc-provider' {
  import type { IncomingMessage, ServerResponse } from 'node:http';

  /** The subset of Koa's context the sandbox's middleware touches. */
  export interface KoaContext {
    readonly req: IncomingMessage;
    readonly res: ServerResponse;
    readonly method: string;
    readonly path: string;
    readonly host: string;
    status: number;
    body: unknown;
    type: string;
    set(field: string, value: string): void;
    get(field: string): string;
    redirect(url: string): void;
    readonly oidc?: { readonly client?: { readonly clientId: string } };
  }

  export type Middleware = (ctx: KoaContext, next: () => Promise<void>) => Promise<void>;

  export interface Interaction {
    readonly uid: string;
    readonly prompt: { name: string; reasons: string[]; details: Record<string, unknown> };
    readonly params: Record<string, unknown> & { client_id: string };
    readonly session?: { accountId: string; uid: string };
    readonly grantId?: string;
    readonly returnTo: string;
  }

  export interface Grant {
    readonly accountId: string;
    readonly clientId: string;
    addOIDCScope(scope: string): void;
    save(): Promise<string>;
  }

  export interface Account {
    accountId: string;
    claims(use: string, scope: string): Record<string, unknown> | Promise<Record<string, unknown>>;
  }

  export interface InteractionResult {
    login?: { accountId: string };
    consent?: { grantId: string };
    error?: string;
    error_description?: string;
  }

  export default class Provider {
    constructor(issuer: string, configuration: Record<string, unknown>);
    readonly issuer: string;
    readonly Grant: {
      new (init: { accountId: string; clientId: string }): Grant;
      find(id: string): Promise<Grant | undefined>;
    };
    callback(): (req: IncomingMessage, res: ServerResponse) => Promise<void>;
    use(fn: Middleware): this;
    on(event: string, listener: (...args: unknown[]) => void): this;
    interactionDetails(req: IncomingMessage, res: ServerResponse): Promise<Interaction>;
    interactionResult(
      req: IncomingMessage,
      res: ServerResponse,
      result: InteractionResult,
      opts?: { mergeWithLastSubmission?: boolean },
    ): Promise<string>;
  }
}
