import type { AuditEvent } from './audit-event.ts';

/** The longest one slice of processing holds the event loop. */
const SLICE_MS = 5;

/**
 * received, then attributed, unattributed or dropped (the intake was full); lost
 * counts batches or lines that never reached the intake (too large).
 */
export type IntakeResult = 'received' | 'attributed' | 'unattributed' | 'dropped' | 'lost';

/** Where the intake counts what it did (timebox_audit_events_total in production). */
export interface IntakeCounters {
  inc(result: IntakeResult, n: number): void;
}

export interface IntakeOptions {
  /** Events held waiting at most; beyond it, new ones are dropped and counted. */
  capacity: number;
  /** Events processed per turn of the event loop before yielding to other work. */
  batch?: number;
  /** Attributes one event; returns whether it counted for any grant. */
  process(e: AuditEvent): boolean;
  counters: IntakeCounters;
  /** Runs `fn` on a later turn of the event loop (setImmediate; tests run it by hand). */
  defer?: (fn: () => void) => void;
}

/**
 * A bounded queue between audit sources and attribution. `offer` never waits and
 * never grows memory past `capacity` events: under a flood the excess is dropped
 * and counted (result="dropped"), and the API server's batch backend, which does
 * not wait on us either, carries on. Processing runs in slices of `batch` events,
 * yielding between them, so a flood never holds up granting or revocation on the
 * same event loop.
 */
export class AuditIntake {
  private readonly o: Required<Omit<IntakeOptions, 'defer'>> & {
    defer: (fn: () => void) => void;
  };
  private queue: AuditEvent[] = [];
  private head = 0;
  private scheduled = false;
  /** When an event last arrived (Unix ms), whether it could be kept or not. */
  lastReceivedMs: number | undefined;

  constructor(opts: IntakeOptions) {
    this.o = {
      batch: 500,
      defer: (fn) => void setImmediate(fn),
      ...opts,
    };
  }

  get depth(): number {
    return this.queue.length - this.head;
  }

  /** Takes what fits; returns how many were dropped. */
  offer(events: readonly AuditEvent[], nowMs: number): number {
    if (events.length === 0) return 0;
    this.lastReceivedMs = nowMs;
    this.o.counters.inc('received', events.length);
    const room = Math.max(0, this.o.capacity - this.depth);
    const kept = Math.min(room, events.length);
    for (let i = 0; i < kept; i++) this.queue.push(events[i]!);
    const dropped = events.length - kept;
    if (dropped > 0) this.o.counters.inc('dropped', dropped);
    if (kept > 0) this.schedule();
    return dropped;
  }

  private schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    this.o.defer(() => this.drain());
  }

  /** Processes one slice; schedules the next if more wait. */
  drain(): void {
    this.scheduled = false;
    const end = Math.min(this.queue.length, this.head + this.o.batch);
    // A slice also ends after SLICE_MS, so slow events cannot hold the loop either.
    const deadline = performance.now() + SLICE_MS;
    let attributed = 0;
    let unattributed = 0;
    for (; this.head < end; this.head++) {
      if ((this.head & 63) === 0 && performance.now() > deadline) break;
      const e = this.queue[this.head]!;
      let counted = false;
      try {
        counted = this.o.process(e);
      } catch {
        // A malformed event is one unattributed event, never a stuck queue.
      }
      if (counted) attributed++;
      else unattributed++;
    }
    if (attributed) this.o.counters.inc('attributed', attributed);
    if (unattributed) this.o.counters.inc('unattributed', unattributed);
    // Compact now and then, so the array does not keep processed events alive.
    if (this.head === this.queue.length) {
      this.queue = [];
      this.head = 0;
    } else if (this.head > 4096) {
      this.queue = this.queue.slice(this.head);
      this.head = 0;
    }
    if (this.depth > 0) this.schedule();
  }
}
