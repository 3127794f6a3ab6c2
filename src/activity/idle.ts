/** Whether a grant has gone unused for its policy's idleTimeout. */
export type IdleVerdict =
  | { idle: true; message: string }
  | {
      idle: false;
      /** When to look again (the moment it would become idle, or a recheck while blind). */
      recheckAfterMs?: number;
    };

/** How often an idle check is repeated while the audit intake is not known to work. */
export const BLIND_RECHECK_MS = 60_000;

/**
 * Pure: is the grant idle? Idleness is measured only over time the audit intake
 * was seen working (`watchedSinceMs`: the start of the current unbroken run of
 * audit events received): a grant is idle when neither its activation nor its
 * last use, nor the moment the intake started to see, is within `timeoutMs`. An
 * intake that is down, or was down a moment ago, so never revokes anyone as idle:
 * their requests may simply not have reached Timebox.
 */
export function idleVerdict(a: {
  timeoutMs: number;
  timeout: string;
  activatedAtMs: number;
  lastUsedMs: number | undefined;
  /** undefined while the intake is not receiving. */
  watchedSinceMs: number | undefined;
  nowMs: number;
}): IdleVerdict {
  if (a.watchedSinceMs === undefined) return { idle: false, recheckAfterMs: BLIND_RECHECK_MS };
  const usedAt = Math.max(a.activatedAtMs, a.lastUsedMs ?? 0);
  const from = Math.max(usedAt, a.watchedSinceMs);
  const left = from + a.timeoutMs - a.nowMs;
  if (left > 0) return { idle: false, recheckAfterMs: left };
  const since =
    a.lastUsedMs !== undefined && a.lastUsedMs >= a.activatedAtMs
      ? `last used at ${new Date(a.lastUsedMs).toISOString()}`
      : 'not used since activation';
  return {
    idle: true,
    message: `access revoked: idle for ${a.timeout} (the policy's idleTimeout), ${since}`,
  };
}
