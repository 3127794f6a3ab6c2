import { open, stat, type FileHandle } from 'node:fs/promises';
import type { Logger } from '../log/logger.ts';
import type { Clock, Timer } from '../runtime/clock.ts';
import { auditEventsOf, type AuditEvent } from './audit-event.ts';
import type { AuditSource } from './source.ts';

/**
 * The longest line kept. An event carries the request URL twice (requestURI,
 * objectRef.name), which anyone can make ~1 MiB long; a longer line is skipped
 * and reported lost.
 */
export const MAX_LINE = 4 * 1024 * 1024;
const CHUNK = 256 * 1024;

/**
 * Follows an API server's JSON audit log (--audit-log-path, --audit-log-format=json),
 * like `tail -F`: from its end at start, then every new line. When the file is
 * rotated (a new inode, or it shrank), it finishes nothing of the old one and
 * starts the new one from its beginning.
 */
export class AuditLogFile implements AuditSource {
  readonly name = 'log-file';
  private readonly o: {
    path: string;
    clock: Clock;
    log: Logger;
    pollMs?: number;
    fromStart?: boolean;
    /** A line too long to take was skipped: its event is lost. */
    onLost?: () => void;
  };
  private fh: FileHandle | undefined;
  private ino: number | undefined;
  private pos = 0;
  private partial = '';
  private skipping = false;
  private timer: Timer | undefined;
  private stopped = false;
  private sink: ((events: AuditEvent[]) => void) | undefined;

  constructor(o: AuditLogFile['o']) {
    this.o = o;
  }

  async start(sink: (events: AuditEvent[]) => void): Promise<void> {
    this.sink = sink;
    await this.reopen(!this.o.fromStart);
    this.schedule();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.timer?.cancel();
    await this.fh?.close();
    this.fh = undefined;
  }

  private schedule(): void {
    if (this.stopped) return;
    this.timer = this.o.clock.after(this.o.pollMs ?? 500, () => {
      void this.poll()
        .catch((err: unknown) => this.o.log.warn('reading the audit log failed; retrying', { err }))
        .finally(() => this.schedule());
    });
  }

  private async reopen(atEnd: boolean): Promise<void> {
    await this.fh?.close();
    this.fh = undefined;
    try {
      this.fh = await open(this.o.path, 'r');
    } catch {
      return; // not there yet: the next poll looks again
    }
    const st = await this.fh.stat();
    this.ino = st.ino;
    this.pos = atEnd ? st.size : 0;
    this.partial = '';
    this.skipping = false;
  }

  /** Reads what was appended since the last poll; exposed for tests. */
  async poll(): Promise<void> {
    const st = await stat(this.o.path).catch(() => undefined);
    if (!this.fh || (st && (st.ino !== this.ino || st.size < this.pos))) {
      if (!st) return;
      await this.reopen(false);
      if (!this.fh) return;
    }
    const buf = Buffer.alloc(CHUNK);
    for (;;) {
      const { bytesRead } = await this.fh!.read(buf, 0, CHUNK, this.pos);
      if (bytesRead === 0) return;
      this.pos += bytesRead;
      this.lines(buf.subarray(0, bytesRead).toString('utf8'));
    }
  }

  private lines(text: string): void {
    const parts = (this.partial + text).split('\n');
    this.partial = parts.pop() ?? '';
    if (this.partial.length > MAX_LINE) {
      if (!this.skipping) {
        this.o.onLost?.();
        this.o.log.warn('an audit log line too long was skipped; its event is lost', {
          limitBytes: MAX_LINE,
        });
      }
      this.partial = '';
      this.skipping = true;
    }
    const events: AuditEvent[] = [];
    for (const line of parts) {
      if (this.skipping) {
        this.skipping = false;
        continue;
      }
      if (!line.trim()) continue;
      try {
        events.push(...auditEventsOf(JSON.parse(line)));
      } catch {
        // A torn or foreign line: skipped.
      }
    }
    if (events.length) this.sink?.(events);
  }
}
