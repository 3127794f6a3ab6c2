import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseDuration } from '../../api/v1alpha1/duration.ts';
import {
  isTerminal,
  type AccessPolicy,
  type AccessGrant,
  type AccessTarget,
} from '../../api/v1alpha1/types.ts';
import { kinds } from '../../providers/kinds.ts';
import { httpStatus } from '../../kube/errors.ts';
import { precheck } from '../../policy/precheck.ts';
import { requestFor } from '../../policy/request.ts';
import { DeniedError, grants, print, PROG, UsageError, whoAmI, type Ctx } from '../context.ts';
import type { Verb } from '../verb.ts';

/**
 * Refuses, before anything is made, a request its policy would deny: a role
 * typo, a missing reason, the wrong namespace, an unknown policy. The controller's
 * own evaluation and words; it decides again once the grant exists.
 */
async function precheckRequest(ctx: Ctx, grant: AccessGrant): Promise<void> {
  let policy: AccessPolicy;
  try {
    policy = await ctx.client.policies.get(grant.spec.policy);
  } catch (err) {
    if (httpStatus(err) === 404) {
      throw new DeniedError(
        `not requested: there is no AccessPolicy '${grant.spec.policy}'; list them with: kubectl get accesspolicies`,
      );
    }
    // Not allowed to read policies: the controller will say.
    if (httpStatus(err) === 403) return;
    throw err;
  }
  const [check] = precheck(grant, [policy], new Date());
  if (check?.decision.verdict === 'Denied') {
    throw new DeniedError(`not requested: ${check.decision.message}`);
  }
}

async function request(ctx: Ctx, v: Record<string, unknown>): Promise<void> {
  const policy = v.policy as string | undefined;
  const duration = v.duration as string | undefined;
  if (!policy)
    throw new UsageError('--policy is required: the AccessPolicy that allows this access');
  if (!duration) throw new UsageError('--duration is required, e.g. --duration 2h');
  try {
    parseDuration(duration);
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  // Each provider reads its own options (src/providers/<name>/kind.ts).
  const access: AccessTarget[] = [];
  for (const kind of kinds) {
    let entry: unknown;
    try {
      entry = kind.cli?.parse(v, { namespace: ctx.namespace });
    } catch (err) {
      throw new UsageError((err as Error).message);
    }
    if (entry !== undefined) access.push({ [kind.name]: entry } as AccessTarget);
  }
  if (access.length === 0) {
    throw new UsageError(
      `say what you need: ${kinds
        .flatMap((k) => (k.cli ? [Object.keys(k.cli.options)[0]!] : []))
        .map((o) => `--${o}`)
        .join(', ')}, ... (see --help)`,
    );
  }
  const clusterRole = v['cluster-role'] as string | undefined;
  const role = v.role as string | undefined;
  const me = await whoAmI(ctx.kc);
  const target = clusterRole ?? role ?? 'access';
  const name =
    (v.name as string | undefined) ??
    `${me.user
      .split('@')[0]!
      .toLowerCase()
      .replace(
        /[^a-z0-9-]/g,
        '-',
      )}-${target.replace(/[^a-z0-9-]/g, '-')}-${randomBytes(2).toString('hex')}`;
  const body = requestFor(me, {
    name,
    namespace: ctx.namespace,
    policy,
    duration,
    ...(v.reason ? { reason: v.reason as string } : {}),
    ...(v['start-at'] ? { startAt: v['start-at'] as string } : {}),
    access,
  });
  await precheckRequest(ctx, body);
  await ctx.client.grants.create(body);
  if (!v.wait) {
    print(
      ctx,
      body,
      () =>
        `accessgrant ${ctx.namespace}/${name} requested; follow it with: ${PROG} describe ${name} -n ${ctx.namespace}`,
    );
    return;
  }
  const deadline = Date.now() + parseDuration((v.timeout as string | undefined) ?? '10m');
  let said = '';
  for (;;) {
    const g = await grants(ctx).get(name);
    const phase = g.status?.phase;
    const ready = g.status?.conditions?.find((c) => c.type === 'Ready');
    // What it waits for, each time that changes (on stderr: a script reads only the result).
    const now = `${phase ?? 'new'}${ready?.message ? `: ${ready.message}` : ''}`;
    if (now !== said && phase !== 'Active' && !isTerminal(phase)) {
      ctx.err(`waiting: accessgrant ${ctx.namespace}/${name} is ${now}`);
      said = now;
    }
    if (phase === 'Active') {
      print(
        ctx,
        g,
        () => `accessgrant ${ctx.namespace}/${name} is Active until ${g.status?.expiresAt}`,
      );
      return;
    }
    if (isTerminal(phase))
      throw new DeniedError(
        `accessgrant ${ctx.namespace}/${name} is ${phase}: ${ready?.message ?? ''}`,
      );
    if (Date.now() > deadline)
      throw new Error(
        `accessgrant ${ctx.namespace}/${name} is still ${phase ?? 'new'}: ${ready?.message ?? ''}`,
      );
    await sleep(500);
  }
}

export const requestVerb: Verb = {
  name: 'request',
  summary: 'ask for access under a policy',
  usage: `request --policy POLICY --duration 2h --reason TEXT
${kinds.flatMap((k) => (k.cli ? [`                  ${k.cli.usage}`] : [])).join('\n')}
                  [--name NAME] [--start-at TIME] [--wait [--timeout 10m]]`,
  help: `Asks for access for yourself, in the namespace of -n. It first checks what you
ask against the policy, with the controller's own evaluation, and makes nothing
the policy would deny (exit 3). --wait waits until the grant is Active, and exits 3
if it is denied or fails; --timeout bounds the wait (default 10m).

  --policy NAME            the AccessPolicy that allows this access
${kinds.flatMap((k) => (k.cli ? [k.cli.help] : [])).join('\n')}
  --duration D             e.g. 30m, 2h, 1h30m; at most the policy's maxDuration
  --reason TEXT            why (some policies require it)
  --start-at TIME          a window that starts later (RFC 3339)
  --name NAME              the grant's name (default: you-role-xxxx)

Examples:
  ${PROG} request --policy payments-oncall --cluster-role edit --duration 2h \\
    --reason 'INC-4211 checkout latency' -n payments --wait
  ${PROG} request --policy s3-readers --aws-principal arn:aws:iam::111122223333:role/alice \\
    --aws-policy arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess --duration 1h --reason 'audit export'`,
  options: {
    policy: { type: 'string' },
    ...Object.fromEntries(kinds.flatMap((k) => Object.entries(k.cli?.options ?? {}))),
    duration: { type: 'string' },
    reason: { type: 'string' },
    name: { type: 'string' },
    'start-at': { type: 'string' },
    wait: { type: 'boolean' },
    timeout: { type: 'string' },
  },
  values: {
    policy: 'policy',
    'target-namespace': 'namespace',
    ...Object.fromEntries(kinds.flatMap((k) => Object.entries(k.cli?.values ?? {}))),
  },
  run: (ctx, v) => request(ctx, v),
};
