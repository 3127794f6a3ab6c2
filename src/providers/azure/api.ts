import { names, rule, str } from '../schema.ts';
import { SCOPE_GLOB_PATTERN, SCOPE_PATTERN, SCOPE_RULES } from './scope.ts';

export { SCOPE_PATTERN } from './scope.ts';

/**
 * How an Azure target gives access:
 * - Schedule (default): a role assignment schedule request whose expiration is
 *   expiresAt, so that Azure itself ends the assignment (fail-safe);
 * - Assignment: a plain role assignment, which only Timebox removes (not fail-safe).
 */
export const AZURE_MODES = ['Schedule', 'Assignment'] as const;
export type AzureMode = (typeof AZURE_MODES)[number];

/** An `azure` access entry: one Azure RBAC role for one principal at one scope. */
export interface AzureAccess {
  /** `/subscriptions/<id>[/resourceGroups/<rg>[/providers/...]]`. */
  scope: string;
  /** A built-in role's name (e.g. Reader), or a role definition's ID (any role, custom ones too). */
  role: string;
  /** The object ID of the user, group or service principal in Microsoft Entra ID. */
  principalId: string;
  mode?: AzureMode;
}

export interface AzureAllow {
  /** Scope patterns: `*` matches within one path segment; compared ignoring case, as Azure does. */
  scopes?: string[];
  /** Role names or role definition IDs (glob, ignoring case). */
  roles?: string[];
  /** Modes grants may use; only the fail-safe Schedule when absent. */
  modes?: AzureMode[];
  /** Principal object IDs a grant may name (glob) when the policy is not selfOnly; none when absent. */
  principalIds?: string[];
  /**
   * Each requester's own principal, as templates where `{user}` stands for the
   * requester's user name, e.g. `{user}` where the cluster's user names are Entra
   * object IDs. A selfOnly policy with Azure access must set it.
   */
  selfPrincipalIds?: string[];
}

const GUID = '[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}';
export const ROLE_PATTERN = `^([A-Za-z0-9][A-Za-z0-9 ._()-]{0,127}|${GUID}|(/subscriptions/${GUID})?/providers/Microsoft.Authorization/roleDefinitions/${GUID})$`;
export const PRINCIPAL_PATTERN = `^${GUID}$`;

export const azureAccessSchema = {
  type: 'object',
  description:
    'Azure RBAC: role for principalId at scope until expiry (mode Schedule, which Azure itself ends), or a plain role assignment (mode Assignment).',
  required: ['scope', 'role', 'principalId'],
  properties: {
    scope: str(1024, {
      // The OpenAPI pattern holds without the CEL cost budget; the rule says what to fix.
      pattern: SCOPE_PATTERN,
      description: `Where the role applies: /subscriptions/<id>, /subscriptions/<id>/resourceGroups/<name>, or a resource below it (/providers/<namespace>/<type>/<name>...), with ${SCOPE_RULES}.`,
      'x-kubernetes-validations': [
        rule(
          `self.matches('${SCOPE_PATTERN}')`,
          `scope must be /subscriptions/<id>, /subscriptions/<id>/resourceGroups/<name>, or /subscriptions/<id>/resourceGroups/<name>/providers/<namespace>/<type>/<name>..., with ${SCOPE_RULES}`,
        ),
      ],
    }),
    role: str(256, {
      pattern: ROLE_PATTERN,
      description:
        "A built-in role by name (e.g. Reader) or by ID (/providers/Microsoft.Authorization/roleDefinitions/<GUID>), or a custom role by ID in the scope's subscription (/subscriptions/<id>/providers/Microsoft.Authorization/roleDefinitions/<GUID>, or the GUID alone).",
    }),
    principalId: str(36, {
      pattern: PRINCIPAL_PATTERN,
      description:
        'The object ID (a GUID) of the user, group or service principal in Microsoft Entra ID.',
    }),
    mode: {
      type: 'string',
      enum: [...AZURE_MODES],
      default: 'Schedule',
      description:
        'Schedule: a role assignment schedule request that expires at expiresAt, which Azure itself ends (fail-safe). Assignment: a plain role assignment, shared by overlapping grants and removed by Timebox only (not fail-safe).',
    },
  },
};

export const azureAllowSchema = {
  type: 'object',
  description:
    'Azure roles that may be asked for, where, and for whom. A grant entry fits when its scope, role, mode and principal each match.',
  properties: {
    scopes: {
      // Bounded tighter than other lists: the API server's CEL cost budget.
      ...names(
        64,
        // 400: what the CEL cost budget leaves for the rule's matches() over 64 items.
        str(400, {
          pattern: SCOPE_GLOB_PATTERN,
          'x-kubernetes-validations': [
            rule(
              `self.matches('${SCOPE_GLOB_PATTERN}')`,
              `a scope pattern is /subscriptions/ and segments of ${SCOPE_RULES}, where * matches within one segment, e.g. /subscriptions/*/resourceGroups/payments-*`,
            ),
          ],
        }),
      ),
      description:
        'Scopes grants may name: * matches within one path segment, and case is ignored, as Azure does. A pattern allows only the scopes it matches, not those below them.',
    },
    roles: {
      ...names(256, str(256)),
      description:
        "Role names or role definition IDs grants may name (glob, case ignored), compared with the full ID: /providers/Microsoft.Authorization/roleDefinitions/<GUID> for a built-in role, /subscriptions/<id>/providers/Microsoft.Authorization/roleDefinitions/<GUID> for a custom role in the scope's subscription (a bare GUID pattern: in any subscription). A role allowed by name must be asked for by name. Owner, User Access Administrator, Role Based Access Control Administrator and Key Vault Data Access Administrator need allowPersistentEscalation: true.",
    },
    modes: {
      ...names(2, { type: 'string', enum: [...AZURE_MODES] }),
      description:
        'Modes grants may use. Absent: only Schedule, whose expiry Azure enforces itself.',
    },
    principalIds: {
      ...names(256, str(64)),
      description:
        'Principal object IDs grants may name (glob) when the policy is not selfOnly; none when absent.',
    },
    selfPrincipalIds: {
      ...names(
        16,
        str(256, {
          'x-kubernetes-validations': [
            rule(
              "(self.contains('{user}') || self.contains('{localPart}')) && !self.contains('*')",
              "a selfPrincipalIds entry must contain {user} or {localPart} and no *: it names the requester's own object ID, e.g. {user} where user names are Entra object IDs",
            ),
          ],
        }),
      ),
      description:
        "Each requester's own principal object ID, as a template: {user} stands for the requester's user name, {localPart} for its part before @ (e.g. {user} where the cluster's user names are Entra object IDs). Required for Azure access under selfOnly.",
    },
  },
};

/** A rule on the policy's spec: selfOnly needs a way to tell each requester's own principal. */
export const azurePolicyRules = [
  rule(
    '!has(self.selfOnly) || !self.selfOnly || self.access.all(a, !has(a.azure) || (has(a.azure.selfPrincipalIds) && size(a.azure.selfPrincipalIds) > 0))',
    "selfOnly cannot be checked for Azure without knowing each requester's own object ID: set azure.selfPrincipalIds, e.g. ['{user}'] where the cluster's user names are Entra object IDs",
  ),
];
