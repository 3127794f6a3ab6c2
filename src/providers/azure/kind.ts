import { anyGlob, fillTemplate, templateMatch } from '../../policy/glob.ts';
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

const escapeRegExp = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/**
 * Pure: whether `scope` matches `pattern`: `*` matches within one path segment,
 * and case is ignored, as Azure ignores it. A scope with an empty, `.` or `..`
 * segment matches nothing (admission refuses it too).
 */
export function scopeMatch(pattern: string, scope: string): boolean {
  if (
    scope
      .split('/')
      .slice(1)
      .some((s) => s === '' || s === '.' || s === '..')
  )
    return false;
  const source = pattern.split('*').map(escapeRegExp).join('[^/]*');
  return new RegExp(`^${source}$`, 'i').test(scope);
}

const anyGlobIgnoringCase = (patterns: string[] | undefined, value: string) =>
  anyGlob(
    patterns?.map((p) => p.toLowerCase()),
    value.toLowerCase(),
  );

/** Azure RBAC: role assignment schedules that Azure ends at expiry, or shared role assignments. */
export const azureKind: ProviderKind<'azure', AzureAccess, AzureAllow> = {
  name: 'azure',
  title: 'Azure RBAC',
  desired: desiredAzureArtefacts,
  allows(x, a, { selfOnly, requester }) {
    // The mode that Azure does not end by itself must be allowed explicitly.
    const modeOk = (a.modes ?? ['Schedule']).includes(x.mode ?? 'Schedule');
    const scopeOk = (a.scopes ?? []).some((p) => scopeMatch(p, x.scope));
    const roleOk = anyGlobIgnoringCase(a.roles, x.role);
    const principalOk = selfOnly
      ? (a.selfPrincipalIds ?? []).some((tpl) => templateMatch(tpl, requester, x.principalId, 'i'))
      : anyGlobIgnoringCase(a.principalIds, x.principalId);
    return modeOk && scopeOk && roleOk && principalOk;
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
  // Workload identity and the rest of the default credential chain (@azure/identity).
  async driver({ clock, flags }) {
    const { AzureProvider, armPort } = await import('./driver.ts');
    const endpoint = flags['azure-endpoint'];
    return new AzureProvider(armPort(endpoint ? { endpoint } : {}), { clock });
  },
};
