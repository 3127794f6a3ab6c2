import { ACCESS_ACTIVITY, ACTIVITY_LIMITS } from './activity.ts';
import { AGE, crd, resourceSchema, str, type Schema } from './schema.ts';

const time = (description: string): Schema => ({
  type: 'string',
  format: 'date-time',
  description,
});
const count = (description: string): Schema => ({
  type: 'integer',
  format: 'int64',
  minimum: 0,
  description,
});
const provider: Schema = {
  type: 'string',
  enum: ['kubernetes', 'aws'],
  description: 'Where the request was made.',
};
const verb = str(128, {
  description: 'The Kubernetes verb (get, list, patch, ...) or the AWS API call (eventName).',
});
const resource = str(512, {
  description:
    'The resource as RBAC names it (pods, deployments.apps, pods/log), or the AWS event source (s3.amazonaws.com).',
});
const namespace = str(63, {
  description: 'The namespace; empty for cluster-scoped requests and AWS.',
});

const request = (what: string, max: number): Schema => ({
  type: 'array',
  maxItems: max,
  description: `${what}, oldest first, at most ${max}: the oldest half and the newest half, those between counted as omitted.`,
  items: {
    type: 'object',
    required: ['at', 'provider', 'verb', 'resource'],
    properties: {
      at: time('When the request was received.'),
      provider,
      verb,
      resource,
      namespace,
      name: str(253, { description: 'The object, when the request named one.' }),
      code: { type: 'integer', description: 'The HTTP status the API server answered.' },
    },
  },
});

const names = (max: number, description: string): Schema => ({
  type: 'array',
  maxItems: max,
  description,
  items: str(512),
});

export const accessActivitySchema: Schema = resourceSchema(
  {
    type: 'object',
    description: 'Which grant this record is of.',
    required: ['grantRef'],
    properties: {
      grantRef: {
        type: 'object',
        description: 'The AccessGrant (same name, same namespace).',
        required: ['name', 'uid'],
        properties: {
          name: str(253, { description: 'Its name.' }),
          uid: str(64, {
            description: 'Its UID: a record of an older grant of the same name is not this one.',
          }),
        },
      },
    },
  },
  {
    status: {
      type: 'object',
      description:
        'What was done with the access, from audit events; written by the operator only.',
      properties: {
        requests: count('Requests made with the access (allowed ones).'),
        firstUsed: time('The first request.'),
        lastUsed: time('The latest request; what idleTimeout measures from.'),
        counts: {
          type: 'array',
          maxItems: ACTIVITY_LIMITS.counts,
          description: `Requests by provider, verb, resource and namespace, at most ${ACTIVITY_LIMITS.counts} kinds; the rest in otherRequests.`,
          items: {
            type: 'object',
            required: ['provider', 'verb', 'resource', 'count'],
            properties: { provider, verb, resource, namespace, count: count('How many.') },
          },
        },
        otherRequests: count('Requests of kinds beyond the cap of counts.'),
        writes: request('Writes (create, update, patch, delete)', ACTIVITY_LIMITS.writes),
        writesOmitted: count('Writes beyond the cap, not listed.'),
        denied: request(
          'Denied attempts: requests the authorizer refused (beyond the grant: a role too small, or probing)',
          ACTIVITY_LIMITS.denied,
        ),
        deniedOmitted: count('Denied attempts beyond the cap, not listed.'),
        rightSizing: {
          type: 'object',
          description:
            'Once the grant has ended: which of the permissions it gave were used, to narrow the role.',
          required: ['roles', 'used', 'unusedResources', 'summary'],
          properties: {
            roles: names(16, 'The roles compared, e.g. ClusterRole edit.'),
            used: {
              type: 'array',
              maxItems: ACTIVITY_LIMITS.usage,
              description: 'Granted resources with at least one verb used.',
              items: {
                type: 'object',
                required: ['resource', 'verbs', 'used'],
                properties: {
                  resource: str(512, { description: 'The resource, as the role names it.' }),
                  verbs: names(32, 'The verbs the role gives on it.'),
                  used: names(32, 'Those used.'),
                },
              },
            },
            unusedResources: names(ACTIVITY_LIMITS.usage, 'Granted resources nobody touched.'),
            unusedNamespaces: names(
              ACTIVITY_LIMITS.usage,
              'Namespaces the grant covered where nothing granted was used.',
            ),
            suggestedRules: {
              type: 'array',
              maxItems: ACTIVITY_LIMITS.usage,
              description:
                'The RBAC rules that would have covered every use: a narrower role for the policy to allow instead.',
              items: {
                type: 'object',
                required: ['apiGroups', 'resources', 'verbs'],
                properties: {
                  apiGroups: names(1, 'The API group ("" for the core group).'),
                  resources: names(ACTIVITY_LIMITS.usage, 'The resources used with these verbs.'),
                  verbs: names(32, 'The verbs used.'),
                  resourceNames: names(
                    ACTIVITY_LIMITS.usage,
                    'When the granted rule was limited to these objects.',
                  ),
                },
              },
            },
            omitted: count('Entries beyond the caps of used and unusedResources.'),
            summary: str(1024, { description: 'In one line, for a policy author.' }),
          },
        },
        updatedAt: time('When the record was last written.'),
      },
    },
  },
);

export function accessActivityCRD(): Schema {
  return crd(ACCESS_ACTIVITY, 'Namespaced', accessActivitySchema, [
    { name: 'Requests', type: 'integer', jsonPath: '.status.requests' },
    { name: 'Last-Used', type: 'string', jsonPath: '.status.lastUsed' },
    AGE,
  ]);
}
