import assert from 'node:assert/strict';
import {
  accessApprovalSchema,
  accessGrantSchema,
  accessPolicySchema,
  notificationChannelSchema,
} from './schema.ts';
import { accessActivitySchema } from './activity-schema.ts';
import type { AccessActivitySpec, AccessActivityStatus } from './activity.ts';
import type {
  AccessApprovalSpec,
  AccessGrantSpec,
  AccessGrantStatus,
  AccessPolicySpec,
  AccessPolicyStatus,
  NotificationChannelSpec,
  NotificationChannelStatus,
} from './types.ts';

/**
 * The TypeScript types and the OpenAPI schema describe one API twice. These
 * samples are typed as *every* field of each type (DeepRequired): a field added to
 * a type without its schema fails to compile until it is in the sample, and then
 * fails below; one added to the schema without its type fails below at once.
 */
type DeepRequired<T> = T extends (infer U)[]
  ? DeepRequired<U>[]
  : T extends object
    ? { [K in keyof T]-?: DeepRequired<NonNullable<T[K]>> }
    : T;

type Schema = {
  type?: string;
  properties?: Record<string, Schema>;
  items?: Schema;
};

/** Every property the schema declares is in the sample, and the other way round, at every depth. */
function agree(sample: unknown, schema: Schema, path: string): void {
  if (schema.type === 'array' && schema.items) {
    assert.ok(Array.isArray(sample), `${path}: an array in the schema, not in the type`);
    for (const item of sample) agree(item, schema.items, `${path}[]`);
    return;
  }
  if (!schema.properties) return; // free-form (metadata) or a scalar
  const have = Object.keys(sample as object).sort();
  const declared = Object.keys(schema.properties).sort();
  assert.deepEqual(have, declared, `${path}: the type's fields and the schema's differ`);
  for (const key of declared) {
    agree((sample as Record<string, unknown>)[key], schema.properties[key]!, `${path}.${key}`);
  }
}

const at = '2026-11-27T10:00:00Z';
const condition = {
  type: 'Ready',
  status: 'True' as const,
  reason: 'r',
  message: 'm',
  lastTransitionTime: at,
  observedGeneration: 1,
};

const grantSpec: DeepRequired<AccessGrantSpec> = {
  subject: { kind: 'ServiceAccount', name: 'n', namespace: 'ns' },
  policy: 'p',
  duration: '1h',
  startAt: at,
  reason: 'r',
  revoked: false,
  access: [
    {
      kubernetes: { clusterRole: 'view', role: 'r', namespaces: ['ns'], clusterWide: false },
      aws: { principalArn: 'a', policyArn: 'b', groupArn: 'c', mode: 'InlinePolicy' },
      gcp: { resource: 'r', role: 'x', member: 'm' },
      azure: { scope: 's', role: 'Reader', principalId: 'p', mode: 'Schedule' },
    },
  ],
};

const grantStatus: DeepRequired<AccessGrantStatus> = {
  phase: 'Active',
  requestedBy: 'alice',
  specHash: 'h',
  approvals: [{ approver: 'bob', decision: 'Approve', at, specHash: 'h', comment: 'c' }],
  activatedAt: at,
  expiresAt: at,
  endedAt: at,
  targets: [{ provider: 'kubernetes', ref: 'r', state: 'Active', failSafe: false, message: 'm' }],
  conditions: [condition],
  history: [{ phase: 'Active', at, reason: 'r', message: 'm' }],
  notifications: [{ channel: 'c', event: 'Requested', at, ref: 'r' }],
  observedGeneration: 1,
};

const policySpec: DeepRequired<AccessPolicySpec> = {
  requesters: { users: ['a'], groups: ['g'] },
  selfOnly: true,
  subjects: { users: ['u'], groups: ['g'], serviceAccounts: ['ns/sa'] },
  gitops: { allowed: true, identities: ['argo'], reviewApproves: false },
  namespaces: ['ns'],
  access: [
    {
      kubernetes: { clusterRoles: ['view'], roles: ['r'], namespaces: ['ns'], clusterWide: false },
      aws: {
        principalArns: ['a'],
        policyArns: ['p'],
        groupArns: ['g'],
        modes: ['InlinePolicy'],
        selfPrincipalArns: ['s'],
      },
      gcp: { resources: ['r'], roles: ['x'], members: ['m'] },
      azure: {
        scopes: ['s'],
        roles: ['Reader'],
        modes: ['Schedule'],
        principalIds: ['p'],
        selfPrincipalIds: ['{user}'],
      },
    },
  ],
  maxDuration: '4h',
  requireReason: true,
  approval: {
    mode: 'Manual',
    approvers: { users: ['b'], groups: ['g'] },
    required: 1,
    pendingTimeout: '1h',
    validFor: '1h',
  },
  maxScheduleAhead: '168h',
  idleTimeout: '30m',
  allowPersistentEscalation: false,
  notify: [{ channel: 'c', events: ['Requested'], expiringSoonLead: '5m' }],
};

const policyStatus: DeepRequired<AccessPolicyStatus> = {
  conditions: [condition],
  observedGeneration: 1,
};

const approvalSpec: DeepRequired<AccessApprovalSpec> = {
  grantRef: { name: 'g', uid: 'u', specHash: 'h' },
  decision: 'Approve',
  approver: 'bob',
  approverGroups: ['g'],
  comment: 'c',
  via: 'slack',
  slackUserId: 'U0BOB',
};

const ref = { namespace: 'ns', name: 'n', key: 'k' };
const channelSpec: DeepRequired<NotificationChannelSpec> = {
  slack: { channel: '#c', tokenSecretRef: ref },
  email: {
    to: ['a@example.com'],
    smtp: { url: 'smtp://h', from: 'f@example.com', secretRef: { namespace: 'ns', name: 'n' } },
  },
  webhook: { url: 'https://h', secretRef: ref },
};

const channelStatus: DeepRequired<NotificationChannelStatus> = {
  conditions: [condition],
  observedGeneration: 1,
};

const request = {
  at,
  provider: 'kubernetes' as const,
  verb: 'patch',
  resource: 'deployments.apps',
  namespace: 'payments',
  name: 'checkout',
  code: 200,
};
const activitySpec: DeepRequired<AccessActivitySpec> = { grantRef: { name: 'g', uid: 'u' } };
const activityStatus: DeepRequired<AccessActivityStatus> = {
  requests: 1,
  firstUsed: at,
  lastUsed: at,
  counts: [{ provider: 'kubernetes', verb: 'get', resource: 'pods', namespace: 'p', count: 1 }],
  otherRequests: 0,
  writes: [request],
  writesOmitted: 0,
  denied: [request],
  deniedOmitted: 0,
  rightSizing: {
    roles: ['ClusterRole edit'],
    used: [{ resource: 'pods', verbs: ['get'], used: ['get'] }],
    unusedResources: ['secrets'],
    unusedNamespaces: ['checkout'],
    suggestedRules: [
      { apiGroups: [''], resources: ['pods'], verbs: ['get'], resourceNames: ['p'] },
    ],
    omitted: 0,
    summary: 's',
  },
  updatedAt: at,
};

const props = (s: unknown) => (s as Schema).properties!;

describe('the API types and the CRD schema', () => {
  const cases: [string, unknown, Schema][] = [
    ['AccessGrant.spec', grantSpec, props(accessGrantSchema).spec!],
    ['AccessGrant.status', grantStatus, props(accessGrantSchema).status!],
    ['AccessPolicy.spec', policySpec, props(accessPolicySchema).spec!],
    ['AccessPolicy.status', policyStatus, props(accessPolicySchema).status!],
    ['AccessApproval.spec', approvalSpec, props(accessApprovalSchema).spec!],
    ['NotificationChannel.spec', channelSpec, props(notificationChannelSchema).spec!],
    ['NotificationChannel.status', channelStatus, props(notificationChannelSchema).status!],
    ['AccessActivity.spec', activitySpec, props(accessActivitySchema).spec!],
    ['AccessActivity.status', activityStatus, props(accessActivitySchema).status!],
  ];
  for (const [what, sample, schema] of cases) {
    it(`declare the same fields for ${what}`, () => agree(sample, schema, what));
  }
});
