/**
 * For tests only (as Kubernetes' `.../testing` packages): one builder per kind,
 * each a valid object with sensible defaults, and what a test cares about on top.
 *
 *   aGrant({ metadata: { name: 'g' }, status: { phase: 'Active' } })
 *
 * Overrides are merged deeply (metadata, spec, status, and every object in
 * them); arrays are replaced whole, and a key given as `undefined` is removed.
 * So `spec: { requesters: { users: ['bob'] } }` keeps the default groups too;
 * add `groups: undefined` for bob alone. Non-test code never imports this module.
 */
import { specHash } from '../../policy/evaluate.ts';
import type { AccessApproval, AccessGrant, AccessPolicy } from './types.ts';

/** Any part of T, at any depth; an array (or a Date) is given whole. */
export type DeepPartial<T> = T extends readonly unknown[] | Date
  ? T
  : T extends object
    ? { [K in keyof T]?: DeepPartial<T[K]> }
    : T;

/**
 * An AccessGrant for alice@example.com: ClusterRole view in `payments` for 1h,
 * under the policy aPolicy() makes; no status (as created). The uid follows the name.
 */
export function aGrant(overrides: DeepPartial<AccessGrant> = {}): AccessGrant {
  const name = overrides.metadata?.name ?? 'alice-debug';
  return merge<AccessGrant>(
    {
      metadata: { name, namespace: 'payments', uid: `uid-${name}` },
      spec: {
        subject: { kind: 'User', name: 'alice@example.com' },
        policy: 'payments-oncall',
        duration: '1h',
        access: [{ kubernetes: { clusterRole: 'view', namespaces: ['payments'] } }],
      },
    },
    overrides,
  );
}

/**
 * The AccessPolicy `payments-oncall`: group payments-oncall may ask for themselves
 * for ClusterRole view or edit in `payments`, up to 4h, approved at once (a test
 * wanting approvers adds them). The uid follows the name.
 */
export function aPolicy(overrides: DeepPartial<AccessPolicy> = {}): AccessPolicy {
  const name = overrides.metadata?.name ?? 'payments-oncall';
  return merge<AccessPolicy>(
    {
      metadata: { name, uid: `uid-${name}` },
      spec: {
        requesters: { groups: ['payments-oncall'] },
        selfOnly: true,
        namespaces: ['payments'],
        access: [{ kubernetes: { clusterRoles: ['view', 'edit'], namespaces: ['payments'] } }],
        maxDuration: '4h',
        approval: { mode: 'Auto' },
      },
    },
    overrides,
  );
}

/**
 * bob@example.com's approval of aGrant() as it is (its name, uid and spec hash);
 * a test approving another grant gives its grantRef. The uid follows the name.
 */
export function anApproval(overrides: DeepPartial<AccessApproval> = {}): AccessApproval {
  const name = overrides.metadata?.name ?? 'bob-ok';
  const grant = aGrant();
  return merge<AccessApproval>(
    {
      metadata: { name, namespace: 'payments', uid: `uid-${name}` },
      spec: {
        grantRef: {
          name: grant.metadata.name!,
          uid: grant.metadata.uid!,
          specHash: specHash(grant.spec),
        },
        decision: 'Approve',
        approver: 'bob@example.com',
      },
    },
    overrides,
  );
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && Object.getPrototypeOf(v) === Object.prototype;
}

/** `base` with `over` on top: records merged key by key, anything else replaced. */
function merge<T>(base: T, over: DeepPartial<T> | undefined): T {
  if (!isRecord(over)) return (over === undefined ? base : over) as T;
  const out: Record<string, unknown> = isRecord(base) ? { ...base } : {};
  for (const [key, value] of Object.entries(over)) {
    if (value === undefined) delete out[key];
    else out[key] = merge(out[key], value);
  }
  return out as T;
}
