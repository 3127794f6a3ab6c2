import { fillTemplate, globMatch, templateMatch } from '../../policy/glob.ts';
import type { ProviderKind } from '../kind.ts';
import {
  AZURE_MODES,
  azureAccessSchema,
  azureAllowSchema,
  azurePolicyRules,
  type AzureAccess,
  type AzureAllow,
  type AzureMode,
} from './api.ts';
import { desiredAzureArtefacts } from './artefacts.ts';
import {
  canonicalRole,
  canonicalRolePattern,
  ESCALATION_RISK,
  escalatingRole,
  escalatingRolesMatched,
} from './roles.ts';
import { isCanonicalScope, isScopeGlob } from './scope.ts';

const escapeRegExp = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/**
 * Pure: whether `scope` matches `pattern`: `*` matches within one path segment,
 * and case is ignored, as Azure ignores it. Only a canonical scope (scope.ts:
 * resource-name characters, unchanged by a URL parser) matches, and only a
 * well-formed pattern matches anything: `x\..\..` is one segment to a glob but
 * several `..` to the URL the SDK sends.
 */
export function scopeMatch(pattern: string, scope: string): boolean {
  if (!isCanonicalScope(scope) || !isScopeGlob(pattern)) return false;
  const source = pattern.split('*').map(escapeRegExp).join('[^/]*');
  return new RegExp(`^${source}$`, 'i').test(scope);
}

const globIgnoringCase = (pattern: string, value: string) =>
  globMatch(pattern.toLowerCase(), value.toLowerCase());
const anyGlobIgnoringCase = (patterns: string[] | undefined, value: string) =>
  (patterns ?? []).some((p) => globIgnoringCase(p, value));

/**
 * Pure: whether the allow-list's roles admit `role` at `scope`, compared by full
 * role definition ID (roles.ts): a custom role's ID must be in the scope's
 * subscription, and a role allowed by name must be asked for by name.
 */
export function roleAllowed(patterns: string[] | undefined, role: string, scope: string): boolean {
  const canonical = canonicalRole(role, scope);
  if (canonical === undefined) return false;
  return (patterns ?? []).some((p) => globIgnoringCase(canonicalRolePattern(p), canonical));
}

/** Azure RBAC: role assignment schedules that Azure ends at expiry, or shared role assignments. */
export const azureKind: ProviderKind<'azure', AzureAccess, AzureAllow> = {
  name: 'azure',
  title: 'Azure RBAC',
  desired: desiredAzureArtefacts,
  allows(x, a, { selfOnly, requester }) {
    // The mode that Azure does not end by itself must be allowed explicitly.
    const modeOk = (a.modes ?? ['Schedule']).includes(x.mode ?? 'Schedule');
    const scopeOk = (a.scopes ?? []).some((p) => scopeMatch(p, x.scope));
    const roleOk = roleAllowed(a.roles, x.role, x.scope);
    const principalOk = selfOnly
      ? (a.selfPrincipalIds ?? []).some((tpl) => templateMatch(tpl, requester, x.principalId, 'i'))
      : anyGlobIgnoringCase(a.principalIds, x.principalId);
    return modeOk && scopeOk && roleOk && principalOk;
  },
  // Roles that can assign roles: the holder can make a permanent assignment for themselves.
  entryRisks(x) {
    const role = escalatingRole(x.role);
    return role ? [{ role: `Azure role ${role}`, risks: [ESCALATION_RISK] }] : [];
  },
  allowRisks(a) {
    const roles = new Set(
      (a.roles ?? []).flatMap((p) => escalatingRolesMatched(p, globIgnoringCase)),
    );
    return [...roles].map((role) => ({ role: `Azure role ${role}`, risks: [ESCALATION_RISK] }));
  },
  describe: (x) =>
    `role ${x.role} at ${x.scope} for ${x.principalId} (mode ${x.mode ?? 'Schedule'})`,
  schema: { access: azureAccessSchema, allow: azureAllowSchema, policyRules: azurePolicyRules },
  cli: {
    options: {
      'azure-scope': { type: 'string' },
      'azure-role': { type: 'string' },
      'azure-principal': { type: 'string' },
      'azure-mode': { type: 'string' },
    },
    values: { 'azure-mode': AZURE_MODES },
    usage: '[--azure-scope SCOPE --azure-role ROLE --azure-principal ID [--azure-mode Assignment]]',
    help: '  --azure-scope SCOPE      with --azure-role ROLE and --azure-principal OBJECT-ID',
    parse(v) {
      const given = ['azure-scope', 'azure-role', 'azure-principal', 'azure-mode'];
      if (!given.some((o) => v[o])) return undefined;
      const mode = v['azure-mode'] as string | undefined;
      if (mode !== undefined && !(AZURE_MODES as readonly string[]).includes(mode)) {
        throw new Error(`--azure-mode must be one of ${AZURE_MODES.join(', ')}, got '${mode}'`);
      }
      if (!v['azure-scope'] || !v['azure-role'] || !v['azure-principal']) {
        throw new Error('Azure access needs --azure-scope, --azure-role and --azure-principal');
      }
      return {
        scope: v['azure-scope'] as string,
        role: v['azure-role'] as string,
        principalId: v['azure-principal'] as string,
        ...(mode ? { mode: mode as AzureMode } : {}),
      };
    },
  },
  form: [
    { option: 'azure-scope', label: 'Scope', offered: (a) => a.scopes ?? [] },
    { option: 'azure-role', label: 'Role', offered: (a) => a.roles ?? [] },
    {
      option: 'azure-principal',
      label: 'Principal object ID',
      offered: (a, { selfOnly, requester }) =>
        selfOnly
          ? (a.selfPrincipalIds ?? []).map((t) => fillTemplate(t, requester))
          : (a.principalIds ?? []),
    },
    {
      option: 'azure-mode',
      label: 'Mode',
      empty: '(Schedule)',
      offered: (a) => a.modes ?? ['Schedule'],
    },
  ],
  flags: [
    {
      name: 'azure-endpoint',
      value: 'URL',
      env: 'TIMEBOX_AZURE_ENDPOINT',
      help: 'another Azure Resource Manager endpoint (a sovereign cloud); a plain\nhttp:// URL is a local emulator and gets no credentials',
    },
  ],
  // As many cloud writes at once as four grant workers made before there were more.
  grantConcurrency: 4,
  // Workload identity and the rest of the default credential chain (@azure/identity).
  async driver({ clock, flags }) {
    const { AzureProvider, armPort } = await import('./driver.ts');
    const endpoint = flags['azure-endpoint'];
    return new AzureProvider(armPort(endpoint ? { endpoint } : {}), { clock });
  },
};
