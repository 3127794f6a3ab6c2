import { createHash } from 'node:crypto';
import {
  ANNOTATION_EXPIRES_AT,
  ANNOTATION_GRANT,
  LABEL_GRANT_UID,
  LABEL_MANAGED_BY,
  MANAGED_BY,
  type AccessGrant,
  type Subject,
} from '../../api/v1alpha1/types.ts';
import type { Artefact } from '../provider.ts';

/** The normalised part of a RoleBinding or ClusterRoleBinding that Timebox manages. */
export interface BindingBody {
  kind: 'RoleBinding' | 'ClusterRoleBinding';
  namespace?: string;
  name: string;
  roleRef: { apiGroup: string; kind: 'Role' | 'ClusterRole'; name: string };
  subjects: { kind: string; name: string; apiGroup?: string; namespace?: string }[];
  grantUid: string;
  grant: string;
  expiresAt: string;
}

const RBAC = 'rbac.authorization.k8s.io';
const MAX_NAME = 253;

export function rbacSubject(s: Subject): BindingBody['subjects'][number] {
  if (s.kind === 'ServiceAccount') {
    return { kind: 'ServiceAccount', name: s.name, namespace: s.namespace ?? '' };
  }
  return { kind: s.kind, name: s.name, apiGroup: RBAC };
}

/**
 * Binding names carry the grant's name, so `kubectl get rolebindings` shows whose
 * they are, plus a slice of its UID: grants of the same name in two namespaces, or
 * a grant re-created under the same name, never share a binding.
 */
export function bindingName(grant: AccessGrant, index: number, count: number): string {
  const uid = (grant.metadata.uid ?? '').replace(/-/g, '').slice(0, 8);
  const suffix = `-${uid}${count > 1 ? `-${index}` : ''}`;
  let base = `timebox-${grant.metadata.name ?? ''}`;
  if (base.length + suffix.length > MAX_NAME) {
    const h = createHash('sha256').update(base).digest('hex').slice(0, 8);
    base = `${base.slice(0, MAX_NAME - suffix.length - 9)}-${h}`;
  }
  return base + suffix;
}

export function clusterBindingName(grant: AccessGrant, index: number, count: number): string {
  // Cluster-scoped: the grant's namespace is part of its identity.
  const ns = grant.metadata.namespace ?? '';
  return bindingName(
    { ...grant, metadata: { ...grant.metadata, name: `${ns}-${grant.metadata.name}` } },
    index,
    count,
  );
}

export function bindingRef(b: Pick<BindingBody, 'kind' | 'namespace' | 'name'>): string {
  return b.kind === 'RoleBinding'
    ? `RoleBinding ${b.namespace}/${b.name}`
    : `ClusterRoleBinding ${b.name}`;
}

/** Pure: the bindings a grant should have while it is active until `expiresAt`. */
export function desiredBindings(grant: AccessGrant, expiresAt: string): Artefact[] {
  const entries = grant.spec.access.flatMap((a) => (a.kubernetes ? [a.kubernetes] : []));
  const subject = rbacSubject(grant.spec.subject);
  const grantKey = `${grant.metadata.namespace}/${grant.metadata.name}`;
  const uid = grant.metadata.uid ?? '';
  const out: Artefact[] = [];
  entries.forEach((k, i) => {
    const roleRef: BindingBody['roleRef'] = k.role
      ? { apiGroup: RBAC, kind: 'Role', name: k.role }
      : { apiGroup: RBAC, kind: 'ClusterRole', name: k.clusterRole ?? '' };
    const common = { roleRef, subjects: [subject], grantUid: uid, grant: grantKey, expiresAt };
    if (k.clusterWide) {
      const body: BindingBody = {
        kind: 'ClusterRoleBinding',
        name: clusterBindingName(grant, i, entries.length),
        ...common,
      };
      out.push({ provider: 'kubernetes', ref: bindingRef(body), failSafe: false, body });
      return;
    }
    for (const ns of k.namespaces ?? []) {
      const body: BindingBody = {
        kind: 'RoleBinding',
        namespace: ns,
        name: bindingName(grant, i, entries.length),
        ...common,
      };
      out.push({ provider: 'kubernetes', ref: bindingRef(body), failSafe: false, body });
    }
  });
  return out;
}

interface BindingObject {
  metadata?: {
    uid?: string;
    name?: string;
    namespace?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
  };
  roleRef: { apiGroup?: string; kind: string; name: string };
  subjects?: { kind: string; name: string; apiGroup?: string; namespace?: string }[];
}

/** Normalises a binding read from the API into the shape desiredBindings produces. */
export function observedBinding(kind: BindingBody['kind'], obj: BindingObject): Artefact {
  const body: BindingBody = {
    kind,
    ...(kind === 'RoleBinding' ? { namespace: obj.metadata?.namespace ?? '' } : {}),
    name: obj.metadata?.name ?? '',
    roleRef: {
      apiGroup: obj.roleRef.apiGroup ?? RBAC,
      kind: obj.roleRef.kind as BindingBody['roleRef']['kind'],
      name: obj.roleRef.name,
    },
    subjects: (obj.subjects ?? []).map((s) =>
      s.kind === 'ServiceAccount'
        ? { kind: s.kind, name: s.name, namespace: s.namespace ?? '' }
        : { kind: s.kind, name: s.name, apiGroup: s.apiGroup ?? RBAC },
    ),
    grantUid: obj.metadata?.labels?.[LABEL_GRANT_UID] ?? '',
    grant: obj.metadata?.annotations?.[ANNOTATION_GRANT] ?? '',
    expiresAt: obj.metadata?.annotations?.[ANNOTATION_EXPIRES_AT] ?? '',
  };
  return {
    provider: 'kubernetes',
    ref: bindingRef(body),
    failSafe: false,
    body,
    ...(obj.metadata?.uid ? { instance: obj.metadata.uid } : {}),
  };
}

/** The API object for a desired binding. */
export function bindingObject(
  b: BindingBody,
): BindingObject & { apiVersion: string; kind: string } {
  return {
    apiVersion: `${RBAC}/v1`,
    kind: b.kind,
    metadata: {
      name: b.name,
      ...(b.namespace ? { namespace: b.namespace } : {}),
      labels: { [LABEL_GRANT_UID]: b.grantUid, [LABEL_MANAGED_BY]: MANAGED_BY },
      annotations: { [ANNOTATION_EXPIRES_AT]: b.expiresAt, [ANNOTATION_GRANT]: b.grant },
    },
    roleRef: b.roleRef,
    subjects: b.subjects,
  };
}
