/**
 * Structured logging: one JSON object per line (as controller-runtime's zap
 * production config), or a compact text form when writing to a terminal.
 */
export type Level = 'debug' | 'info' | 'warn' | 'error';
export type Fields = Record<string, unknown>;

const ORDER: Record<Level, number> = { debug: 0, info: 1, warn: 2, error: 3 };

export interface Logger {
  debug(msg: string, fields?: Fields): void;
  info(msg: string, fields?: Fields): void;
  warn(msg: string, fields?: Fields): void;
  error(msg: string, fields?: Fields): void;
  with(fields: Fields): Logger;
}

export interface LoggerOptions {
  level?: Level;
  format?: 'json' | 'text';
  write?: (line: string) => void;
  now?: () => Date;
}

function serialise(v: unknown): unknown {
  if (v instanceof Error) return v.message;
  return v;
}

export function createLogger(opts: LoggerOptions = {}, base: Fields = {}): Logger {
  const min = ORDER[opts.level ?? 'info'];
  const format = opts.format ?? (process.stderr.isTTY ? 'text' : 'json');
  const write = opts.write ?? ((line: string) => process.stderr.write(line + '\n'));
  const now = opts.now ?? (() => new Date());
  const emit = (level: Level, msg: string, fields: Fields = {}): void => {
    if (ORDER[level] < min) return;
    const all: Fields = { ...base, ...fields };
    if (format === 'json') {
      const rec: Fields = { ts: now().toISOString(), level, msg };
      for (const [k, v] of Object.entries(all)) rec[k] = serialise(v);
      write(JSON.stringify(rec));
    } else {
      const kv = Object.entries(all)
        .map(([k, v]) => `${k}=${JSON.stringify(serialise(v))}`)
        .join(' ');
      write(`${now().toISOString()} ${level.toUpperCase().padEnd(5)} ${msg}${kv ? ' ' + kv : ''}`);
    }
  };
  return {
    debug: (m, f) => emit('debug', m, f),
    info: (m, f) => emit('info', m, f),
    warn: (m, f) => emit('warn', m, f),
    error: (m, f) => emit('error', m, f),
    with: (fields) => createLogger(opts, { ...base, ...fields }),
  };
}
