/**
 * Durations as users write them: hours, minutes and seconds in that order
 * (`90m`, `2h`, `1h30m`, `45s`). This is the subset of Go's time.ParseDuration that
 * CEL's duration() also accepts, so admission and the controller agree.
 */
export const DURATION_PATTERN = '^([0-9]+h)?([0-9]+m)?([0-9]+s)?$';
const RE = new RegExp(DURATION_PATTERN);

export const MIN_DURATION = '1s';
export const MAX_DURATION = '168h';

export class DurationError extends Error {}

export function parseDuration(text: string): number {
  const m = RE.exec(text);
  if (!text || !m) {
    throw new DurationError(
      `invalid duration '${text}': use hours, minutes and seconds, e.g. 90m, 2h or 1h30m`,
    );
  }
  const [h, min, s] = [m[1], m[2], m[3]].map((part) => (part ? parseInt(part, 10) : 0));
  return ((h! * 60 + min!) * 60 + s!) * 1000;
}

/** Formats milliseconds the way parseDuration reads them (whole seconds). */
export function formatDuration(ms: number): string {
  let s = Math.round(ms / 1000);
  const h = Math.floor(s / 3600);
  s -= h * 3600;
  const m = Math.floor(s / 60);
  s -= m * 60;
  const out = `${h ? `${h}h` : ''}${m ? `${m}m` : ''}${s ? `${s}s` : ''}`;
  return out || '0s';
}
