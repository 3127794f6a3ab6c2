import { ApiException } from '@kubernetes/client-node';

export function httpStatus(err: unknown): number | undefined {
  return err instanceof ApiException ? err.code : undefined;
}

export const isNotFound = (err: unknown): boolean => httpStatus(err) === 404;
export const isConflict = (err: unknown): boolean => httpStatus(err) === 409;

/** The API server's own message from a Status body, for conditions and events. */
export function apiMessage(err: unknown): string {
  if (err instanceof ApiException) {
    const body: unknown = err.body;
    try {
      const parsed = (typeof body === 'string' ? JSON.parse(body) : body) as { message?: string };
      if (parsed?.message) return parsed.message;
    } catch {
      /* not JSON */
    }
    return `HTTP ${err.code}`;
  }
  return err instanceof Error ? err.message : String(err);
}

/**
 * Errors that retrying cannot fix: the request itself is wrong or not allowed.
 * 408, 429 and 5xx are transient, and so is anything that never reached the server.
 */
export function isPermanentApiError(err: unknown): boolean {
  const code = httpStatus(err);
  return code !== undefined && [400, 401, 403, 404, 405, 413, 415, 422].includes(code);
}
