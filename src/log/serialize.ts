import { isSecretKey, REDACTED, scrub } from './redact.ts';

/**
 * Turns what a caller logs into plain JSON values before it is written: Errors
 * into {type, message, stack, cause}, secrets redacted at any depth, and bounds
 * on depth and size so that logging a large object by mistake costs a line, not
 * the process.
 */

/** Nesting kept; deeper values are replaced by a marker. */
const MAX_DEPTH = 8;
/** Array items and object keys kept at each level. */
const MAX_ITEMS = 100;

/** A serialised Error. */
export interface LoggedError {
  type: string;
  message: string;
  stack?: string;
  /** An HTTP status from a Kubernetes API call, or a Node.js error code. */
  code?: string | number;
  /** The Kubernetes Status reason (NotFound, Forbidden, Conflict…). */
  reason?: string;
  cause?: unknown;
  errors?: unknown[];
  [k: string]: unknown;
}

export function serialize(value: unknown): unknown {
  return walk(value, 0, []);
}

function walk(value: unknown, depth: number, ancestors: object[]): unknown {
  try {
    return walkUnsafe(value, depth, ancestors);
  } catch {
    // A Proxy, or a toJSON or iterator that throws: logging must not fail the caller.
    return '[Unserializable]';
  }
}

function walkUnsafe(value: unknown, depth: number, ancestors: object[]): unknown {
  switch (typeof value) {
    case 'string':
      return scrub(value);
    case 'number':
    case 'boolean':
    case 'undefined':
      return value;
    case 'bigint':
      return value.toString();
    case 'symbol':
      return value.toString();
    case 'function':
      return `[Function ${value.name || 'anonymous'}]`;
  }
  if (value === null) return null;
  const obj = value as object;
  if (ancestors.includes(obj)) return '[Circular]';
  if (depth >= MAX_DEPTH) return '[Too deep]';
  const inner = [...ancestors, obj];
  if (obj instanceof Error) return error(obj, depth, inner);
  if (obj instanceof Date) return Number.isNaN(obj.getTime()) ? 'Invalid Date' : obj.toISOString();
  if (ArrayBuffer.isView(obj) || obj instanceof ArrayBuffer) {
    return `[${obj.byteLength} bytes]`;
  }
  if (Array.isArray(obj) || obj instanceof Set) {
    const items = [...(obj as Iterable<unknown>)];
    const out = items.slice(0, MAX_ITEMS).map((v) => walk(v, depth + 1, inner));
    if (items.length > MAX_ITEMS) out.push(`[${items.length - MAX_ITEMS} more]`);
    return out;
  }
  if (obj instanceof Map) return entries([...obj.entries()], depth, inner);
  // URL and the like say what they are in their toJSON; it is walked like the rest.
  const toJSON = (obj as { toJSON?: unknown }).toJSON;
  if (typeof toJSON === 'function') return walk(toJSON.call(obj), depth + 1, inner);
  return entries(ownEntries(obj), depth, inner);
}

function ownEntries(obj: object): [unknown, unknown][] {
  return Object.keys(obj).map((k) => {
    try {
      return [k, (obj as Record<string, unknown>)[k]];
    } catch {
      return [k, '[Unreadable]'];
    }
  });
}

function entries(list: [unknown, unknown][], depth: number, ancestors: object[]): unknown {
  const out: Record<string, unknown> = {};
  // A Kubernetes EnvVar or a header list: {name: 'AWS_SECRET_ACCESS_KEY', value: '…'}.
  const named = list.find(([k]) => k === 'name')?.[1];
  const secretPair = typeof named === 'string' && isSecretKey(named);
  for (const [k, v] of list.slice(0, MAX_ITEMS)) {
    // A Map's keys are data too (a token mapped to its user, say).
    const key = scrub(String(k));
    out[key] =
      isSecretKey(key) || (secretPair && key === 'value')
        ? REDACTED
        : walk(v, depth + 1, ancestors);
  }
  if (list.length > MAX_ITEMS) out['…'] = `[${list.length - MAX_ITEMS} more keys]`;
  return out;
}

/**
 * A Kubernetes client error (@kubernetes/client-node's ApiException), by shape:
 * its message holds the whole response body and headers, which say nothing the
 * Status's own message does not, and may say much that is not for a log.
 */
interface ApiExceptionLike extends Error {
  code: number;
  body: unknown;
  headers: unknown;
}

function isApiException(e: Error): e is ApiExceptionLike {
  return (
    typeof (e as Partial<ApiExceptionLike>).code === 'number' &&
    'body' in e &&
    'headers' in e &&
    e.message.startsWith('HTTP-Code: ')
  );
}

/** The Status an API server answered with, from a body that is JSON text or already parsed. */
function status(body: unknown): { message?: string; reason?: string } {
  try {
    const parsed: unknown = typeof body === 'string' ? JSON.parse(body) : body;
    if (parsed && typeof parsed === 'object')
      return parsed as { message?: string; reason?: string };
  } catch {
    /* not JSON: an HTML error page from a proxy, say */
  }
  return {};
}

/** The stack's frames without its first lines, which repeat the message. */
function frames(stack: string | undefined): string {
  return (stack ?? '')
    .split('\n')
    .filter((l) => /^\s+at /.test(l))
    .join('\n');
}

function readable<T>(read: () => T): T | string {
  try {
    return read();
  } catch {
    return '[Unreadable]';
  }
}

function error(e: Error, depth: number, ancestors: object[]): LoggedError {
  const type = e.constructor?.name && e.constructor.name !== 'Object' ? e.constructor.name : e.name;
  const out: LoggedError = { type, message: '' };
  if (isApiException(e)) {
    const s = status(e.body);
    out.message = scrub(typeof s.message === 'string' && s.message ? s.message : `HTTP ${e.code}`);
    out.code = e.code;
    if (typeof s.reason === 'string') out.reason = s.reason;
    const at = frames(e.stack);
    out.stack = `${type}: ${out.message}${at ? '\n' + at : ''}`;
  } else {
    out.message = scrub(readable(() => String(e.message)));
    const stack = readable(() => e.stack);
    if (typeof stack === 'string') out.stack = scrub(stack);
    // What Node.js and SDKs add (code, errno, syscall, address, statusCode…): scalars
    // only, since their objects (a request's config, a response) carry headers.
    for (const [k, v] of ownEntries(e)) {
      const key = String(k);
      if (key in out || key === 'cause' || key === 'errors') continue;
      if (['string', 'number', 'boolean'].includes(typeof v)) {
        out[key] = isSecretKey(key) ? REDACTED : walk(v, depth + 1, ancestors);
      }
    }
  }
  if (e.cause !== undefined) out.cause = walk(e.cause, depth + 1, ancestors);
  if (e instanceof AggregateError && Array.isArray(e.errors)) {
    out.errors = e.errors.slice(0, MAX_ITEMS).map((x) => walk(x, depth + 1, ancestors));
  }
  return out;
}
