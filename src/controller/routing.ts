import type { KubernetesObject } from '@kubernetes/client-node';
import {
  ANNOTATION_GRANT,
  type AccessApproval,
  type AccessGrant,
  type AccessPolicy,
} from '../api/v1alpha1/types.ts';
import { grantKey } from './accessgrant.ts';
import { laneOf, revokePriority, type Lane } from './lanes.ts';

/**
 * Event routing, as pure map functions (controller-runtime's
 * `EnqueueRequestsFromMapFunc`): which grant keys an event on another kind
 * re-queues. The operator only wires informers to them.
 */

/** A binding's owner: restored if deleted or edited while its grant is active. */
export function grantsOfBinding(b: KubernetesObject): string[] {
  const owner = b.metadata?.annotations?.[ANNOTATION_GRANT];
  return owner ? [owner] : [];
}

/** A policy edit re-decides every grant under it: pending ones, and active ones it may no longer allow. */
export function grantsOfPolicy(p: AccessPolicy, grants: readonly AccessGrant[]): string[] {
  return grants.filter((g) => g.spec.policy === p.metadata.name).map(grantKey);
}

/** An approval (or its withdrawal) re-decides the grant it names, in its namespace. */
export function grantsOfApproval(a: AccessApproval): string[] {
  const name = a.spec?.grantRef?.name;
  return name ? [`${a.metadata.namespace}/${name}`] : [];
}

/** A role edited to allow more changes what every policy risks: their status is computed again. */
export function policiesOfRoleChange(policies: readonly AccessPolicy[]): string[] {
  return policies.flatMap((p) => (p.metadata.name ? [p.metadata.name] : []));
}

/** Pure: the lane a grant's key goes to, and its priority there (see lanes.ts). */
export function placeGrant(
  grant: AccessGrant | undefined,
  now: Date,
  known: { awaitsRecord: boolean; bindingsLeft: boolean },
): { lane: Lane; priority: number } {
  const lane = laneOf(grant, now);
  return { lane, priority: lane === 'grant' ? 0 : revokePriority(grant, known) };
}
