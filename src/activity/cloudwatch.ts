import type { Logger } from '../log/logger.ts';
import type { Clock, Timer } from '../runtime/clock.ts';
import { auditEventsOf, type AuditEvent } from './audit-event.ts';
import type { AuditSource } from './source.ts';

/** The streams EKS writes the API server's audit events to, in `/aws/eks/<cluster>/cluster`. */
export const AUDIT_STREAM_PREFIX = 'kube-apiserver-audit';

/** One log event as CloudWatch Logs' FilterLogEvents returns it. */
export interface LogEvent {
  eventId: string;
  timestamp: number;
  logStreamName: string;
  message: string;
}

/** The one call the source makes: FilterLogEvents, one page. */
export interface LogEventsPort {
  filter(req: {
    logGroupName: string;
    logStreamNamePrefix: string;
    startTime: number;
    nextToken?: string;
    limit?: number;
  }): Promise<{ events: LogEvent[]; nextToken?: string }>;
}

/**
 * Events reach CloudWatch Logs some seconds after their timestamp, not always in
 * order: each poll asks again from this long before the newest timestamp seen,
 * and the event IDs seen in that window are not handed on twice.
 */
export const OVERLAP_MS = 2 * 60_000;
const DEFAULT_POLL_MS = 10_000;
/** Backoff after a failed poll (throttling, an outage), doubling up to this. */
const MAX_BACKOFF_MS = 5 * 60_000;

/**
 * Follows a managed control plane's audit log in CloudWatch Logs (EKS: log group
 * `/aws/eks/<cluster>/cluster`, streams `kube-apiserver-audit-*`, one JSON audit
 * event per log event), by polling FilterLogEvents. Like `tail -F`: events
 * stamped before the first start are taken as read; after a stop, a start goes on
 * from where it left off. Only streams named with the audit prefix are read:
 * another stream of the group never counts.
 */
export class CloudWatchAuditSource implements AuditSource {
  readonly name = 'cloudwatch-logs';
  private readonly o: {
    logGroup: string;
    port: LogEventsPort;
    clock: Clock;
    log: Logger;
    pollMs?: number;
    /** Events per page (FilterLogEvents' `limit`; its default otherwise). */
    pageLimit?: number;
    /** Read the events already there too (tests, a first run over a recorded log). */
    fromStart?: boolean;
  };
  /** Events stamped before this are not handed on: they predate the first start. */
  private notBeforeMs: number | undefined;
  /** The newest timestamp handed on. */
  private newestMs = 0;
  /** IDs handed on, with their timestamps, pruned to the overlap window. */
  private seen = new Map<string, number>();
  private timer: Timer | undefined;
  private stopped = true;
  private failures = 0;
  private sink: ((events: AuditEvent[]) => void) | undefined;
  /** Log events read that held no audit event (foreign or torn lines); exposed for tests and logs. */
  malformed = 0;

  constructor(o: CloudWatchAuditSource['o']) {
    this.o = o;
  }

  start(sink: (events: AuditEvent[]) => void): Promise<void> {
    this.sink = sink;
    this.stopped = false;
    if (this.notBeforeMs === undefined) {
      this.notBeforeMs = this.o.fromStart ? 0 : this.o.clock.now().getTime();
      this.newestMs = this.notBeforeMs;
    }
    this.schedule(0);
    return Promise.resolve();
  }

  stop(): Promise<void> {
    this.stopped = true;
    this.timer?.cancel();
    return Promise.resolve();
  }

  /** The delay before the next poll: the interval, or a backoff after failures. */
  nextDelayMs(): number {
    const pollMs = this.o.pollMs ?? DEFAULT_POLL_MS;
    if (!this.failures) return pollMs;
    return Math.min(MAX_BACKOFF_MS, pollMs * 2 ** Math.min(this.failures, 16));
  }

  private schedule(ms: number): void {
    if (this.stopped) return;
    this.timer = this.o.clock.after(ms, () => {
      void this.poll()
        .then(
          () => (this.failures = 0),
          (err: unknown) => {
            this.failures++;
            this.o.log.warn('reading the audit log from CloudWatch Logs failed; retrying', {
              logGroup: this.o.logGroup,
              err,
              retryInMs: this.nextDelayMs(),
            });
          },
        )
        .finally(() => this.schedule(this.nextDelayMs()));
    });
  }

  /** Reads every page of what is new since the last poll; exposed for tests. Returns how many events were handed on. */
  async poll(): Promise<number> {
    const startTime = Math.max(this.notBeforeMs ?? 0, this.newestMs - OVERLAP_MS, 0);
    let nextToken: string | undefined;
    let n = 0;
    let malformed = 0;
    do {
      // Stopped (leadership lost): another replica reads on.
      if (this.stopped) break;
      const page = await this.o.port.filter({
        logGroupName: this.o.logGroup,
        logStreamNamePrefix: AUDIT_STREAM_PREFIX,
        startTime,
        ...(nextToken ? { nextToken } : {}),
        ...(this.o.pageLimit ? { limit: this.o.pageLimit } : {}),
      });
      const events: AuditEvent[] = [];
      for (const e of page.events) {
        // The prefix is the service's filter; checked again here, so that no
        // other stream of the group can ever count.
        if (!e.logStreamName.startsWith(AUDIT_STREAM_PREFIX)) continue;
        if (e.timestamp < (this.notBeforeMs ?? 0) || this.seen.has(e.eventId)) continue;
        this.seen.set(e.eventId, e.timestamp);
        if (e.timestamp > this.newestMs) this.newestMs = e.timestamp;
        const parsed = parse(e.message);
        if (parsed.length) events.push(...parsed);
        else malformed++;
      }
      n += events.length;
      if (events.length) this.sink?.(events);
      nextToken = page.nextToken;
    } while (nextToken);
    this.prune();
    if (malformed) {
      this.malformed += malformed;
      this.o.log.warn('skipped log events that are not audit events', {
        logGroup: this.o.logGroup,
        count: malformed,
      });
    }
    return n;
  }

  /** Forgets the IDs that the next poll's window no longer reaches. */
  private prune(): void {
    const horizon = this.newestMs - OVERLAP_MS;
    for (const [id, ts] of this.seen) if (ts < horizon) this.seen.delete(id);
  }
}

function parse(message: string): AuditEvent[] {
  try {
    return auditEventsOf(JSON.parse(message));
  } catch {
    return []; // a torn or foreign line
  }
}
