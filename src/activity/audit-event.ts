/**
 * The fields of a Kubernetes audit event (audit.k8s.io/v1 Event) that activity
 * attribution reads. An audit backend (webhook, log file, a cloud's logging
 * service) delivers these; anything else in an event is ignored.
 */
export interface AuditUser {
  username?: string;
  groups?: string[];
}

export interface AuditEvent {
  auditID?: string;
  stage?: string;
  verb?: string;
  /** The authenticated user: for an impersonated request, the impersonator. */
  user?: AuditUser;
  /**
   * Set by the API server only once it has allowed the impersonation: the user
   * the request was then made as.
   */
  impersonatedUser?: AuditUser;
  objectRef?: {
    resource?: string;
    subresource?: string;
    apiGroup?: string;
    namespace?: string;
    name?: string;
  };
  responseStatus?: { code?: number };
  /** e.g. `authorization.k8s.io/decision: allow | forbid`, recorded at Metadata level. */
  annotations?: Record<string, string>;
  requestReceivedTimestamp?: string;
  stageTimestamp?: string;
}

/**
 * The stages at which a request is complete: counting only these counts every
 * request once, whatever other stages the audit policy records.
 */
export const COMPLETE_STAGES: ReadonlySet<string> = new Set(['ResponseComplete', 'Panic']);

export const WRITE_VERBS: ReadonlySet<string> = new Set([
  'create',
  'update',
  'patch',
  'delete',
  'deletecollection',
]);

/** `pods`, `deployments.apps`, `pods/log`: the resource as kubectl and RBAC name it. */
export function resourceName(ref: NonNullable<AuditEvent['objectRef']>): string {
  const base = ref.apiGroup ? `${ref.resource}.${ref.apiGroup}` : (ref.resource ?? '');
  return ref.subresource ? `${base}/${ref.subresource}` : base;
}

/** The identity the request was authorized as: the impersonated user if any. */
export function effectiveUser(e: AuditEvent): AuditUser | undefined {
  return e.impersonatedUser ?? e.user;
}

/**
 * Reads audit events out of whatever a backend delivered: an EventList (the
 * webhook backend's body), a single Event (one line of a JSON log file), or
 * something else, which yields nothing. Never throws on shape.
 */
export function auditEventsOf(body: unknown): AuditEvent[] {
  if (!body || typeof body !== 'object') return [];
  const o = body as { kind?: unknown; items?: unknown };
  if (o.kind === 'EventList' && Array.isArray(o.items)) {
    return o.items.filter((i): i is AuditEvent => !!i && typeof i === 'object');
  }
  if (o.kind === 'Event') return [body as AuditEvent];
  return [];
}

/**
 * Whether the authorizer refused the request: a denied attempt. A 403 from
 * admission (the authorizer said allow) is a use of the access that failed.
 */
export function isDenied(e: AuditEvent): boolean {
  const decision = e.annotations?.['authorization.k8s.io/decision'];
  if (decision) return decision === 'forbid';
  return e.responseStatus?.code === 403;
}
