import type { AccessApproval } from '../../api/v1alpha1/types.ts';
import { specHash } from '../../policy/evaluate.ts';
import { grants, print, PROG, UsageError, whoAmI, type Ctx } from '../context.ts';
import { reviewLines } from '../review.ts';
import type { Verb } from '../verb.ts';

async function decide(
  ctx: Ctx,
  name: string | undefined,
  decision: 'Approve' | 'Deny',
  comment?: string,
  reviewed?: string,
): Promise<void> {
  if (!name)
    throw new UsageError(`${decision === 'Approve' ? 'approve' : 'deny'} needs the grant's NAME`);
  if (decision === 'Deny' && !comment)
    throw new UsageError('deny needs --comment: tell the requester why');
  const g = await grants(ctx).get(name);
  if (g.status?.phase !== 'Pending') {
    throw new Error(
      `accessgrant ${ctx.namespace}/${name} is ${g.status?.phase ?? 'not evaluated yet'}; only Pending requests can be decided`,
    );
  }
  // The decision is bound to the spec shown here, hashed here: never to a hash
  // read from status, which is not what the approver looked at.
  const hash = specHash(g.spec);
  if (reviewed !== undefined && reviewed !== hash) {
    throw new Error(
      `accessgrant ${ctx.namespace}/${name} is not the version you reviewed: you reviewed spec hash ${reviewed}, it is now ${hash}. Nothing was ${decision === 'Approve' ? 'approved' : 'denied'}; review it again with: ${PROG} describe ${name} -n ${ctx.namespace}`,
    );
  }
  ctx.err([`You ${decision === 'Approve' ? 'approve' : 'deny'}:`, ...reviewLines(g)].join('\n'));
  const me = await whoAmI(ctx.kc);
  const body: AccessApproval = {
    metadata: { generateName: `${name.slice(0, 200)}-`, namespace: ctx.namespace },
    spec: {
      grantRef: { name, uid: g.metadata.uid!, specHash: hash },
      decision,
      approver: me.user,
      ...(me.groups.length ? { approverGroups: me.groups } : {}),
      ...(comment ? { comment } : {}),
    },
  };
  const created = await ctx.client.approvals.create(body);
  print(
    ctx,
    created,
    () =>
      `${decision === 'Approve' ? 'approved' : 'denied'} accessgrant ${ctx.namespace}/${name} as ${me.user}`,
  );
}

const decideOptions = {
  comment: { type: 'string' },
  'spec-hash': { type: 'string' },
} as const;

const runAs =
  (decision: 'Approve' | 'Deny'): Verb['run'] =>
  (ctx, v, [name]) =>
    decide(
      ctx,
      name,
      decision,
      v.comment as string | undefined,
      v['spec-hash'] as string | undefined,
    );

export const approveVerb: Verb = {
  name: 'approve',
  summary: 'approve a request, exactly the version shown',
  usage: 'approve NAME [--comment TEXT] [--spec-hash HASH]',
  help: `Prints the request in words and approves exactly that version: the decision is
bound to the grant's UID and to the hash of the spec printed. With --spec-hash
(from describe, or a notification), it approves nothing unless the grant is still
that version. You cannot approve a request you made, or access you would receive.

Examples:
  ${PROG} approve alice-edit-1a2b -n payments --comment 'confirmed on the bridge'
  ${PROG} approve alice-edit-1a2b -n payments --spec-hash 5b07...`,
  options: decideOptions,
  args: 'pending-grant',
  run: runAs('Approve'),
};

export const denyVerb: Verb = {
  name: 'deny',
  summary: 'deny a request, saying why',
  usage: 'deny NAME --comment TEXT [--spec-hash HASH]',
  help: `Denies a request; the requester reads your --comment.

Example:
  ${PROG} deny alice-edit-1a2b -n payments --comment 'not during the freeze'`,
  options: decideOptions,
  args: 'pending-grant',
  run: runAs('Deny'),
};
