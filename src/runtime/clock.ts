/**
 * Time as the controllers see it. Production uses the system clock; unit tests
 * use FakeClock, which only moves when told to (after cert-manager's fakeclock).
 */
export interface Timer {
  cancel(): void;
}

export interface Clock {
  now(): Date;
  /**
   * Runs `fn` once, `ms` milliseconds from now, but no later than MAX_TIMER_MS
   * from now: callers of long waits must re-plan when woken (the work queue does).
   */
  after(ms: number, fn: () => void): Timer;
}

/**
 * The longest a timer waits. setTimeout takes at most 2^31-1 ms (24.8 days) and
 * fires after 1 ms beyond that, which turned a far `startAt` into a reconcile
 * storm; waking every 24 days to re-plan costs nothing.
 */
export const MAX_TIMER_MS = 24 * 24 * 60 * 60 * 1000;

export function timerDelay(ms: number): number {
  return Math.min(Math.max(0, ms), MAX_TIMER_MS);
}

export const systemClock: Clock = {
  now: () => new Date(),
  after(ms, fn) {
    const t = setTimeout(fn, timerDelay(ms));
    t.unref?.();
    return { cancel: () => clearTimeout(t) };
  },
};

interface Pending {
  at: number;
  seq: number;
  fn: () => void;
  cancelled: boolean;
}

export class FakeClock implements Clock {
  private ms: number;
  private seq = 0;
  private timers: Pending[] = [];

  constructor(start: Date | string = '2026-11-25T09:00:00Z') {
    this.ms = new Date(start).getTime();
  }

  now(): Date {
    return new Date(this.ms);
  }

  after(ms: number, fn: () => void): Timer {
    const p: Pending = { at: this.ms + timerDelay(ms), seq: this.seq++, fn, cancelled: false };
    this.timers.push(p);
    return { cancel: () => (p.cancelled = true) };
  }

  /** Moves time forward, firing due timers in order. */
  advance(ms: number): void {
    const target = this.ms + ms;
    for (;;) {
      const due = this.timers
        .filter((t) => !t.cancelled && t.at <= target)
        .sort((a, b) => a.at - b.at || a.seq - b.seq)[0];
      if (!due) break;
      this.timers = this.timers.filter((t) => t !== due);
      this.ms = Math.max(this.ms, due.at);
      due.fn();
    }
    this.ms = target;
  }

  set(to: Date | string): void {
    const target = new Date(to).getTime();
    if (target < this.ms) {
      this.ms = target;
      return;
    }
    this.advance(target - this.ms);
  }

  /** Timers not yet fired or cancelled. */
  get pendingTimers(): number {
    return this.timers.filter((t) => !t.cancelled).length;
  }
}
