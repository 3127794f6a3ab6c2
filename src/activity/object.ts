import {
  ACCESS_ACTIVITY,
  type AccessActivity,
  type AccessActivityStatus,
} from '../api/v1alpha1/activity.ts';
import {
  ACCESS_GRANT,
  API_VERSION,
  LABEL_GRANT_UID,
  LABEL_MANAGED_BY,
  MANAGED_BY,
} from '../api/v1alpha1/types.ts';

/**
 * Pure: a grant's AccessActivity, named after it, in its namespace. The owner
 * reference makes the garbage collector delete it with the grant, and no more:
 * it outlives the grant's end. It carries no GitOps tracking label, so Argo CD
 * shows it under the grant and never prunes or diffs it.
 */
export function activityObject(
  g: { namespace: string; name: string; uid: string },
  status: AccessActivityStatus,
): AccessActivity {
  return {
    apiVersion: API_VERSION,
    kind: ACCESS_ACTIVITY.kind,
    metadata: {
      name: g.name,
      namespace: g.namespace,
      labels: { [LABEL_GRANT_UID]: g.uid, [LABEL_MANAGED_BY]: MANAGED_BY },
      ownerReferences: [
        {
          apiVersion: API_VERSION,
          kind: ACCESS_GRANT.kind,
          name: g.name,
          uid: g.uid,
          blockOwnerDeletion: false,
        },
      ],
    },
    spec: { grantRef: { name: g.name, uid: g.uid } },
    status,
  };
}
