import {
  ACCESS_APPROVAL,
  APPROVAL_VIAS,
  ACCESS_GRANT,
  ACCESS_POLICY,
  DECISIONS,
  DEFAULT_EXPIRING_SOON_LEAD,
  DEFAULT_MAX_SCHEDULE_AHEAD,
  GROUP,
  NOTIFICATION_CHANNEL,
  NOTIFICATION_EVENTS,
  PHASES,
  VERSION,
} from './types.ts';
import { DURATION_PATTERN, MAX_DURATION, MIN_DURATION } from './duration.ts';
import { describe, DESCRIPTIONS } from './descriptions.ts';
import { kinds, PROVIDER_NAMES } from '../../providers/kinds.ts';

/**
 * OpenAPI schemas of the CRDs: the single source of truth. crds/ is generated
 * from here (npm run generate) and a unit test fails when the two drift.
 *
 * Every string and list is bounded so that the API server's CEL cost estimator
 * accepts the validation rules.
 */
export type Schema = Record<string, unknown>;

export const str = (maxLength: number, extra: Schema = {}): Schema => ({
  type: 'string',
  maxLength,
  ...extra,
});
const rule = (r: string, message: string, extra: Schema = {}): Schema => ({
  rule: r,
  message,
  ...extra,
});

const DNS_LABEL = '^[a-z0-9]([-a-z0-9]*[a-z0-9])?$';

const subject: Schema = {
  type: 'object',
  description: 'Who receives the access.',
  required: ['kind', 'name'],
  properties: {
    kind: { type: 'string', enum: ['User', 'Group', 'ServiceAccount'] },
    name: str(253, { minLength: 1, description: 'User or group name, or service account name.' }),
    namespace: str(63, {
      pattern: DNS_LABEL,
      description: 'Namespace of a ServiceAccount subject.',
    }),
  },
  'x-kubernetes-validations': [
    rule(
      "self.kind == 'ServiceAccount' ? has(self.namespace) : !has(self.namespace)",
      'subject.namespace is required for kind ServiceAccount and not allowed for User or Group',
    ),
    rule(
      "self.kind == 'ServiceAccount' || !self.name.startsWith('system:')",
      'system: users and groups cannot be subjects: they stand for everyone (system:authenticated) or for Kubernetes itself; name a person or group, or use kind ServiceAccount',
      { fieldPath: '.name' },
    ),
  ],
};

/** `a, b or c`, as the messages list the providers. */
const inWords = (xs: readonly string[]): string =>
  xs.length > 1 ? `${xs.slice(0, -1).join(', ')} or ${xs.at(-1)}` : (xs[0] ?? '');

/** Exactly one provider's entry per access entry (grant) and per allow-list entry (policy). */
const oneProvider = (): Schema =>
  rule(
    `${kinds.map((k) => `(has(self.${k.name}) ? 1 : 0)`).join(' + ')} == 1`,
    `each access entry must set exactly one of ${inWords(PROVIDER_NAMES)}`,
  );

/** An access entry of a grant: one provider's, each provider's fragment from its kind. */
const accessTarget: Schema = {
  type: 'object',
  properties: Object.fromEntries(kinds.map((k) => [k.name, k.schema.access])),
  'x-kubernetes-validations': [oneProvider()],
};

const condition: Schema = {
  type: 'object',
  required: ['type', 'status', 'reason', 'message', 'lastTransitionTime'],
  properties: {
    type: str(316),
    status: { type: 'string', enum: ['True', 'False', 'Unknown'] },
    reason: str(1024),
    message: str(32768),
    lastTransitionTime: { type: 'string', format: 'date-time' },
    observedGeneration: { type: 'integer', format: 'int64', minimum: 0 },
  },
};

/** A status's conditions, one per type (metav1.Condition). */
const conditions = (maxItems: number): Schema => ({
  type: 'array',
  maxItems,
  'x-kubernetes-list-type': 'map',
  'x-kubernetes-list-map-keys': ['type'],
  items: condition,
});

const accessGrantStatus: Schema = {
  type: 'object',
  properties: {
    phase: { type: 'string', enum: [...PHASES] },
    requestedBy: str(253),
    specHash: str(64, {
      description:
        'SHA-256 of the spec (all but revoked): what an AccessApproval must name in grantRef.specHash to count.',
    }),
    approvals: {
      type: 'array',
      maxItems: 64,
      items: {
        type: 'object',
        required: ['approver', 'decision', 'at'],
        properties: {
          approver: str(253),
          decision: { type: 'string', enum: [...DECISIONS] },
          at: { type: 'string', format: 'date-time' },
          specHash: str(64),
          comment: str(1024),
        },
      },
    },
    activatedAt: { type: 'string', format: 'date-time' },
    expiresAt: { type: 'string', format: 'date-time' },
    endedAt: { type: 'string', format: 'date-time' },
    targets: {
      type: 'array',
      maxItems: 256,
      items: {
        type: 'object',
        required: ['provider', 'ref', 'state', 'failSafe'],
        properties: {
          provider: { type: 'string', enum: [...PROVIDER_NAMES] },
          ref: str(1024),
          state: { type: 'string', enum: ['Pending', 'Active', 'Revoked', 'Failed'] },
          failSafe: { type: 'boolean' },
          message: str(4096),
        },
      },
    },
    conditions: conditions(16),
    history: {
      type: 'array',
      maxItems: 32,
      items: {
        type: 'object',
        required: ['phase', 'at', 'reason'],
        properties: {
          phase: { type: 'string', enum: [...PHASES] },
          at: { type: 'string', format: 'date-time' },
          reason: str(1024),
          message: str(4096),
        },
      },
    },
    notifications: {
      type: 'array',
      maxItems: 128,
      description: 'Notifications delivered, so that none is sent twice (written by the notifier).',
      items: {
        type: 'object',
        required: ['channel', 'event', 'at'],
        properties: {
          channel: str(253),
          event: { type: 'string', enum: [...NOTIFICATION_EVENTS] },
          at: { type: 'string', format: 'date-time' },
          ref: str(256),
        },
      },
    },
    observedGeneration: { type: 'integer', format: 'int64', minimum: 0 },
  },
};

/** The top level of a custom resource's schema: its spec, status and object-level rules. */
export function resourceSchema(
  spec: Schema,
  extra: { status?: Schema; validations?: Schema[] } = {},
): Schema {
  return {
    type: 'object',
    required: ['spec'],
    properties: {
      apiVersion: { type: 'string' },
      kind: { type: 'string' },
      metadata: { type: 'object' },
      spec,
      ...(extra.status ? { status: extra.status } : {}),
    },
    ...(extra.validations ? { 'x-kubernetes-validations': extra.validations } : {}),
  };
}

/** Equality of an optional field across an update. */
const same = (f: string): string =>
  `(has(self.spec.${f}) ? (has(oldSelf.spec.${f}) && self.spec.${f} == oldSelf.spec.${f}) : !has(oldSelf.spec.${f}))`;

export const IMMUTABLE_SPEC_MESSAGE =
  "the spec of an AccessGrant cannot change after creation, except setting 'revoked: true': an approval approves exactly one version. To ask for something else, create a new AccessGrant and revoke this one";

export const accessGrantSpecSchema: Schema = {
  type: 'object',
  required: ['subject', 'policy', 'duration', 'access'],
  properties: {
    subject,
    policy: str(253, {
      pattern: '^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$',
      description: 'The AccessPolicy that authorizes this grant.',
    }),
    duration: str(32, {
      description: `How long access lasts once active: s, m and h, e.g. 90m or 1h30m (${MIN_DURATION} to ${MAX_DURATION}); capped by the policy.`,
      'x-kubernetes-validations': [
        rule(
          `self.matches('${DURATION_PATTERN}') && self != ''`,
          'duration must be hours, minutes and seconds in that order, e.g. 90m, 2h or 1h30m',
        ),
        rule(
          `!self.matches('${DURATION_PATTERN}') || self == '' || (duration(self) >= duration('${MIN_DURATION}') && duration(self) <= duration('${MAX_DURATION}'))`,
          `duration must be between ${MIN_DURATION} and ${MAX_DURATION}`,
        ),
      ],
    }),
    startAt: {
      type: 'string',
      format: 'date-time',
      description: 'Optional scheduled start (RFC 3339).',
    },
    reason: str(1024, { description: 'Why the access is needed, e.g. an incident reference.' }),
    revoked: {
      type: 'boolean',
      description: 'Set to true to end the grant early; the record is kept.',
    },
    access: {
      type: 'array',
      minItems: 1,
      maxItems: 16,
      description: 'What is granted; all entries are granted together.',
      items: accessTarget,
    },
  },
};

/**
 * Every spec field but `revoked` is immutable from creation, whatever the phase:
 * a pending request edited after approval, or between the activation commit and
 * the grant, would give access nobody approved. Derived from the schema, so a
 * field added later is covered without anyone remembering to.
 */
const immutableSpec = (): string =>
  Object.keys(accessGrantSpecSchema.properties as Schema)
    .filter((f) => f !== 'revoked')
    .map(same)
    .join(' && ');

export const accessGrantSchema: Schema = resourceSchema(accessGrantSpecSchema, {
  status: accessGrantStatus,
  validations: [
    rule(immutableSpec(), IMMUTABLE_SPEC_MESSAGE, { fieldPath: '.spec' }),
    rule(
      '!has(oldSelf.spec.revoked) || !oldSelf.spec.revoked || (has(self.spec.revoked) && self.spec.revoked)',
      'spec.revoked cannot be set back to false; create a new AccessGrant instead',
      { fieldPath: '.spec.revoked' },
    ),
  ],
});

const LABELS = { 'app.kubernetes.io/name': 'timebox', 'app.kubernetes.io/part-of': 'timebox' };

const principals = (what: string): Schema => ({
  type: 'object',
  description: what,
  properties: {
    users: {
      type: 'array',
      maxItems: 256,
      'x-kubernetes-list-type': 'set',
      items: str(253, { minLength: 1 }),
    },
    groups: {
      type: 'array',
      maxItems: 256,
      'x-kubernetes-list-type': 'set',
      items: str(253, { minLength: 1 }),
    },
  },
});

const names = (maxItems: number, item: Schema): Schema => ({
  type: 'array',
  maxItems,
  'x-kubernetes-list-type': 'set',
  items: item,
});

const durationField = (description: string): Schema =>
  str(32, {
    description,
    'x-kubernetes-validations': [
      rule(
        `self.matches('${DURATION_PATTERN}') && self != ''`,
        'must be hours, minutes and seconds in that order, e.g. 90m, 2h or 1h30m',
      ),
    ],
  });

const accessPolicyStatus: Schema = {
  type: 'object',
  properties: {
    conditions: conditions(16),
    observedGeneration: { type: 'integer', format: 'int64', minimum: 0 },
  },
};

const globs = (what: string): Schema => ({
  ...names(256, str(253, { minLength: 1 })),
  description: `${what} (glob: * matches any characters).`,
});

export const accessPolicySchema: Schema = resourceSchema(
  {
    type: 'object',
    required: ['requesters', 'namespaces', 'access', 'maxDuration', 'approval'],
    properties: {
      requesters: principals('Who may request grants under this policy.'),
      selfOnly: {
        type: 'boolean',
        description:
          'Requesters may only name themselves (a User subject) as the subject, and only their own cloud principals (aws.selfPrincipalArns, gcp member user:<requester>).',
      },
      subjects: {
        type: 'object',
        description:
          'Who may be the subject besides the requester, when selfOnly is false; only the requester when absent. system: users and groups never.',
        properties: {
          users: globs('User subjects'),
          groups: globs('Group subjects'),
          serviceAccounts: globs(
            "ServiceAccount subjects as '<namespace>/<name>', in one of the policy's namespaces",
          ),
        },
      },
      gitops: {
        type: 'object',
        description:
          'Whether grants created by a trusted GitOps identity for the person they name are allowed (off by default). The named requester must still be a requester of this policy, and selfOnly applies to them.',
        properties: {
          allowed: { type: 'boolean' },
          identities: globs(
            'The GitOps identities (user names) trusted here; all trusted ones when absent',
          ),
          reviewApproves: {
            type: 'boolean',
            description:
              "The merged, reviewed change is the approval. When false (default), a GitOps grant still needs this policy's approvals.",
          },
        },
      },
      namespaces: {
        ...names(256, str(63, { pattern: '^(\\*|[a-z0-9]([-a-z0-9]*[a-z0-9])?)$' })),
        minItems: 1,
        description:
          "Namespaces where grants under this policy may live. Required: write ['*'] for any namespace, explicitly.",
      },
      access: {
        type: 'array',
        minItems: 1,
        maxItems: 64,
        description: 'The allow-list: every access entry of a grant must match one of these.',
        items: {
          type: 'object',
          properties: Object.fromEntries(kinds.map((k) => [k.name, k.schema.allow])),
          'x-kubernetes-validations': [oneProvider()],
        },
      },
      maxDuration: durationField('The longest duration a grant may ask for.'),
      maxScheduleAhead: {
        ...durationField(
          `How far after its creation a grant's startAt may be (default ${DEFAULT_MAX_SCHEDULE_AHEAD}); later ones are Denied.`,
        ),
        default: DEFAULT_MAX_SCHEDULE_AHEAD,
      },
      idleTimeout: {
        ...durationField(
          'Revoke an active grant early (reason Idle) when its access has not been used this long, since activation or its last request, as the audit events Timebox receives show. Only while the audit intake is known to receive: an outage never revokes anyone as idle. At least 10s; see docs/activity.md.',
        ),
        'x-kubernetes-validations': [
          rule(
            `self.matches('${DURATION_PATTERN}') && self != ''`,
            'must be hours, minutes and seconds in that order, e.g. 30m or 1h',
          ),
          rule(
            `!self.matches('${DURATION_PATTERN}') || self == '' || duration(self) >= duration('10s')`,
            'idleTimeout must be at least 10s: Timebox learns of requests in batches a few seconds late',
          ),
        ],
      },
      requireReason: { type: 'boolean' },
      notify: {
        type: 'array',
        maxItems: 16,
        description:
          "Who is told what about this policy's grants: NotificationChannels by name, and the events each hears about (all when absent). RevocationOverdue always goes to every channel.",
        items: {
          type: 'object',
          required: ['channel'],
          properties: {
            channel: str(253, { minLength: 1, description: 'A NotificationChannel.' }),
            events: names(NOTIFICATION_EVENTS.length, {
              type: 'string',
              enum: [...NOTIFICATION_EVENTS],
            }),
            expiringSoonLead: durationField(
              `How long before expiry ExpiringSoon is sent (default ${DEFAULT_EXPIRING_SOON_LEAD}).`,
            ),
          },
        },
      },
      allowPersistentEscalation: {
        type: 'boolean',
        description:
          "Hand out roles that let their holder keep access after the grant ends (create RoleBindings, Secrets or ServiceAccount tokens, bind, escalate, impersonate, create workloads in kube-system). Off by default: a grant for such a role is Denied. status.conditions[type=PersistentEscalation] lists what the policy's roles allow.",
      },
      approval: {
        type: 'object',
        required: ['mode'],
        properties: {
          mode: {
            type: 'string',
            enum: ['Auto', 'Manual'],
            description: 'Auto approves at once (low-risk access); Manual needs approvers.',
          },
          approvers: principals('Who may approve or deny; never the requester or the subject.'),
          required: { type: 'integer', minimum: 1, maximum: 16, default: 1 },
          pendingTimeout: durationField('An unapproved request is Denied after this long.'),
          validFor: durationField(
            'An approval counts only if the grant activates within this long of it, e.g. 24h so that a grant scheduled next week needs a fresh approval. Approvals do not expire when absent.',
          ),
        },
        'x-kubernetes-validations': [
          rule(
            "self.mode == 'Auto' || (has(self.approvers) && ((has(self.approvers.users) && size(self.approvers.users) > 0) || (has(self.approvers.groups) && size(self.approvers.groups) > 0)))",
            'approval.mode Manual needs approvers (users or groups)',
          ),
        ],
      },
    },
    'x-kubernetes-validations': kinds.flatMap((k) => k.schema.policyRules ?? []),
  },
  { status: accessPolicyStatus },
);

export const accessApprovalSchema: Schema = resourceSchema({
  type: 'object',
  required: ['grantRef', 'decision', 'approver'],
  properties: {
    grantRef: {
      type: 'object',
      description:
        "The grant decided on, in this namespace. uid and specHash bind the decision to that grant and to the version of its spec the approver saw: timebox approve shows it and fills both in; by hand, kubectl get ag NAME -o jsonpath='{.metadata.uid} {.status.specHash}'.",
      required: ['name', 'uid'],
      properties: {
        name: str(253, { minLength: 1 }),
        uid: str(64, { minLength: 1 }),
        specHash: str(64, {
          description: 'The full SHA-256 (64 hex digits) of the spec approved or denied.',
          'x-kubernetes-validations': [
            rule(
              "self.matches('^[0-9a-f]{64}$')",
              'grantRef.specHash must be the full SHA-256 of the spec you reviewed (64 hex digits), as timebox describe and status.specHash show it',
            ),
          ],
        }),
      },
    },
    decision: {
      type: 'string',
      enum: [...DECISIONS],
      description:
        'Approve or Deny a pending grant; Revoke ends a grant early (approvers of its policy only).',
    },
    approver: str(253, {
      minLength: 1,
      description: 'Your user name; admission rejects any other.',
    }),
    approverGroups: {
      ...names(64, str(253, { minLength: 1 })),
      description: 'Groups that make you an approver; admission checks each is yours.',
    },
    comment: str(1024),
    via: {
      type: 'string',
      enum: [...APPROVAL_VIAS],
      description:
        'Where the decision was made (slack: a button or command in Slack). Set by Timebox only; admission refuses it from anyone else.',
    },
    slackUserId: str(32, {
      description: 'The Slack user who decided, with via: slack.',
      'x-kubernetes-validations': [
        rule("self.matches('^[UW][A-Z0-9]{2,31}$')", 'must be a Slack user ID, e.g. U0123ABCD'),
      ],
    }),
  },
  'x-kubernetes-validations': [
    rule('self == oldSelf', 'an AccessApproval cannot be changed; delete it and create another'),
    rule(
      "has(self.slackUserId) == (has(self.via) && self.via == 'slack')",
      'slackUserId goes with via: slack, and only with it',
    ),
    rule(
      "self.decision == 'Revoke' || has(self.grantRef.specHash)",
      'grantRef.specHash is required to Approve or Deny: it binds your decision to the version of the spec you reviewed (timebox approve fills it in)',
    ),
  ],
});

const secretKeyRef = (what: string): Schema => ({
  type: 'object',
  description: `${what}, in the operator's own namespace (the only one it reads Secrets from).`,
  required: ['namespace', 'name', 'key'],
  properties: {
    namespace: str(63, { minLength: 1 }),
    name: str(253, { minLength: 1 }),
    key: str(253, { minLength: 1 }),
  },
});

const url = (schemes: string[], description: string): Schema =>
  str(2048, {
    minLength: 1,
    description,
    'x-kubernetes-validations': [
      rule(
        `isURL(self) && [${schemes.map((x) => `'${x}'`).join(', ')}].exists(s, url(self).getScheme() == s) && url(self).getHostname() != '' && !self.matches('^[a-z]+://[^/?#]*@')`,
        `must be a URL with a host and scheme ${schemes.join(' or ')}, and no credentials in it (they belong in the Secret)`,
      ),
    ],
  });

export const notificationChannelSchema: Schema = resourceSchema(
  {
    type: 'object',
    description: 'Exactly one of slack, email, webhook.',
    properties: {
      slack: {
        type: 'object',
        required: ['channel', 'tokenSecretRef'],
        properties: {
          channel: str(80, {
            minLength: 1,
            description: 'A channel name (#payments-approvals) or ID; invite the Slack app to it.',
          }),
          tokenSecretRef: secretKeyRef("The Slack app's bot token (xoxb-...)"),
        },
      },
      email: {
        type: 'object',
        required: ['to', 'smtp'],
        properties: {
          to: {
            ...names(64, str(254, { minLength: 3 })),
            minItems: 1,
            description: 'Recipients.',
          },
          smtp: {
            type: 'object',
            required: ['url', 'from'],
            properties: {
              url: url(
                ['smtp', 'smtps'],
                'smtp://host:587 (STARTTLS when the server offers it) or smtps://host:465.',
              ),
              from: str(254, { minLength: 3 }),
              secretRef: {
                type: 'object',
                description:
                  "A Secret with keys username and password, in the operator's own namespace; no authentication when absent.",
                required: ['namespace', 'name'],
                properties: {
                  namespace: str(63, { minLength: 1 }),
                  name: str(253, { minLength: 1 }),
                },
              },
            },
          },
        },
      },
      webhook: {
        type: 'object',
        required: ['url', 'secretRef'],
        properties: {
          url: url(
            ['https', 'http'],
            'Where CloudEvents are POSTed (use https outside a test cluster).',
          ),
          secretRef: secretKeyRef('The HMAC-SHA256 key that signs every delivery'),
        },
      },
    },
    'x-kubernetes-validations': [
      rule(
        '(has(self.slack) ? 1 : 0) + (has(self.email) ? 1 : 0) + (has(self.webhook) ? 1 : 0) == 1',
        'set exactly one of slack, email or webhook; make one NotificationChannel per destination',
      ),
    ],
  },
  {
    status: {
      type: 'object',
      properties: {
        conditions: conditions(8),
        observedGeneration: { type: 'integer', format: 'int64', minimum: 0 },
      },
    },
  },
);

interface KindNames {
  kind: string;
  plural: string;
  singular: string;
  shortNames: readonly string[];
}

export function crd(
  names: KindNames,
  scope: 'Namespaced' | 'Cluster',
  schema: Schema,
  printerColumns: Schema[],
  subresources?: Schema,
): Schema {
  return {
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    metadata: { name: `${names.plural}.${GROUP}`, labels: LABELS },
    spec: {
      group: GROUP,
      scope,
      names: {
        kind: names.kind,
        listKind: `${names.kind}List`,
        plural: names.plural,
        singular: names.singular,
        shortNames: [...names.shortNames],
        categories: ['timebox'],
      },
      versions: [
        {
          name: VERSION,
          served: true,
          storage: true,
          ...(subresources ? { subresources } : {}),
          additionalPrinterColumns: printerColumns,
          // A copy: shared shapes (conditions) get each kind's own words.
          schema: {
            openAPIV3Schema: describe(structuredClone(schema), DESCRIPTIONS[names.kind] ?? {}),
          },
        },
      ],
    },
  };
}

export const AGE = { name: 'Age', type: 'date', jsonPath: '.metadata.creationTimestamp' };

export function accessGrantCRD(): Schema {
  return crd(
    ACCESS_GRANT,
    'Namespaced',
    accessGrantSchema,
    [
      { name: 'Subject', type: 'string', jsonPath: '.spec.subject.name' },
      { name: 'Phase', type: 'string', jsonPath: '.status.phase' },
      // A date column prints future times as <invalid>; the timestamp itself is clearer.
      { name: 'Expires', type: 'string', jsonPath: '.status.expiresAt' },
      { name: 'Ended', type: 'string', jsonPath: '.status.endedAt', priority: 1 },
      { name: 'Policy', type: 'string', jsonPath: '.spec.policy', priority: 1 },
      { name: 'Reason', type: 'string', jsonPath: '.spec.reason', priority: 1 },
      AGE,
    ],
    { status: {} },
  );
}

export function accessPolicyCRD(): Schema {
  return crd(
    ACCESS_POLICY,
    'Cluster',
    accessPolicySchema,
    [
      { name: 'Approval', type: 'string', jsonPath: '.spec.approval.mode' },
      { name: 'Max', type: 'string', jsonPath: '.spec.maxDuration' },
      {
        name: 'Escalation',
        type: 'string',
        jsonPath: ".status.conditions[?(@.type=='PersistentEscalation')].reason",
      },
      AGE,
    ],
    { status: {} },
  );
}

export function accessApprovalCRD(): Schema {
  return crd(ACCESS_APPROVAL, 'Namespaced', accessApprovalSchema, [
    { name: 'Grant', type: 'string', jsonPath: '.spec.grantRef.name' },
    { name: 'Decision', type: 'string', jsonPath: '.spec.decision' },
    { name: 'Approver', type: 'string', jsonPath: '.spec.approver' },
    AGE,
  ]);
}

export function notificationChannelCRD(): Schema {
  return crd(
    NOTIFICATION_CHANNEL,
    'Cluster',
    notificationChannelSchema,
    [
      {
        name: 'Ready',
        type: 'string',
        jsonPath: ".status.conditions[?(@.type=='Ready')].status",
      },
      {
        name: 'Reason',
        type: 'string',
        jsonPath: ".status.conditions[?(@.type=='Ready')].reason",
      },
      AGE,
    ],
    { status: {} },
  );
}
