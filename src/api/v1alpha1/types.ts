/** TypeScript shapes of the timebox.dev/v1alpha1 API. The names are part of the contract. */

import type { AccessEntries, AllowEntries, ProviderName } from '../../providers/kinds.ts';

export const GROUP = 'timebox.dev';
export const VERSION = 'v1alpha1';
export const API_VERSION = `${GROUP}/${VERSION}`;

export const FINALIZER = 'timebox.dev/revoke-access';
export const LABEL_GRANT_UID = 'timebox.dev/grant-uid';
export const LABEL_MANAGED_BY = 'app.kubernetes.io/managed-by';
export const MANAGED_BY = 'timebox';
export const ANNOTATION_EXPIRES_AT = 'timebox.dev/expires-at';
/** `<namespace>/<name>` of the owning grant; a label value could not hold it. */
export const ANNOTATION_GRANT = 'timebox.dev/grant';

export interface ObjectMeta {
  name?: string;
  generateName?: string;
  namespace?: string;
  uid?: string;
  resourceVersion?: string;
  generation?: number;
  // Typed as client-node types them; custom objects carry RFC 3339 strings at run
  // time, so only their presence is relied on.
  creationTimestamp?: Date;
  deletionTimestamp?: Date;
  finalizers?: string[];
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}

export type SubjectKind = 'User' | 'Group' | 'ServiceAccount';

export interface Subject {
  kind: SubjectKind;
  name: string;
  /** Only for ServiceAccount. */
  namespace?: string;
}

/**
 * One access entry: exactly one provider's entry, e.g. `kubernetes`, `aws`. Each
 * provider declares its entry's shape in src/providers/<name>/ (see kinds.ts).
 */
export type AccessTarget = AccessEntries;

export interface AccessGrantSpec {
  subject: Subject;
  policy: string;
  duration: string;
  startAt?: string;
  reason?: string;
  revoked?: boolean;
  access: AccessTarget[];
}

export const PHASES = ['Pending', 'Active', 'Expired', 'Revoked', 'Denied', 'Failed'] as const;
export type Phase = (typeof PHASES)[number];
export const TERMINAL_PHASES: readonly Phase[] = ['Expired', 'Revoked', 'Denied', 'Failed'];

export function isTerminal(phase: Phase | undefined): boolean {
  return phase !== undefined && TERMINAL_PHASES.includes(phase);
}

export interface Condition {
  type: string;
  status: 'True' | 'False' | 'Unknown';
  reason: string;
  message: string;
  lastTransitionTime: string;
  observedGeneration?: number;
}

/** A registered provider's name (src/providers/kinds.ts). */
export type Provider = ProviderName;
export type TargetState = 'Pending' | 'Active' | 'Revoked' | 'Failed';

export interface TargetStatus {
  provider: Provider;
  /** What was granted, e.g. `RoleBinding payments/timebox-alice-1a2b3c4d`. */
  ref: string;
  state: TargetState;
  /** True when the target itself ends access at expiresAt, even with the operator down. */
  failSafe: boolean;
  message?: string;
}

export const DECISIONS = ['Approve', 'Deny', 'Revoke'] as const;
/** Revoke: an approver of the policy ends the grant early (it needs no spec hash). */
export type DecisionKind = (typeof DECISIONS)[number];

export interface Approval {
  approver: string;
  decision: DecisionKind;
  at: string;
  /** The version of the spec the approver saw (full SHA-256); absent for Revoke. */
  specHash?: string;
  comment?: string;
}

/**
 * What a NotificationChannel is told about a grant. `RevocationOverdue` (access
 * that outlived its grant) is always sent, to every channel of the policy.
 */
export const NOTIFICATION_EVENTS = [
  'Requested',
  'Approved',
  'Denied',
  'Activated',
  'ExpiringSoon',
  'Ended',
  'Failed',
  'RevocationOverdue',
] as const;
export type NotificationEvent = (typeof NOTIFICATION_EVENTS)[number];

/** A notification delivered for a grant: the record that keeps it from being sent twice. */
export interface NotificationRecord {
  channel: string;
  event: NotificationEvent;
  at: string;
  /** The transport's id of the message (Slack's ts), to update it in place. */
  ref?: string;
}

export interface HistoryEntry {
  phase: Phase;
  at: string;
  reason: string;
  message?: string;
}

export interface AccessGrantStatus {
  phase?: Phase;
  requestedBy?: string;
  /** What an AccessApproval must name in grantRef.specHash. */
  specHash?: string;
  approvals?: Approval[];
  activatedAt?: string;
  expiresAt?: string;
  /** When access ended (expiry, revocation or failure). */
  endedAt?: string;
  targets?: TargetStatus[];
  conditions?: Condition[];
  /** Phase transitions, oldest first, capped at HISTORY_LIMIT entries. */
  history?: HistoryEntry[];
  /** Notifications delivered (written by the notifier only). */
  notifications?: NotificationRecord[];
  observedGeneration?: number;
}

export const HISTORY_LIMIT = 20;

export interface AccessGrant {
  apiVersion?: string;
  kind?: string;
  metadata: ObjectMeta;
  spec: AccessGrantSpec;
  status?: AccessGrantStatus;
}

export const ACCESS_GRANT = {
  group: GROUP,
  version: VERSION,
  kind: 'AccessGrant',
  plural: 'accessgrants',
  singular: 'accessgrant',
  shortNames: ['ag'],
} as const;

/** Identity annotations, checked by the ValidatingAdmissionPolicies in config/admission. */
export const ANNOTATION_REQUESTED_BY = 'timebox.dev/requested-by';
export const ANNOTATION_REQUESTER_GROUPS = 'timebox.dev/requester-groups';
export const ANNOTATION_GITOPS = 'timebox.dev/gitops';
/** Who created the grant (for GitOps grants, the GitOps identity), stamped at admission. */
export const ANNOTATION_CREATED_BY = 'timebox.dev/created-by';

export interface Principals {
  users?: string[];
  groups?: string[];
}

/** One allow-list entry: exactly one provider's, shaped as that provider declares it. */
export type AccessAllow = AllowEntries;

export interface ApprovalRules {
  mode: 'Auto' | 'Manual';
  approvers?: Principals;
  required?: number;
  pendingTimeout?: string;
  /**
   * An approval counts only if the grant activates within this long of it (e.g. a
   * grant scheduled next week needs a fresh approval); approvals never expire when absent.
   */
  validFor?: string;
}

/** Who may be a grant's subject besides the requester (glob patterns, `*` for any run). */
export interface SubjectRules {
  users?: string[];
  groups?: string[];
  /** `<namespace>/<name>`; the namespace must also be one of the policy's. */
  serviceAccounts?: string[];
}

/** Grants created by a GitOps tool (e.g. Argo CD) for the people named in them. */
export interface GitOpsRules {
  /** Off unless set: a GitOps grant under a policy that does not allow it is Denied. */
  allowed?: boolean;
  /** The GitOps identities (user names) this policy trusts; all the trusted ones when empty. */
  identities?: string[];
  /**
   * The merged, reviewed change is the approval. When false (the default), a
   * GitOps grant still needs the policy's approvals.
   */
  reviewApproves?: boolean;
}

export interface AccessPolicySpec {
  requesters: Principals;
  selfOnly?: boolean;
  /** Who may be the subject when selfOnly is false; only the requester when absent. */
  subjects?: SubjectRules;
  gitops?: GitOpsRules;
  /** Where grants may live; `*` for any namespace, stated explicitly. Required. */
  namespaces: string[];
  access: AccessAllow[];
  maxDuration: string;
  requireReason?: boolean;
  approval: ApprovalRules;
  /**
   * How far after its creation a grant's startAt may be; DEFAULT_MAX_SCHEDULE_AHEAD
   * when absent, so a grant can never be scheduled into the far future.
   */
  maxScheduleAhead?: string;
  /**
   * Hand out roles that let their holder keep access after the grant ends (create
   * RoleBindings or ServiceAccount tokens, impersonate, ...). Off by default: a
   * grant for such a role is Denied, naming what the role allows.
   */
  allowPersistentEscalation?: boolean;
  /** Who is told what about this policy's grants. */
  notify?: NotifyRule[];
  /**
   * Revoke an active grant (reason Idle) unused for this long since activation or
   * its last request, as the audit events show (see docs/activity.md).
   */
  idleTimeout?: string;
}

/** One NotificationChannel and the events it hears about. */
export interface NotifyRule {
  channel: string;
  /** All of NOTIFICATION_EVENTS when absent; RevocationOverdue is always sent. */
  events?: NotificationEvent[];
  /** How long before expiry ExpiringSoon is sent (DEFAULT_EXPIRING_SOON_LEAD when absent). */
  expiringSoonLead?: string;
}

export const DEFAULT_EXPIRING_SOON_LEAD = '5m';

/** A key of a Secret in the operator's own namespace (the only one it reads). */
export interface SecretKeyRef {
  namespace: string;
  name: string;
  key: string;
}

export interface SlackChannel {
  /** e.g. `#payments-approvals` or a channel ID; invite the Slack app to it. */
  channel: string;
  /** The bot token (`xoxb-...`). */
  tokenSecretRef: SecretKeyRef;
}

export interface EmailChannel {
  to: string[];
  smtp: {
    /** `smtp://host:587` (STARTTLS when offered) or `smtps://host:465`. */
    url: string;
    from: string;
    /** A Secret with keys `username` and `password`; no authentication when absent. */
    secretRef?: { namespace: string; name: string };
  };
}

export interface WebhookChannel {
  url: string;
  /** The HMAC-SHA256 key that signs every delivery. */
  secretRef: SecretKeyRef;
}

/** Exactly one of slack, email, webhook. */
export interface NotificationChannelSpec {
  slack?: SlackChannel;
  email?: EmailChannel;
  webhook?: WebhookChannel;
}

export interface NotificationChannelStatus {
  conditions?: Condition[];
  observedGeneration?: number;
}

export interface NotificationChannel {
  apiVersion?: string;
  kind?: string;
  metadata: ObjectMeta;
  spec: NotificationChannelSpec;
  status?: NotificationChannelStatus;
}

export const NOTIFICATION_CHANNEL = {
  kind: 'NotificationChannel',
  plural: 'notificationchannels',
  singular: 'notificationchannel',
  shortNames: ['nc'],
} as const;

/** AccessPolicy status: what the operator found in the roles the policy hands out. */
export interface AccessPolicyStatus {
  conditions?: Condition[];
  observedGeneration?: number;
}

export const DEFAULT_MAX_SCHEDULE_AHEAD = '168h';

export interface AccessPolicy {
  apiVersion?: string;
  kind?: string;
  metadata: ObjectMeta;
  spec: AccessPolicySpec;
  status?: AccessPolicyStatus;
}

export interface AccessApprovalSpec {
  /** specHash: the full SHA-256 of the spec the approver saw; not needed for Revoke. */
  grantRef: { name: string; uid: string; specHash?: string };
  decision: DecisionKind;
  approver: string;
  /** Groups the approver claims; admission checks each is one of theirs. */
  approverGroups?: string[];
  comment?: string;
  /** Where the decision was made, when not through the API directly; set by Timebox only. */
  via?: (typeof APPROVAL_VIAS)[number];
  /** The Slack user who clicked, for `via: slack`; set by Timebox only. */
  slackUserId?: string;
}

export const APPROVAL_VIAS = ['slack'] as const;
/**
 * Impersonation extras the operator sends when it records a decision made in
 * Slack as its approver: admission accepts `via` and `slackUserId` only when they
 * match, and only the operator may impersonate them.
 */
export const EXTRA_VIA = 'timebox.dev/via';
export const EXTRA_SLACK_USER = 'timebox.dev/slack-user-id';

export interface AccessApproval {
  apiVersion?: string;
  kind?: string;
  metadata: ObjectMeta;
  spec: AccessApprovalSpec;
}

export const ACCESS_POLICY = {
  kind: 'AccessPolicy',
  plural: 'accesspolicies',
  singular: 'accesspolicy',
  shortNames: ['apol'],
} as const;

export const ACCESS_APPROVAL = {
  kind: 'AccessApproval',
  plural: 'accessapprovals',
  singular: 'accessapproval',
  shortNames: ['aa'],
} as const;
