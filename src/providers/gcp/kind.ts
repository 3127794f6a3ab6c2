import { anyGlob } from '../../policy/glob.ts';
import type { ProviderKind } from '../kind.ts';
import { gcpAccessSchema, gcpAllowSchema, type GcpAccess, type GcpAllow } from './api.ts';
import { desiredGcpArtefacts } from './policy.ts';

const own = (g: GcpAccess, requester: string) => g.member === `user:${requester}`;

/** GCP IAM: conditional role bindings that IAM itself ends at expiry. */
export const gcpKind: ProviderKind<'gcp', GcpAccess, GcpAllow> = {
  name: 'gcp',
  title: 'GCP IAM',
  desired: desiredGcpArtefacts,
  allows(g, a, { selfOnly, requester }) {
    return (
      anyGlob(a.resources, g.resource) &&
      anyGlob(a.roles, g.role) &&
      (own(g, requester) || (!selfOnly && anyGlob(a.members, g.member)))
    );
  },
  // A GCP member is an identity too: under selfOnly it must be the requester's.
  notSelf(g, requester) {
    return own(g, requester) ? undefined : `gcp.member must be user:${requester}, not ${g.member}`;
  },
  describe: (g) => `${g.role} on ${g.resource} for ${g.member}`,
  schema: { access: gcpAccessSchema, allow: gcpAllowSchema },
  cli: {
    options: {
      'gcp-resource': { type: 'string' },
      'gcp-role': { type: 'string' },
      'gcp-member': { type: 'string' },
    },
    usage: '[--gcp-resource R --gcp-role ROLE --gcp-member M]',
    help: '  --gcp-resource R         with --gcp-role ROLE and --gcp-member user:you@example.com',
    parse(v) {
      if (!v['gcp-resource'] && !v['gcp-role'] && !v['gcp-member']) return undefined;
      if (!v['gcp-resource'] || !v['gcp-role'] || !v['gcp-member']) {
        throw new Error('GCP access needs --gcp-resource, --gcp-role and --gcp-member');
      }
      return {
        resource: v['gcp-resource'] as string,
        role: v['gcp-role'] as string,
        member: v['gcp-member'] as string,
      };
    },
  },
  form: [
    { option: 'gcp-resource', label: 'Resource', offered: (a) => a.resources ?? [] },
    { option: 'gcp-role', label: 'Role', offered: (a) => a.roles ?? [] },
    {
      option: 'gcp-member',
      label: 'Member',
      hint: 'e.g. user:you@example.com',
      // The requester's own account is always allowed (see allows).
      offered: (a, { selfOnly, requester }) => [
        `user:${requester}`,
        ...(selfOnly ? [] : (a.members ?? [])),
      ],
    },
  ],
  flags: [
    {
      name: 'gcp-endpoint',
      value: 'URL',
      env: 'TIMEBOX_GCP_ENDPOINT',
      help: 'another Resource Manager endpoint; a plain http:// URL is a\nlocal emulator and gets no credentials',
    },
  ],
  // As many cloud writes at once as four grant workers made before there were more.
  grantConcurrency: 4,
  // Application Default Credentials (Workload Identity in GKE).
  async driver({ clock, flags }) {
    const { GcpProvider, resourceManagerPort } = await import('./driver.ts');
    const endpoint = flags['gcp-endpoint'];
    return new GcpProvider(resourceManagerPort(endpoint ? { endpoint } : {}), { clock });
  },
};
