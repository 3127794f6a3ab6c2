import assert from 'node:assert/strict';
import { ApiException, AuthorizationV1Api, CustomObjectsApi } from '@kubernetes/client-node';
import {
  GROUP,
  VERSION,
  type AccessApproval,
  type AccessGrant,
} from '../../src/api/v1alpha1/types.ts';
import { specHash } from '../../src/policy/evaluate.ts';
import type { ClusterEnvironment } from '../../src/sandbox/environment.ts';
import type { Identity } from '../../src/sandbox/impersonation.ts';
import { grantsApi } from './timebox.ts';

/** The demo people (src/sandbox/demo.ts): alice asks, bob and carol lead payments and approve. */
export const ALICE: Identity = { user: 'alice@example.com', groups: ['payments-oncall'] };
export const BOB: Identity = { user: 'bob@example.com', groups: ['payments-leads'] };
export const CAROL: Identity = { user: 'carol@example.com', groups: ['payments-leads'] };

/** A request as `who` makes it, with the identity annotations the CLI adds. */
export function requestAs(
  who: Identity,
  namespace: string,
  policy: string,
  name: string,
  spec: Partial<AccessGrant['spec']> = {},
): AccessGrant {
  return {
    metadata: {
      name,
      namespace,
      annotations: {
        'timebox.dev/requested-by': who.user,
        'timebox.dev/requester-groups': (who.groups ?? []).join(','),
      },
    },
    spec: {
      subject: { kind: 'User', name: who.user },
      policy,
      duration: '2h',
      reason: 'INC-4211 checkout latency',
      access: [{ kubernetes: { clusterRole: 'edit', namespaces: [namespace] } }],
      ...spec,
    },
  };
}

export interface Decide {
  decision?: AccessApproval['spec']['decision'];
  /** Whose name to sign with (default: the creator's own). */
  approver?: string;
  /** Groups to claim (default: all of the creator's). */
  groups?: string[];
  /** The spec the approver reviewed (default: the grant's spec as read now). */
  reviewed?: AccessGrant['spec'];
  comment?: string;
}

/**
 * An AccessApproval as `who` writes it after reviewing the grant as it is now:
 * bound to its UID and to the hash of the spec they read, as `timebox approve` does.
 */
export async function decideAs(
  cluster: ClusterEnvironment,
  who: Identity,
  namespace: string,
  name: string,
  opts: Decide = {},
): Promise<AccessApproval> {
  const seen = await grantsApi(cluster.admin()).get(namespace, name);
  const decision = opts.decision ?? 'Approve';
  return approvalAs(cluster, who, namespace, {
    metadata: { generateName: `${who.user.split('@')[0]}-` },
    spec: {
      grantRef: {
        name,
        uid: seen.metadata.uid,
        ...(decision === 'Revoke' ? {} : { specHash: specHash(opts.reviewed ?? seen.spec) }),
      },
      decision,
      approver: opts.approver ?? who.user,
      approverGroups: opts.groups ?? who.groups ?? [],
      comment:
        opts.comment ?? (decision === 'Approve' ? 'INC-4211 confirmed' : 'not during the freeze'),
    },
  } as Partial<AccessApproval>);
}

/** Creates an AccessApproval exactly as `who` writes it: what they leave out, admission fills in. */
export async function approvalAs(
  cluster: ClusterEnvironment,
  who: Identity,
  namespace: string,
  approval: Partial<AccessApproval>,
): Promise<AccessApproval> {
  return (await cluster
    .as(who)
    .makeApiClient(CustomObjectsApi)
    .createNamespacedCustomObject({
      group: GROUP,
      version: VERSION,
      namespace,
      plural: 'accessapprovals',
      body: { apiVersion: `${GROUP}/${VERSION}`, kind: 'AccessApproval', ...approval },
    })) as AccessApproval;
}

/**
 * What the real authorizer answers for `who` (a SubjectAccessReview, as
 * `kubectl auth can-i --as` asks it): the oracle for "no access appeared".
 */
export async function allowed(
  cluster: ClusterEnvironment,
  who: Identity,
  verb: string,
  resource: string,
  namespace?: string,
): Promise<boolean> {
  const review = await cluster
    .admin()
    .makeApiClient(AuthorizationV1Api)
    .createSubjectAccessReview({
      body: {
        apiVersion: 'authorization.k8s.io/v1',
        kind: 'SubjectAccessReview',
        spec: {
          user: who.user,
          groups: [...(who.groups ?? []), 'system:authenticated'],
          resourceAttributes: { verb, resource, ...(namespace ? { namespace } : {}) },
        },
      },
    });
  return review.status?.allowed === true;
}

/** The AccessApprovals recorded for the grant named `grant` in `namespace`. */
export async function approvalsOf(
  cluster: ClusterEnvironment,
  namespace: string,
  grant: string,
): Promise<AccessApproval[]> {
  const list = (await cluster.admin().makeApiClient(CustomObjectsApi).listNamespacedCustomObject({
    group: GROUP,
    version: VERSION,
    namespace,
    plural: 'accessapprovals',
  })) as {
    items: AccessApproval[];
  };
  return list.items.filter((a) => a.spec.grantRef.name === grant);
}

/** The API server's refusal of `p`, with its HTTP code and message; fails if it was accepted. */
export async function refusal(p: Promise<unknown>): Promise<{ code: number; message: string }> {
  try {
    await p;
  } catch (err) {
    assert.ok(err instanceof ApiException, String(err));
    return { code: err.code, message: String(err.body) };
  }
  assert.fail('the API server accepted it');
}
