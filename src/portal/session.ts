import {
  createCipheriv,
  createDecipheriv,
  createHmac,
  randomBytes,
  timingSafeEqual,
} from 'node:crypto';

/** Who is signed in, as the API server knows them, and the token that proves it. */
export interface Session {
  /** Random per sign-in: the CSRF token is derived from it. */
  sid: string;
  /** The user name the API server gives this person (SelfSubjectReview). */
  user: string;
  groups: string[];
  /** For display only: the token's name claim, or the user name. */
  name: string;
  /** The OpenID Connect ID token, sent to the API server as the bearer token. */
  idToken: string;
  /** When the ID token expires, in milliseconds since the epoch: the session ends then. */
  expiresAtMs: number;
}

/** What a sign-in in progress must remember across the trip to the issuer. */
export interface LoginState {
  state: string;
  nonce: string;
  codeVerifier: string;
  /** Where to go once signed in: a path of the portal, never another site. */
  returnTo: string;
  /** The login state is good for this long only. */
  expiresAtMs: number;
}

/** Browsers keep cookies of at most 4096 bytes, name and attributes included. */
export const MAX_COOKIE_VALUE = 3800;

const VERSION = 'v1';

/**
 * Seals and opens cookie values with AES-256-GCM: the browser holds the session,
 * so any replica (with the same key) serves it and a restart signs nobody out,
 * but the browser can neither read the token nor forge or alter a session (GCM's
 * tag fails). `purpose` is bound in as associated data, so a login-state cookie
 * can never be replayed as a session.
 */
export class CookieSealer {
  private readonly encKey: Buffer;
  private readonly csrfKey: Buffer;

  constructor(secret: Buffer) {
    if (secret.length < 32) {
      throw new Error(
        `the session key has ${secret.length} bytes; it needs at least 32 random bytes (e.g. head -c 32 /dev/urandom | base64)`,
      );
    }
    // Two keys from one secret, so the CSRF tokens reveal nothing about the cipher key.
    this.encKey = createHmac('sha256', secret).update('timebox-portal session cipher').digest();
    this.csrfKey = createHmac('sha256', secret).update('timebox-portal csrf').digest();
  }

  seal(purpose: string, value: unknown): string {
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', this.encKey, iv);
    cipher.setAAD(Buffer.from(`${VERSION}:${purpose}`));
    const body = Buffer.concat([cipher.update(JSON.stringify(value), 'utf8'), cipher.final()]);
    return `${VERSION}.${Buffer.concat([iv, cipher.getAuthTag(), body]).toString('base64url')}`;
  }

  /** The value, or undefined for anything this key did not seal for `purpose`. */
  open<T>(purpose: string, sealed: string | undefined): T | undefined {
    if (!sealed?.startsWith(`${VERSION}.`)) return undefined;
    const raw = Buffer.from(sealed.slice(VERSION.length + 1), 'base64url');
    if (raw.length < 12 + 16 + 1) return undefined;
    try {
      const decipher = createDecipheriv('aes-256-gcm', this.encKey, raw.subarray(0, 12));
      decipher.setAAD(Buffer.from(`${VERSION}:${purpose}`));
      decipher.setAuthTag(raw.subarray(12, 28));
      const text = Buffer.concat([decipher.update(raw.subarray(28)), decipher.final()]);
      return JSON.parse(text.toString('utf8')) as T;
    } catch {
      return undefined;
    }
  }

  /** The CSRF token of a session: forms carry it, and every change must present it. */
  csrfToken(sid: string): string {
    return createHmac('sha256', this.csrfKey).update(sid).digest('base64url');
  }

  csrfValid(sid: string, token: string | undefined): boolean {
    if (!token) return false;
    const want = Buffer.from(this.csrfToken(sid));
    const got = Buffer.from(token);
    return want.length === got.length && timingSafeEqual(want, got);
  }
}

/** Pure: a session still good at `nowMs`, or undefined. */
export function liveSession(s: Session | undefined, nowMs: number): Session | undefined {
  if (!s || typeof s.expiresAtMs !== 'number' || s.expiresAtMs <= nowMs) return undefined;
  return s;
}

/**
 * Pure: a return path that stays on the portal. Browsers drop tabs and newlines
 * from URLs and read `\\` as `/`, so `/\t/evil.example` would become
 * `//evil.example`: anything but a plain path and query is refused.
 */
export function safeReturnTo(path: string | undefined): string {
  const odd = (ch: string) => ch <= ' ' || ch === '\x7f' || ch === '\\';
  if (!path || !path.startsWith('/') || [...path].some(odd)) return '/';
  const base = 'https://portal.invalid';
  let url: URL;
  try {
    url = new URL(path, base);
  } catch {
    return '/';
  }
  // Dot segments can leave a `//` in front once resolved: `/.//evil.example`.
  if (url.origin !== base || url.pathname.startsWith('//')) return '/';
  return `${url.pathname}${url.search}`;
}
