/**
 * Structured logging with pino: one JSON object per line, or a compact text form
 * on a terminal. Every record has `ts` (ISO 8601 time), `level` (`debug`, `info`,
 * `warn` or `error`) and `msg`, then the logger's fields (`component`,
 * `controller`, `grant`…) and the call's. Errors anywhere in the fields come out
 * as {type, message, stack, cause}; secret-like values never come out at all
 * (serialize.ts, redact.ts).
 */
import { pino, type DestinationStream } from 'pino';
import { scrub } from './redact.ts';
import { serialize } from './serialize.ts';
import { formatText } from './text.ts';

export type Level = 'debug' | 'info' | 'warn' | 'error';
export type Format = 'json' | 'text';
export type Fields = Record<string, unknown>;

export const LEVELS: readonly Level[] = ['debug', 'info', 'warn', 'error'];
export const FORMATS: readonly Format[] = ['json', 'text'];

export interface Logger {
  debug(msg: string, fields?: Fields): void;
  info(msg: string, fields?: Fields): void;
  warn(msg: string, fields?: Fields): void;
  error(msg: string, fields?: Fields): void;
  with(fields: Fields): Logger;
}

export interface LoggerOptions {
  level?: Level;
  /** Text on a terminal (stderr is a TTY), JSON otherwise. */
  format?: Format;
  /** Where each record goes, without its newline; stderr by default. */
  write?: (line: string) => void;
  now?: () => Date;
}

function destination(format: Format, write?: (line: string) => void): DestinationStream {
  const out = write ?? ((line: string) => process.stderr.write(line + '\n'));
  return {
    write: (json: string) => {
      const line = json.endsWith('\n') ? json.slice(0, -1) : json;
      out(format === 'json' ? line : formatText(JSON.parse(line) as Fields));
    },
  };
}

export function createLogger(opts: LoggerOptions = {}, base: Fields = {}): Logger {
  const format = opts.format ?? (process.stderr.isTTY ? 'text' : 'json');
  const now = opts.now ?? (() => new Date());
  const p = pino(
    {
      level: opts.level ?? 'info',
      // No pid or hostname: the pod says which; the fields stay the ones documented.
      base: null,
      timestamp: () => `,"ts":"${now().toISOString()}"`,
      formatters: { level: (label) => ({ level: label }) },
      // serialize() has made every value plain JSON already; pino's own `err`
      // serializer would take a serialised error for a new one.
      serializers: { err: (v: unknown) => v },
    },
    destination(format, opts.write),
  );
  return wrap(p, base);
}

/** Keys of every record, which a field of the same name must not shadow. */
const RESERVED = new Set(['ts', 'level', 'msg']);

function wrap(p: pino.Logger, base: Fields): Logger {
  // The logger's fields and the call's are serialised together on every call (and
  // the call's win), so no path around redaction is left in pino's child bindings.
  const emit = (level: Level, msg: string, fields?: Fields) => {
    if (!p.isLevelEnabled(level)) return;
    const record: Fields = { msg: scrub(msg) };
    for (const [k, v] of Object.entries(serialize({ ...base, ...fields }) as Fields)) {
      record[RESERVED.has(k) ? `field_${k}` : k] = v;
    }
    // The message in the object, not after it: pino writes it first that way, so
    // a line reads `level, ts, msg, fields…` as before.
    p[level](record);
  };
  return {
    debug: (m, f) => emit('debug', m, f),
    info: (m, f) => emit('info', m, f),
    warn: (m, f) => emit('warn', m, f),
    error: (m, f) => emit('error', m, f),
    with: (fields) => wrap(p, { ...base, ...fields }),
  };
}

/**
 * The logging flags' values (`--log-level`, `--log-format`, or their
 * environment variables), checked, with a message saying what to fix.
 */
export function logOptions(
  level = 'info',
  format?: string,
): Pick<LoggerOptions, 'level' | 'format'> {
  if (!(LEVELS as string[]).includes(level)) {
    throw new Error(`--log-level must be debug, info, warn or error, got '${level}'`);
  }
  if (format !== undefined && !(FORMATS as string[]).includes(format)) {
    throw new Error(`--log-format must be json or text, got '${format}'`);
  }
  return { level: level as Level, format: format as Format | undefined };
}
