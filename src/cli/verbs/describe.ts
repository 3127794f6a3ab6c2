import { describeTarget } from '../../api/v1alpha1/describe.ts';
import { isTerminal } from '../../api/v1alpha1/types.ts';
import { specHash } from '../../policy/evaluate.ts';
import { describeActivity } from '../../activity/describe.ts';
import { grants, print, PROG, UsageError, until, type Ctx } from '../context.ts';
import type { Verb } from '../verb.ts';

async function describe(ctx: Ctx, name: string | undefined): Promise<void> {
  if (!name) throw new UsageError("describe needs the grant's NAME");
  const g = await grants(ctx).get(name);
  // Someone who may read the grant but not its record still sees the grant.
  const activity = await ctx.client.activities.get(ctx.namespace, name).catch(() => undefined);
  const record = activity?.spec.grantRef.uid === g.metadata.uid ? activity : undefined;
  print(ctx, g, () => {
    const s = g.status ?? {};
    const ready = s.conditions?.find((c) => c.type === 'Ready');
    const lines = [
      `Name:          ${g.metadata.namespace}/${g.metadata.name}`,
      `Subject:       ${g.spec.subject.kind} ${g.spec.subject.namespace ? `${g.spec.subject.namespace}/` : ''}${g.spec.subject.name}`,
      `Policy:        ${g.spec.policy}`,
      `Duration:      ${g.spec.duration}${g.spec.startAt ? ` from ${g.spec.startAt}` : ''}`,
      `Reason:        ${g.spec.reason ?? ''}`,
      `Phase:         ${s.phase ?? '(not evaluated yet)'}${ready ? ` (${ready.reason}: ${ready.message})` : ''}`,
      `Requested by:  ${s.requestedBy ?? ''}`,
      `Spec hash:     ${specHash(g.spec)}`,
      `Activated:     ${s.activatedAt ?? ''}`,
      // An ended grant's expiry is history, not a countdown: it says when access ended.
      isTerminal(s.phase)
        ? `Ended:         ${s.endedAt ?? ''}${s.expiresAt ? ` (it was to expire at ${s.expiresAt})` : ''}`
        : `Expires:       ${until(s.expiresAt)}`,
      'Access:',
      ...g.spec.access.map((a) => `  - ${describeTarget(a)}`),
      'Targets:',
      ...(s.targets ?? []).map(
        (t) =>
          `  - ${t.provider} ${t.ref}: ${t.state}${t.failSafe ? ' (fail-safe: ends at expiry by itself)' : t.provider === 'kubernetes' ? '' : ' (not fail-safe: only Timebox ends it)'}${t.message ? ` — ${t.message}` : ''}`,
      ),
      'Approvals:',
      ...(s.approvals ?? []).map(
        (a) =>
          `  - ${a.decision} by ${a.approver} at ${a.at}${a.specHash ? ` of spec ${a.specHash}` : ''}${a.comment ? `: ${a.comment}` : ''}`,
      ),
      'History:',
      ...(s.history ?? []).map(
        (h) => `  - ${h.at} ${h.phase} (${h.reason})${h.message ? `: ${h.message}` : ''}`,
      ),
      ...(s.activatedAt ? ['Activity:', ...describeActivity(record?.status)] : []),
    ];
    if (s.phase === 'Pending' && s.specHash) {
      lines.push(
        `Approve with:  ${PROG} approve ${g.metadata.name} -n ${g.metadata.namespace} --spec-hash ${specHash(g.spec)}`,
      );
    }
    return lines.join('\n');
  });
}

export const describeVerb: Verb = {
  name: 'describe',
  summary: 'one grant in words: state, access, approvals, history, activity',
  usage: 'describe NAME',
  help: `Shows a grant in words, with its spec hash (what an approval binds to) and, while
it waits, the exact command that approves this version.

Example:
  ${PROG} describe alice-edit-1a2b -n payments -o yaml`,
  options: {},
  args: 'grant',
  run: (ctx, _v, [name]) => describe(ctx, name),
};
