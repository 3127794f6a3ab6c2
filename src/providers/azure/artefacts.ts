import { createHash } from 'node:crypto';
import type { AccessGrant } from '../../api/v1alpha1/types.ts';
import type { Artefact } from '../provider.ts';
import type { AzureMode } from './api.ts';

/**
 * Pure building blocks of the Azure provider. Azure allows one role assignment
 * per principal, role and scope, so overlapping grants share it: each grant holds
 * a claim on it, written in Azure next to the access (the role assignment's
 * description, or the justification of the schedule request that set the
 * schedule), and only the last claim to go removes the access. In Schedule mode
 * the schedule ends at the latest expiry among the claims: Azure ends it then
 * even if the operator is down.
 */

/** One grant's claim on one Azure role assignment (or schedule). */
export interface AzureBody {
  mode: AzureMode;
  scope: string;
  role: string;
  principalId: string;
  /** The grant's UID: its claim. */
  claim: string;
  /**
   * When the grant ends (RFC 3339, seconds): in Schedule mode Azure ends the
   * access then; in both modes the claim lapses then, so a claim left behind
   * (or pasted into the text by hand) does not keep the access forever.
   */
  expiresAt: string;
}

/** RFC 3339 at second precision. */
export const armTime = (iso: string): string =>
  new Date(iso).toISOString().replace(/\.\d{3}Z$/, 'Z');

export function desiredAzureArtefacts(grant: AccessGrant, expiresAt: string): Artefact[] {
  const uid = grant.metadata.uid ?? '';
  return grant.spec.access.flatMap((a): Artefact[] => {
    const x = a.azure;
    if (!x) return [];
    const mode = x.mode ?? 'Schedule';
    const body: AzureBody = {
      mode,
      scope: x.scope,
      role: x.role,
      principalId: x.principalId.toLowerCase(),
      claim: uid,
      expiresAt: armTime(expiresAt),
    };
    const what = mode === 'Schedule' ? 'RoleAssignmentSchedule' : 'RoleAssignment';
    return [
      {
        provider: 'azure',
        ref: `${what} ${x.scope} ${x.role} ${body.principalId}`,
        failSafe: mode === 'Schedule',
        body,
      },
    ];
  });
}

const CLAIMS_PREFIX = 'timebox claims:';

/** Claims by grant UID, with the expiry each asked for. */
export type Claims = Map<string, string>;

/**
 * Pure: the claims written in a description or justification; undefined when
 * the text holds none. Text someone added around them (a ticket number typed
 * in the portal) is ignored: what matters is that the claims are still read.
 */
export function decodeClaims(text: string | undefined): Claims | undefined {
  const at = text?.indexOf(CLAIMS_PREFIX) ?? -1;
  if (at < 0) return undefined;
  const claims: Claims = new Map();
  for (const part of text!
    .slice(at + CLAIMS_PREFIX.length)
    .trim()
    .split(/\s+/)) {
    const at = part.indexOf('@');
    if (at > 0) claims.set(part.slice(0, at), part.slice(at + 1));
  }
  return claims;
}

export function encodeClaims(claims: Claims): string {
  const parts = [...claims].sort(([a], [b]) => a.localeCompare(b)).map(([u, e]) => `${u}@${e}`);
  return `${CLAIMS_PREFIX} ${parts.join(' ')}`;
}

/**
 * Pure: the claims whose expiry has not passed. A claim without a valid expiry
 * (written by an older version, or by hand) is not live: its grant, if still
 * active, writes it again with its expiry at its next reconcile.
 */
export function liveClaims(claims: Claims, now: Date): Claims {
  return new Map([...claims].filter(([, e]) => Date.parse(e) > now.getTime()));
}

/** Pure: the latest expiry among the claims: when a shared schedule must end. */
export function latestExpiry(claims: Claims): string | undefined {
  const all = [...claims.values()].filter(Boolean).sort();
  return all.at(-1);
}

/**
 * A role assignment's name must be a GUID. Timebox's is derived from what it
 * assigns, so that every grant for the same principal, role and scope finds the
 * same one (scopes compared ignoring case, as Azure does).
 */
export function assignmentName(
  scope: string,
  roleDefinitionId: string,
  principalId: string,
): string {
  const h = createHash('sha256')
    .update(
      `timebox\n${scope.toLowerCase()}\n${roleDefinitionId.toLowerCase()}\n${principalId.toLowerCase()}`,
    )
    .digest('hex');
  // A version 8 (custom) UUID.
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-8${h.slice(13, 16)}-${((parseInt(h[16]!, 16) & 0x3) | 0x8).toString(16)}${h.slice(17, 20)}-${h.slice(20, 32)}`;
}
