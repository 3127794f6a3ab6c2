import type { Logger } from '../log/logger.ts';
import type { Clock } from './clock.ts';

/** One thing to stop, given how long it has; `budgetMs` caps its share of the deadline. */
export interface StopStep {
  name: string;
  budgetMs?: number;
  stop: (withinMs: number) => Promise<unknown> | unknown;
}

/**
 * A step that bounds itself (SIGTERM, then SIGKILL after `withinMs`) still needs
 * a moment to see its process exit; waiting this much longer for it keeps a
 * SIGKILL from being reported as a hang.
 */
export const SETTLE_MS = 500;

/** Resolves true when `work` settles within `ms`, false when the time runs out first. */
export function within(work: Promise<unknown>, ms: number, clock: Clock): Promise<boolean> {
  return new Promise((resolve) => {
    const timer = clock.after(Math.max(0, ms), () => resolve(false));
    void work.then(
      () => {
        timer.cancel();
        resolve(true);
      },
      () => {
        timer.cancel();
        resolve(true);
      },
    );
  });
}

/**
 * Stops the steps one after the other, in the order given, by `deadline` (the
 * clock's milliseconds): a step that fails is logged, and one that hangs (an
 * operator waiting on an API server whose etcd is gone) is given up on when its
 * share runs out, so the steps after it, which end the processes, always run.
 */
export async function stopInSteps(
  steps: StopStep[],
  deadline: number,
  clock: Clock,
  log: Logger,
): Promise<void> {
  for (const step of steps) {
    const left = Math.max(0, deadline - clock.now().getTime());
    const share = Math.min(step.budgetMs ?? left, left);
    const work = Promise.resolve()
      .then(() => step.stop(share))
      .catch((err: unknown) => log.error('stop failed', { part: step.name, err }));
    if (!(await within(work, share + SETTLE_MS, clock))) {
      log.warn(`${step.name} did not stop within ${share} ms; going on without it`);
    }
  }
}

export const TERMINATION_SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;
export type TerminationSignal = (typeof TERMINATION_SIGNALS)[number];

/**
 * Calls `onSignal` on a terminal's Ctrl-C (SIGINT), SIGTERM, or the terminal
 * closing (SIGHUP), whose default action would end this process without its
 * exit hooks, and so without stopping its children.
 */
export function onTerminationSignals(onSignal: (signal: TerminationSignal) => void): void {
  for (const signal of TERMINATION_SIGNALS) process.on(signal, () => onSignal(signal));
}
