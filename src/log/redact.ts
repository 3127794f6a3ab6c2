/**
 * What a log line must never carry: the values of secret-like keys, and secrets
 * that travel inside text (an error message quoting a request's headers, a URL
 * with a password or a Slack webhook's secret path).
 */

export const REDACTED = '[REDACTED]';

/**
 * Key names whose values are secret, matched on the key lower-cased without
 * `-`, `_` or `.` (so `client-key-data`, `client_secret` and `apiKey` all match).
 */
const SECRET_KEY =
  /token|passw(or)?d|passphrase|secret|authorization|cookie|apikey|privatekey|keydata|credential|signature|sessionkey|signingkey|bearer/;

/**
 * Keys that name or point to a secret rather than hold one (`secretName`,
 * `tokenFile`, `secretRef`): useful when something fails, and harmless.
 */
const REFERENCE_SUFFIX = /(name|names|ref|namespace|file|path|dir)$/;

/** Whether a field with this key has its value replaced, whatever the value. */
export function isSecretKey(key: string): boolean {
  const k = key.toLowerCase().replace(/[-_.\s]/g, '');
  return SECRET_KEY.test(k) && !REFERENCE_SUFFIX.test(k);
}

/** Words that, before `=` or `:` in text, are followed by a secret. */
const SECRET_WORD = String.raw`[\w-]*(?:token|passw(?:or)?d|secret|api[_-]?key|private[_-]?key|credentials?|signature)[\w-]*`;

/** Replacements applied in order to every string that is logged, at any depth. */
const RULES: [RegExp, string][] = [
  // A PEM private key (a kubeconfig's client-key-data, decoded).
  [
    /-----BEGIN ([A-Z ]*)PRIVATE KEY-----[\s\S]*?(-----END \1PRIVATE KEY-----|$)/g,
    `-----BEGIN $1PRIVATE KEY-----${REDACTED}`,
  ],
  // Header lines quoted in a message: everything after the name, to the line's end.
  [
    /\b((?:proxy-)?authorization|(?:set-)?cookie|x-api-key)(\\?["']?\s*:\s*)[^\r\n"]+/gi,
    `$1$2${REDACTED}`,
  ],
  // `password=…`, `"token": "…"`, `client_secret=…` in text, JSON or a query string.
  [
    new RegExp(
      String.raw`\b(${SECRET_WORD})(\\?["']?\s*[=:]\s*\\?["']?)(?:(?:bearer|basic)\s+)?[^\s"'\\&,;}\]]+`,
      'gi',
    ),
    `$1$2${REDACTED}`,
  ],
  // A bearer or basic credential anywhere else.
  [/\b(bearer|basic)\s+[\w.~+/=-]{8,}/gi, `$1 ${REDACTED}`],
  // A JSON Web Token (ID tokens, service account tokens).
  [/\beyJ[\w-]{4,}\.[\w-]{4,}\.[\w-]*/g, REDACTED],
  // Slack tokens: bot, user, app-level, configuration, refresh.
  [/\bx(?:ox[a-z]|app)-[\w-]{6,}/gi, REDACTED],
  // A Slack incoming webhook or workflow URL: the path is the secret.
  [/(hooks\.slack\.com\/(?:services|workflows|triggers)\/)[^\s"'<>\\]+/gi, `$1${REDACTED}`],
  // A password in a URL's user part.
  [/(\b[a-z][a-z\d+.-]*:\/\/[^\s/:@"'<>]*):[^\s/@"'<>]+@/gi, `$1:${REDACTED}@`],
];

/**
 * What every rule above needs to find in a text before it can match: most texts
 * logged have none of it, and are then passed over with one test, not eight.
 */
const MAYBE_SECRET =
  /private[_ -]?key|authorization|cookie|x-api-key|token|passw|secret|api[_-]?key|credential|signature|bearer|basic|eyJ|xox|xapp|hooks\.slack\.com|:\/\/[^\s/:@"'<>]*:/i;

/** The text with every secret it visibly carries replaced by [REDACTED]. */
export function scrub(text: string): string {
  if (!MAYBE_SECRET.test(text)) return text;
  let out = text;
  for (const [pattern, replacement] of RULES) out = out.replace(pattern, replacement);
  return out;
}
