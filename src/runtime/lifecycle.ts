import type { Logger } from '../log/logger.ts';

interface Stoppable {
  name: string;
  stop: () => Promise<unknown> | unknown;
}

/**
 * The order things stop in (controller-runtime's Manager, reduced to what an
 * operator needs): each part is registered as it starts, and stop() stops them
 * in the reverse order, so nothing stops while something started after it still
 * uses it (the workers drain before the informers they read from stop, and the
 * informers before the connection pool closes). A part that fails to stop is
 * logged and the others still stop. Also what a failed start unwinds.
 */
export class Lifecycle {
  private readonly parts: Stoppable[] = [];
  private stopping: Promise<void> | undefined;
  private readonly log: Logger | undefined;

  constructor(log?: Logger) {
    this.log = log;
  }

  /** Registers a part that has started, with how to stop it. */
  add(name: string, stop: () => Promise<unknown> | unknown): void {
    if (this.stopping) {
      // Started while stopping: stop it at once rather than leave it running.
      void Promise.resolve()
        .then(stop)
        .catch((err: unknown) => this.log?.error('stop failed', { part: name, err }));
      return;
    }
    this.parts.push({ name, stop });
  }

  /** The registered parts, in the order they will stop. */
  get stopOrder(): string[] {
    return [...this.parts].reverse().map((p) => p.name);
  }

  /** Stops every part, last started first; idempotent. Resolves when all have stopped. */
  stop(): Promise<void> {
    this.stopping ??= (async () => {
      for (const part of [...this.parts].reverse()) {
        try {
          await part.stop();
        } catch (err) {
          this.log?.error('stop failed', { part: part.name, err });
        }
      }
    })();
    return this.stopping;
  }
}
