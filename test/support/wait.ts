import { setTimeout as sleep } from 'node:timers/promises';

/** Polls `check` until it returns a value other than undefined/false, or fails with the last error. */
export async function eventually<T>(
  check: () => Promise<T | undefined | false>,
  opts: { timeoutMs?: number; intervalMs?: number; what?: string | (() => string) } = {},
): Promise<T> {
  const deadline = Date.now() + (opts.timeoutMs ?? 10_000);
  let lastErr: unknown;
  while (Date.now() < deadline) {
    try {
      const v = await check();
      if (v !== undefined && v !== false) return v;
    } catch (err) {
      lastErr = err;
    }
    await sleep(opts.intervalMs ?? 50);
  }
  const detail = lastErr instanceof Error ? `: ${lastErr.message}` : '';
  const what = typeof opts.what === 'function' ? opts.what() : (opts.what ?? 'condition');
  throw new Error(`timed out waiting for ${what}${detail}`);
}
