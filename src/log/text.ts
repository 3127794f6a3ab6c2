/**
 * The terminal's form of a log record: one line of time, level, message and
 * `key=value` fields; an error's stack follows, indented, so that the line
 * stays readable and the frames are still there to click.
 */

import type { LoggedError } from './serialize.ts';

function isLoggedError(v: unknown): v is LoggedError {
  const e = v as Partial<LoggedError> | null;
  return (
    typeof e === 'object' &&
    e !== null &&
    typeof e.type === 'string' &&
    typeof e.message === 'string' &&
    typeof e.stack === 'string'
  );
}

/** `Type: message`, then each cause's, the way people read a chain. */
function summary(e: LoggedError): string {
  let text = `${e.type}: ${e.message}`;
  if (e.code !== undefined) text += ` (${e.code}${e.reason ? ' ' + e.reason : ''})`;
  if (isLoggedError(e.cause)) text += `; cause: ${summary(e.cause)}`;
  else if (e.cause !== undefined) text += `; cause: ${JSON.stringify(e.cause)}`;
  return text;
}

function stacks(e: LoggedError): string[] {
  const own = (e.stack ?? '')
    .split('\n')
    .filter((l) => /^\s+at /.test(l))
    .map((l) => '    ' + l.trim());
  return isLoggedError(e.cause)
    ? [...own, `  caused by ${e.cause.type}: ${e.cause.message}`, ...stacks(e.cause)]
    : own;
}

/** A record as pino wrote it (already serialised and redacted) in text form. */
export function formatText(record: Record<string, unknown>): string {
  const { ts, level, msg, ...fields } = record;
  const kv: string[] = [];
  const trace: string[] = [];
  for (const [k, v] of Object.entries(fields)) {
    if (isLoggedError(v)) {
      kv.push(`${k}=${JSON.stringify(summary(v))}`);
      trace.push(...stacks(v));
    } else {
      kv.push(`${k}=${JSON.stringify(v)}`);
    }
  }
  const head = `${String(ts)} ${String(level).toUpperCase().padEnd(5)} ${String(msg)}`;
  return [kv.length ? `${head} ${kv.join(' ')}` : head, ...trace].join('\n');
}
