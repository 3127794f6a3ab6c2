/**
 * AccessActivity: what was done with a grant's access. One per grant, named after
 * it, in its namespace, owned by it (deleted with it, kept after it ends). Written
 * by the operator only, from the API server's audit events (and CloudTrail for
 * AWS); see docs/activity.md.
 */
import type { ObjectMeta } from './types.ts';

export const ACCESS_ACTIVITY = {
  kind: 'AccessActivity',
  plural: 'accessactivities',
  singular: 'accessactivity',
  shortNames: ['aact'],
} as const;

/** Bounds that keep a record a few tens of KiB whatever the volume of requests. */
export const ACTIVITY_LIMITS = {
  /** Distinct (provider, verb, resource, namespace) counts; the rest go to otherRequests. */
  counts: 100,
  /** Writes listed; the rest are counted in writesOmitted. */
  writes: 50,
  /** Denied attempts listed; the rest are counted in deniedOmitted. */
  denied: 50,
  /** Used and unused permissions in the right-sizing hint. */
  usage: 100,
} as const;

export type ActivityProvider = 'kubernetes' | 'aws';

export interface ActivityCount {
  provider: ActivityProvider;
  verb: string;
  /** `pods`, `deployments.apps`, `pods/log`; for AWS the event source, e.g. `s3.amazonaws.com`. */
  resource: string;
  /** Empty for cluster-scoped requests and AWS. */
  namespace?: string;
  count: number;
}

/** One request, listed (writes, denied attempts). */
export interface ActivityRequest {
  at: string;
  provider: ActivityProvider;
  verb: string;
  resource: string;
  namespace?: string;
  name?: string;
  /** The HTTP status the API server answered. */
  code?: number;
}

/** A permission the grant gave, and whether it was used. */
export interface UsageEntry {
  /** `pods`, `deployments.apps`, `*`; with the role that gave it. */
  resource: string;
  verbs: string[];
  /** The granted verbs that were used on it. */
  used: string[];
}

/** An RBAC rule, as a Role holds it: part of the smallest role that covered every use. */
export interface SuggestedRule {
  apiGroups: string[];
  resources: string[];
  verbs: string[];
  resourceNames?: string[];
}

/** The right-sizing hint (Kubernetes access), written once the grant has ended. */
export interface RightSizing {
  /** The roles compared, e.g. `ClusterRole edit in payments`. */
  roles: string[];
  /** Granted resources with at least one verb used, and which. */
  used: UsageEntry[];
  /** Granted resources nobody touched, by name. */
  unusedResources: string[];
  /** Namespaces the grant covered where nothing granted was used. */
  unusedNamespaces?: string[];
  /** The rules that would have covered every use: a narrower role to allow instead. */
  suggestedRules?: SuggestedRule[];
  /** Entries left out of used and unusedResources by the cap. */
  omitted?: number;
  /** One line for a policy author. */
  summary: string;
}

export interface AccessActivitySpec {
  grantRef: { name: string; uid: string };
}

export interface AccessActivityStatus {
  /** Requests attributed to the grant (allowed ones). */
  requests?: number;
  firstUsed?: string;
  lastUsed?: string;
  counts?: ActivityCount[];
  /** Requests beyond the counts' cap. */
  otherRequests?: number;
  writes?: ActivityRequest[];
  writesOmitted?: number;
  denied?: ActivityRequest[];
  deniedOmitted?: number;
  rightSizing?: RightSizing;
  /** When the record was last written. */
  updatedAt?: string;
}

export interface AccessActivity {
  apiVersion?: string;
  kind?: string;
  metadata: ObjectMeta & {
    ownerReferences?: {
      apiVersion: string;
      kind: string;
      name: string;
      uid: string;
      controller?: boolean;
      blockOwnerDeletion?: boolean;
    }[];
  };
  spec: AccessActivitySpec;
  status?: AccessActivityStatus;
}
