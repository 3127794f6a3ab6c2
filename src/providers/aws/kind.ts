import { anyGlob, fillTemplate, templateMatch } from '../../policy/glob.ts';
import type { ProviderKind } from '../kind.ts';
import {
  AWS_MODES,
  awsAccessSchema,
  awsAllowSchema,
  awsPolicyRules,
  type AwsAccess,
  type AwsAllow,
  type AwsMode,
} from './api.ts';
import { desiredAwsArtefacts } from './artefacts.ts';

/** AWS IAM: inline policies bounded by aws:CurrentTime, or shared attachments and memberships. */
export const awsKind: ProviderKind<'aws', AwsAccess, AwsAllow> = {
  name: 'aws',
  title: 'AWS IAM',
  desired: desiredAwsArtefacts,
  allows(x, a, { selfOnly, requester }) {
    // Modes whose expiry AWS does not enforce must be allowed explicitly.
    const modeOk = (a.modes ?? ['InlinePolicy']).includes(x.mode ?? 'InlinePolicy');
    const grantedOk = x.groupArn
      ? anyGlob(a.groupArns, x.groupArn)
      : anyGlob(a.policyArns, x.policyArn ?? '');
    // Under selfOnly, only the requester's own principal (selfPrincipalArns).
    const principalOk = selfOnly
      ? (a.selfPrincipalArns ?? []).some((tpl) => templateMatch(tpl, requester, x.principalArn))
      : anyGlob(a.principalArns, x.principalArn);
    return modeOk && grantedOk && principalOk;
  },
  describe(a) {
    const what = a.groupArn ? `membership of ${a.groupArn}` : `policy ${a.policyArn}`;
    return `${what} for ${a.principalArn} (mode ${a.mode ?? 'InlinePolicy'})`;
  },
  schema: { access: awsAccessSchema, allow: awsAllowSchema, policyRules: awsPolicyRules },
  cli: {
    options: {
      'aws-principal': { type: 'string' },
      'aws-policy': { type: 'string' },
      'aws-group': { type: 'string' },
      'aws-mode': { type: 'string' },
    },
    values: { 'aws-mode': AWS_MODES },
    usage: '[--aws-principal ARN (--aws-policy ARN [--aws-mode AttachPolicy] | --aws-group ARN)]',
    help: '  --aws-principal ARN      with --aws-policy ARN (--aws-mode AttachPolicy), or --aws-group ARN',
    parse(v) {
      if (!v['aws-principal'] && !v['aws-policy'] && !v['aws-group'] && !v['aws-mode']) {
        return undefined;
      }
      const mode =
        (v['aws-mode'] as string | undefined) ?? (v['aws-group'] ? 'GroupMembership' : undefined);
      if (mode !== undefined && !(AWS_MODES as readonly string[]).includes(mode)) {
        throw new Error(`--aws-mode must be one of ${AWS_MODES.join(', ')}, got '${mode}'`);
      }
      const group = mode === 'GroupMembership';
      if (!v['aws-principal'] || (group ? !v['aws-group'] : !v['aws-policy'])) {
        throw new Error(
          group
            ? 'AWS group membership needs --aws-principal (a user ARN) and --aws-group'
            : 'AWS access needs both --aws-principal and --aws-policy',
        );
      }
      return {
        principalArn: v['aws-principal'] as string,
        ...(group
          ? { groupArn: v['aws-group'] as string }
          : { policyArn: v['aws-policy'] as string }),
        ...(mode ? { mode: mode as AwsMode } : {}),
      };
    },
  },
  form: [
    {
      option: 'aws-principal',
      label: 'Principal ARN',
      offered: (a, { selfOnly, requester }) =>
        selfOnly
          ? (a.selfPrincipalArns ?? []).map((t) => fillTemplate(t, requester))
          : (a.principalArns ?? []),
    },
    { option: 'aws-policy', label: 'Policy ARN', offered: (a) => a.policyArns ?? [] },
    { option: 'aws-group', label: 'Group ARN', offered: (a) => a.groupArns ?? [] },
    {
      option: 'aws-mode',
      label: 'Mode',
      empty: '(InlinePolicy, or GroupMembership with a group)',
      offered: (a) => a.modes ?? ['InlinePolicy'],
    },
  ],
  flags: [
    {
      name: 'aws-cloudtrail-dir',
      value: 'DIR',
      env: 'TIMEBOX_AWS_CLOUDTRAIL_DIR',
      help: 'grant activity for AWS: follow the CloudTrail log files (AWSLogs/.../*.json.gz)\nthat appear under DIR, where the trail bucket is synced or mounted',
    },
  ],
  activity: {
    principals: (a) => [a.principalArn],
    configured: (flags) => Boolean(flags['aws-cloudtrail-dir']),
    async source({ clock, log, flags, sink }) {
      const { CloudTrailFiles } = await import('./cloudtrail-files.ts');
      return new CloudTrailFiles({ dir: flags['aws-cloudtrail-dir'] ?? '', clock, log, sink });
    },
  },
  // As many cloud writes at once as four grant workers made before there were more.
  grantConcurrency: 4,
  // The SDK's default chain (IRSA, EKS Pod Identity, AWS_* variables);
  // AWS_ENDPOINT_URL_IAM points it elsewhere.
  async driver() {
    const { AwsProvider, iamPort } = await import('./driver.ts');
    return new AwsProvider(iamPort());
  },
};
