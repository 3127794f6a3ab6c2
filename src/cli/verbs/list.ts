import { describeTarget } from '../../api/v1alpha1/describe.ts';
import type { AccessGrant, AccessPolicy } from '../../api/v1alpha1/types.ts';
import { print, PROG, table, until, whoAmI, type Ctx } from '../context.ts';
import type { Verb } from '../verb.ts';

async function approverOf(
  policy: AccessPolicy | undefined,
  me: { user: string; groups: string[] },
): Promise<boolean> {
  const a = policy?.spec.approval.approvers;
  return (a?.users ?? []).includes(me.user) || (a?.groups ?? []).some((g) => me.groups.includes(g));
}

async function list(ctx: Ctx, v: Record<string, unknown>): Promise<void> {
  const all = await ctx.client.grants.list(v['all-namespaces'] ? undefined : ctx.namespace);
  const me = await whoAmI(ctx.kc);
  let items = all.items;
  if (v.pending) {
    const policies = new Map<string, AccessPolicy | undefined>();
    const out: AccessGrant[] = [];
    for (const g of items) {
      if (g.status?.phase !== 'Pending' || g.status.requestedBy === me.user) continue;
      if (!policies.has(g.spec.policy)) {
        policies.set(
          g.spec.policy,
          await ctx.client.policies.get(g.spec.policy).catch(() => undefined),
        );
      }
      if (await approverOf(policies.get(g.spec.policy), me)) out.push(g);
    }
    items = out;
  } else if (!v.all) {
    items = items.filter(
      (g) => g.status?.requestedBy === me.user || g.spec.subject.name === me.user,
    );
  }
  print(ctx, { items }, () => {
    const where = v['all-namespaces']
      ? 'any namespace'
      : `namespace ${ctx.namespace} (-n NS for another, -A for all)`;
    if (items.length === 0) {
      return v.pending
        ? `nothing waits for your approval in ${where}`
        : `no access grants${v.all ? '' : ' of yours'} in ${where}`;
    }
    if (v.pending) {
      // What an approver decides on, at a glance; describe or approve shows it in full.
      return table([
        ['NAMESPACE', 'NAME', 'REQUESTED-BY', 'SUBJECT', 'ACCESS', 'DURATION', 'REASON'],
        ...items.map((g) => [
          g.metadata.namespace ?? '',
          g.metadata.name ?? '',
          g.status?.requestedBy ?? '',
          g.spec.subject.name,
          g.spec.access.map(describeTarget).join('; '),
          g.spec.duration,
          (g.spec.reason ?? '').replace(/\s+/g, ' '),
        ]),
      ]);
    }
    return table([
      ['NAMESPACE', 'NAME', 'SUBJECT', 'PHASE', 'EXPIRES', 'POLICY', 'REQUESTED-BY'],
      ...items.map((g) => [
        g.metadata.namespace ?? '',
        g.metadata.name ?? '',
        g.spec.subject.name,
        g.status?.phase ?? '',
        g.status?.phase === 'Active' ? until(g.status.expiresAt) : '',
        g.spec.policy,
        g.status?.requestedBy ?? '',
      ]),
    ]);
  });
}

export const listVerb: Verb = {
  name: 'ls',
  aliases: ['list'],
  summary: 'your grants, or what waits for your approval',
  usage: 'ls [--mine (default) | --pending | --all] [-A]',
  help: `Lists your grants (asked for or held) in the namespace of -n, or in every
namespace with -A. --pending lists the requests waiting for your approval, with
what each asks for; --all lists every grant you may read.

Examples:
  ${PROG} ls -A
  ${PROG} ls --pending -A`,
  options: {
    mine: { type: 'boolean' },
    pending: { type: 'boolean' },
    all: { type: 'boolean' },
    'all-namespaces': { type: 'boolean', short: 'A' },
  },
  run: (ctx, v) => list(ctx, v),
};
