import {
  ACCESS_GRANT,
  ANNOTATION_REQUESTED_BY,
  ANNOTATION_REQUESTER_GROUPS,
  API_VERSION,
  type AccessGrant,
  type AccessTarget,
} from '../api/v1alpha1/types.ts';

/**
 * Pure: the AccessGrant a person asks for, for themselves, carrying who they are
 * in the identity annotations (admission checks them against the real caller, so
 * nobody can ask in another's name). The CLI and the portal both make requests so.
 */
export function requestFor(
  me: { user: string; groups: string[] },
  r: {
    name: string;
    namespace: string;
    policy: string;
    duration: string;
    reason?: string;
    startAt?: string;
    access: AccessTarget[];
  },
): AccessGrant {
  return {
    apiVersion: API_VERSION,
    kind: ACCESS_GRANT.kind,
    metadata: {
      name: r.name,
      namespace: r.namespace,
      annotations: {
        [ANNOTATION_REQUESTED_BY]: me.user,
        ...(me.groups.length ? { [ANNOTATION_REQUESTER_GROUPS]: me.groups.join(',') } : {}),
      },
    },
    spec: {
      subject: { kind: 'User', name: me.user },
      policy: r.policy,
      duration: r.duration,
      ...(r.reason ? { reason: r.reason } : {}),
      ...(r.startAt ? { startAt: r.startAt } : {}),
      access: r.access,
    },
  };
}
