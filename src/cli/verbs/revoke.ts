import { ANNOTATION_REQUESTED_BY } from '../../api/v1alpha1/types.ts';
import { grants, print, PROG, UsageError, whoAmI, type Ctx } from '../context.ts';
import type { Verb } from '../verb.ts';

/**
 * Ends a grant early. The requester sets spec.revoked; anyone else can only ask
 * as an approver of the grant's policy, with an AccessApproval of decision Revoke
 * that records who ended it and why (admission refuses anyone else's edit).
 */
async function revoke(ctx: Ctx, name: string | undefined, comment?: string): Promise<void> {
  if (!name) throw new UsageError("revoke needs the grant's NAME");
  const [current, me] = await Promise.all([grants(ctx).get(name), whoAmI(ctx.kc)]);
  if (current.metadata.annotations?.[ANNOTATION_REQUESTED_BY] !== me.user) {
    if (!comment) {
      throw new UsageError(
        `you did not request ${name}, so you revoke it as an approver of its policy: add --comment to say why`,
      );
    }
    const created = await ctx.client.approvals.create({
      metadata: { generateName: `${name.slice(0, 200)}-`, namespace: ctx.namespace },
      spec: {
        grantRef: { name, uid: current.metadata.uid! },
        decision: 'Revoke',
        approver: me.user,
        ...(me.groups.length ? { approverGroups: me.groups } : {}),
        comment,
      },
    });
    print(
      ctx,
      created,
      () =>
        `asked to revoke accessgrant ${ctx.namespace}/${name} as ${me.user}; it ends if you are an approver of AccessPolicy '${current.spec.policy}' (see: ${PROG} describe ${name} -n ${ctx.namespace})`,
    );
    return;
  }
  const g = await ctx.client.grants.mergePatch(ctx.namespace, name, { spec: { revoked: true } });
  print(
    ctx,
    g,
    () => `accessgrant ${ctx.namespace}/${name} revoked; access ends now and the record is kept`,
  );
}

export const revokeVerb: Verb = {
  name: 'revoke',
  summary: 'end a grant now',
  usage: 'revoke NAME [--comment TEXT]',
  help: `Ends your own grant at once (spec.revoked: true); the record is kept. On someone
else's grant, as an approver of its policy, it records an AccessApproval of decision
Revoke with your --comment, which is required.

Examples:
  ${PROG} revoke alice-edit-1a2b -n payments
  ${PROG} revoke bob-admin-9f3c -n payments --comment 'incident over'`,
  options: { comment: { type: 'string' } },
  args: 'grant',
  run: (ctx, v, [name]) => revoke(ctx, name, v.comment as string | undefined),
};
