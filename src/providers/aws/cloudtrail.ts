import type { ProviderRequest } from '../kind.ts';

/** The fields of a CloudTrail record (eventVersion 1.x) that activity reads. */
export interface CloudTrailRecord {
  eventTime?: string;
  eventSource?: string;
  eventName?: string;
  eventType?: string;
  readOnly?: boolean;
  errorCode?: string;
  recipientAccountId?: string;
  userIdentity?: {
    type?: string;
    arn?: string;
    accountId?: string;
    sessionContext?: { sessionIssuer?: { type?: string; arn?: string; accountId?: string } };
  };
  resources?: { ARN?: string }[];
}

const ASSUMED_ROLE = /^arn:(aws[a-z-]*):sts::(\d{12}):assumed-role\/([^/]+)\/[^/]+$/;
const IAM_PRINCIPAL = /^arn:aws[a-z-]*:iam::(\d{12}):(role|user)\//;
/** What CloudTrail says when IAM refused a call. */
const DENIED =
  /^(Client\.)?(AccessDenied|AccessDeniedException|UnauthorizedOperation|UnauthorizedAccess)$/;
/** Calls made by a principal: not AWS's own service events, nor Insights. */
const CALLS = new Set(['AwsApiCall', 'AwsConsoleAction']);

/** The account an IAM role or user ARN belongs to. */
export function accountOf(arn: string): string | undefined {
  return IAM_PRINCIPAL.exec(arn)?.[1];
}

/**
 * Pure: the IAM principal that made a call, as a grant names it. A role's
 * session (`arn:aws:sts::ACCT:assumed-role/ROLE/SESSION`) is the role: its
 * session issuer (`arn:aws:iam::ACCT:role/PATH/ROLE`, with the role's path), or
 * without one the ARN rebuilt from the session's (path unknown). An IAM user is
 * itself. Anything else (the root user, AWS services, federated users) is no
 * grant's principal.
 */
export function principalOf(id: CloudTrailRecord['userIdentity']): string | undefined {
  if (id?.type === 'IAMUser')
    return id.arn && IAM_PRINCIPAL.exec(id.arn)?.[2] === 'user' ? id.arn : undefined;
  if (id?.type !== 'AssumedRole') return undefined;
  const issuer = id.sessionContext?.sessionIssuer;
  if (issuer?.type === 'Role' && issuer.arn && IAM_PRINCIPAL.test(issuer.arn)) {
    // The session and its issuer must agree on the account and the role.
    const m = ASSUMED_ROLE.exec(id.arn ?? '');
    if (!m || !issuer.arn.endsWith(`/${m[3]}`) || accountOf(issuer.arn) !== m[2]) return undefined;
    return issuer.arn;
  }
  const m = ASSUMED_ROLE.exec(id.arn ?? '');
  return m ? `arn:${m[1]}:iam::${m[2]}:role/${m[3]}` : undefined;
}

/**
 * Where CloudTrail delivers a log file, relative to the trail's bucket (or its
 * key prefix): `AWSLogs/[o-ORG/]ACCOUNT/CloudTrail/REGION/YYYY/MM/DD/FILE`. The
 * whole path must be that, from its start: `AWSLogs/` further down (written by
 * whoever may write somewhere else in the bucket) names no account.
 */
const DELIVERED =
  /^AWSLogs\/(?:o-[a-z0-9]{10,32}\/)?(\d{12})\/CloudTrail\/[a-z0-9-]+\/\d{4}\/\d{2}\/\d{2}\/[^/]+\.json(?:\.gz)?$/;

/**
 * The account a delivered file is for, from its path relative to the directory
 * the bucket is synced to (`/`-separated); undefined for any other path.
 */
export function accountOfPath(path: string): string | undefined {
  return DELIVERED.exec(path)?.[1];
}

/**
 * Pure: the calls in a CloudTrail log file (`{"Records": [...]}`) as requests of
 * IAM principals. A record counts only where it is genuine for the principal's
 * own account: logged for that account (recipientAccountId), by an identity of
 * that account, in a file delivered for that account (`fileAccount`, from
 * {@link accountOfPath}). So a record forged into another account's files, the
 * copy CloudTrail logs in a resource owner's account, or any file outside
 * CloudTrail's layout (`fileAccount` undefined) never counts. `stats.foreign`
 * counts the records left out because they were logged for another account than
 * the file's: CloudTrail never delivers those, so they say someone forged them.
 */
export function requestsOf(
  body: unknown,
  fileAccount: string | undefined,
  stats?: { foreign: number },
): ProviderRequest[] {
  if (fileAccount === undefined) return [];
  const records = (body as { Records?: unknown } | null)?.Records;
  if (!Array.isArray(records)) return [];
  const out: ProviderRequest[] = [];
  for (const x of records as unknown[]) {
    if (!x || typeof x !== 'object') continue;
    const r = x as CloudTrailRecord;
    if (r.recipientAccountId !== fileAccount) {
      if (stats) stats.foreign++;
      continue;
    }
    if (!CALLS.has(r.eventType ?? 'AwsApiCall') || !r.eventName || !r.eventSource) continue;
    const principal = principalOf(r.userIdentity);
    const account = principal && accountOf(principal);
    // Logged for the principal's own account (so in a file of that account).
    if (!account || r.recipientAccountId !== account) continue;
    if (r.userIdentity?.accountId !== undefined && r.userIdentity.accountId !== account) continue;
    const atMs = Date.parse(r.eventTime ?? '');
    if (Number.isNaN(atMs)) continue;
    const denied = DENIED.test(r.errorCode ?? '');
    const name = r.resources?.[0]?.ARN;
    out.push({
      principal,
      atMs,
      // Long values are cut where every request is recorded (activity/record.ts).
      verb: r.eventName,
      resource: r.eventSource,
      ...(name ? { name } : {}),
      denied,
      write: r.readOnly === false,
      ...(denied ? { code: 403 } : {}),
    });
  }
  return out;
}
