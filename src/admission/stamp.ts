import {
  ACCESS_APPROVAL,
  ACCESS_GRANT,
  ANNOTATION_CREATED_BY,
  ANNOTATION_GITOPS,
  ANNOTATION_REQUESTED_BY,
  ANNOTATION_REQUESTER_GROUPS,
  FINALIZER,
  GROUP,
  type AccessApproval,
  type AccessGrant,
} from '../api/v1alpha1/types.ts';

/** The parts of an AdmissionReview v1 request the stamping reads. */
export interface AdmissionRequest {
  uid: string;
  kind: { group: string; version: string; kind: string };
  operation: string;
  namespace?: string;
  userInfo: { username?: string; groups?: string[] };
  object?: unknown;
}

export interface JsonPatchOp {
  op: 'add' | 'replace';
  path: string;
  value: unknown;
}

export type Verdict = { allowed: true; patch: JsonPatchOp[] } | { allowed: false; message: string };

/** Groups worth recording: the system: ones are everyone's, or Kubernetes' own. */
export function ownGroups(groups: string[] | undefined): string[] {
  return (groups ?? []).filter((g) => !g.startsWith('system:'));
}

/** JSON Pointer escaping of one path segment (RFC 6901). */
const seg = (s: string) => s.replace(/~/g, '~0').replace(/\//g, '~1');

/**
 * Pure: the annotations a new AccessGrant gets from who created it. People write
 * subject, policy, duration, reason and access; who asked, with which groups,
 * and who created it are the API server's word. A value someone did write is
 * left alone, so the validating policies (the second line) refuse a wrong one
 * with a message, instead of it being silently replaced. A GitOps grant names the
 * person who asked in the reviewed change, so only created-by is stamped there.
 */
export function stampGrant(
  grant: AccessGrant,
  user: { username: string; groups: string[] },
): JsonPatchOp[] {
  const annotations = grant.metadata?.annotations;
  const gitops = annotations?.[ANNOTATION_GITOPS] !== undefined;
  const want: Record<string, string> = {
    [ANNOTATION_CREATED_BY]: user.username,
    ...(gitops
      ? {}
      : {
          [ANNOTATION_REQUESTED_BY]: user.username,
          [ANNOTATION_REQUESTER_GROUPS]: ownGroups(user.groups).join(','),
        }),
  };
  const missing = Object.entries(want).filter(([k]) => annotations?.[k] === undefined);
  const ops: JsonPatchOp[] = !annotations
    ? missing.length > 0
      ? [{ op: 'add', path: '/metadata/annotations', value: Object.fromEntries(missing) }]
      : []
    : missing.map(([k, v]) => ({
        op: 'add',
        path: `/metadata/annotations/${seg(k)}`,
        value: v,
      }));
  // The controller's finalizer comes with the object, so that revocation on
  // deletion is guaranteed from the first moment, and the controller need not
  // write the grant once more to add it (it still does if a grant lacks it).
  const finalizers = grant.metadata?.finalizers;
  if (!finalizers) ops.push({ op: 'add', path: '/metadata/finalizers', value: [FINALIZER] });
  else if (!finalizers.includes(FINALIZER))
    ops.push({ op: 'add', path: '/metadata/finalizers/-', value: FINALIZER });
  return ops;
}

/**
 * Pure: the fields a new AccessApproval gets from who created it: the approver,
 * all their groups, and the UID of the grant it names (looked up by the caller).
 * The spec hash is never filled in: it must come from what the approver saw.
 */
export function stampApproval(
  approval: AccessApproval,
  user: { username: string; groups: string[] },
  grantUid: string | undefined,
): JsonPatchOp[] {
  const spec = (approval.spec ?? {}) as Partial<AccessApproval['spec']>;
  const ops: JsonPatchOp[] = [];
  if (!approval.spec) ops.push({ op: 'add', path: '/spec', value: {} });
  if (spec.approver === undefined)
    ops.push({ op: 'add', path: '/spec/approver', value: user.username });
  if (spec.approverGroups === undefined) {
    ops.push({ op: 'add', path: '/spec/approverGroups', value: ownGroups(user.groups) });
  }
  if (spec.grantRef && spec.grantRef.uid === undefined && grantUid) {
    ops.push({ op: 'add', path: '/spec/grantRef/uid', value: grantUid });
  }
  return ops;
}

/** Reads a grant's UID by name, e.g. from the API server; undefined when there is none. */
export type GrantUidLookup = (namespace: string, name: string) => Promise<string | undefined>;

/** Decides one AdmissionReview request; anything but a create of our kinds passes unchanged. */
export async function review(req: AdmissionRequest, lookup: GrantUidLookup): Promise<Verdict> {
  const username = req.userInfo.username;
  if (req.operation !== 'CREATE' || req.kind.group !== GROUP) return { allowed: true, patch: [] };
  if (!username) return { allowed: false, message: 'the API server did not say who you are' };
  const user = { username, groups: req.userInfo.groups ?? [] };
  if (req.kind.kind === ACCESS_GRANT.kind) {
    return { allowed: true, patch: stampGrant(req.object as AccessGrant, user) };
  }
  if (req.kind.kind === ACCESS_APPROVAL.kind) {
    const approval = req.object as AccessApproval;
    const name = approval.spec?.grantRef?.name;
    const uid =
      name && approval.spec.grantRef.uid === undefined && req.namespace
        ? await lookup(req.namespace, name)
        : undefined;
    if (name && approval.spec.grantRef.uid === undefined && !uid) {
      return {
        allowed: false,
        message: `there is no AccessGrant '${name}' in namespace ${req.namespace} to decide on; check spec.grantRef.name (kubectl get accessgrants -n ${req.namespace})`,
      };
    }
    return { allowed: true, patch: stampApproval(approval, user, uid) };
  }
  return { allowed: true, patch: [] };
}
