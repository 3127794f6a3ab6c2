import { parse } from 'yaml';
import {
  ANNOTATION_REQUESTED_BY,
  ANNOTATION_REQUESTER_GROUPS,
  type AccessApproval,
  type AccessGrant,
  type AccessPolicy,
  type DecisionKind,
} from '../api/v1alpha1/types.ts';
import { createHash } from 'node:crypto';
import { apiMessage, isConflict } from '../kube/errors.ts';
import { parseDuration } from '../api/v1alpha1/duration.ts';
import { choosePolicy, precheck } from '../policy/precheck.ts';
import type { Identity } from '../sandbox/impersonation.ts';
import { notificationOf, type ActOn } from './message.ts';
import {
  SLACK_HELP_TEXT,
  type SlackAction,
  type SlackCommand,
  type SlackReply,
} from './slack-endpoint.ts';
import { DENY_ACTION_ID, escapeMrkdwn, renderSlackMessage } from './slack-render.ts';

/**
 * Pure: the mapping of Slack users to Kubernetes identities, as kept in the
 * ConfigMap (key `users.yaml`):
 *
 *     U0123ABCD: { user: bob@example.com, groups: [payments-leads] }
 *
 * Explicit and reviewable: a Slack user acts as exactly the identity listed, and
 * one who is not listed acts as nobody.
 */
export function parseSlackUsers(text: string): Map<string, Identity> {
  const doc = (parse(text) ?? {}) as Record<string, unknown>;
  if (typeof doc !== 'object' || Array.isArray(doc)) {
    throw new Error('users.yaml must map Slack user IDs to {user, groups}');
  }
  const out = new Map<string, Identity>();
  for (const [id, v] of Object.entries(doc)) {
    const e = v as { user?: unknown; groups?: unknown };
    if (!/^[UW][A-Z0-9]{2,31}$/.test(id)) {
      throw new Error(`users.yaml: ${id} is not a Slack user ID (e.g. U0123ABCD)`);
    }
    if (typeof e?.user !== 'string' || e.user === '' || e.user.startsWith('system:')) {
      throw new Error(`users.yaml: ${id} needs a user (a person's user name, not system:)`);
    }
    const groups = e.groups ?? [];
    if (
      !Array.isArray(groups) ||
      !groups.every((g) => typeof g === 'string' && !g.startsWith('system:'))
    ) {
      throw new Error(`users.yaml: ${id}'s groups must be a list of group names, none system:`);
    }
    out.set(id, { user: e.user, groups: groups as string[] });
  }
  return out;
}

export const REQUEST_USAGE =
  'Usage: `/timebox request <cluster role> in <namespace> for <duration> [under <policy>] because <reason>`, e.g. `/timebox request view in payments for 1h because INC-42`';

/** Pure: the words after `/timebox request`, or what is wrong with them. */
export function parseRequest(
  words: string[],
): { role: string; namespace: string; duration: string; policy?: string; reason: string } | string {
  const text = words.join(' ');
  const m = /^(\S+) in (\S+) for (\S+)(?: under (\S+))? because (.+)$/.exec(text);
  if (!m) return 'Could not read that request';
  const [, role, namespace, duration, policy, reason] = m as unknown as string[];
  try {
    parseDuration(duration!);
  } catch (err) {
    return (err as Error).message;
  }
  return {
    role: role!,
    namespace: namespace!,
    duration: duration!,
    ...(policy ? { policy } : {}),
    reason: reason!.trim(),
  };
}

export interface SlackApprovalsDeps {
  /** Slack user ID → identity; read on every request, so edits apply at once. */
  identities(): Promise<Map<string, Identity>>;
  /** Creates an AccessApproval as `who` (impersonated, with the Slack extras). */
  createApproval(who: Identity, slackUserId: string, approval: AccessApproval): Promise<void>;
  /** Sets `revoked: true` on a grant as `who` (its requester). */
  revokeGrant(who: Identity, namespace: string, name: string): Promise<void>;
  grants: {
    get(name: string, namespace?: string): AccessGrant | undefined;
    list(): readonly AccessGrant[];
  };
  policies: { get(name: string): AccessPolicy | undefined; list(): readonly AccessPolicy[] };
  /** Creates a grant as `who` (impersonated); returns it as created. */
  createGrant(who: Identity, grant: AccessGrant): Promise<AccessGrant>;
  /** The Slack workspace (team ID) decisions may come from; any when absent. */
  teamId?: string;
  act: ActOn;
  now(): Date;
}

const NOT_MAPPED = (id: string, where: string) =>
  `Timebox does not know who you are in Kubernetes: your Slack user ID ${id} is not in ${where}. Ask an admin to add it. Nothing was done.`;

function ref(text: string | undefined): { namespace: string; name: string } | undefined {
  const m = /^([a-z0-9-]+)\/([a-z0-9.-]+)$/.exec(text ?? '');
  return m ? { namespace: m[1]!, name: m[2]! } : undefined;
}

/** Whether `who` is among a policy's approvers (the controller decides whether it counts). */
function mayApprove(p: AccessPolicy | undefined, who: Identity): boolean {
  const a = p?.spec.approval.approvers;
  return (
    (a?.users ?? []).includes(who.user) || (a?.groups ?? []).some((g) => who.groups?.includes(g))
  );
}

/**
 * What Slack clicks and `/timebox` commands do. A decision is an AccessApproval
 * created as the mapped person, so admission, RBAC and the policy judge it
 * exactly as if they had run `timebox approve`; it is bound to the grant's UID
 * and to the spec hash of the message they clicked in, and records `via: slack`
 * and their Slack user ID.
 */
export function slackApprovals(d: SlackApprovalsDeps, mappingName: string) {
  async function who(slackUserId: string, teamId?: string): Promise<Identity | string> {
    if (d.teamId && teamId !== d.teamId) {
      return `This Timebox takes decisions from Slack workspace ${d.teamId} only. Nothing was done.`;
    }
    return (await d.identities()).get(slackUserId) ?? NOT_MAPPED(slackUserId, mappingName);
  }

  async function decide(
    me: Identity,
    slackUserId: string,
    g: { namespace: string; name: string; uid: string; specHash?: string },
    decision: DecisionKind,
    clickId?: string,
  ): Promise<SlackReply> {
    // Named after the click: a replay of it, to this replica or another, or after
    // the approver withdrew it, finds the name taken and changes nothing.
    const metadata = clickId
      ? {
          name: `${g.name.slice(0, 40)}-slack-${createHash('sha256').update(clickId).digest('hex').slice(0, 16)}`,
          namespace: g.namespace,
        }
      : { generateName: `${g.name.slice(0, 40)}-slack-`, namespace: g.namespace };
    const approval: AccessApproval = {
      apiVersion: 'timebox.dev/v1alpha1',
      kind: 'AccessApproval',
      metadata,
      spec: {
        grantRef: { name: g.name, uid: g.uid, ...(g.specHash ? { specHash: g.specHash } : {}) },
        decision,
        approver: me.user,
        ...(me.groups?.length ? { approverGroups: me.groups } : {}),
        comment: `${decision === 'Approve' ? 'approved' : decision === 'Deny' ? 'denied' : 'revoked'} in Slack`,
        via: 'slack',
        slackUserId,
      },
    };
    try {
      await d.createApproval(me, slackUserId, approval);
    } catch (err) {
      if (isConflict(err))
        return { text: 'This click was recorded already. Nothing more was done.' };
      return { text: `Not recorded: ${apiMessage(err)}` };
    }
    const policy = d.grants.get(g.name, g.namespace)?.spec.policy;
    return {
      text: `Recorded: ${me.user} ${decision === 'Approve' ? 'approves' : decision === 'Deny' ? 'denies' : 'revokes'} ${g.namespace}/${g.name}${g.specHash ? ` (the version shown, spec ${g.specHash.slice(0, 12)}…)` : ''}. It counts if you are an approver of AccessPolicy '${policy}' and not the requester or the subject; the request's message shows the outcome.`,
    };
  }

  /**
   * `request <role> in <namespace> for <duration> [under <policy>] because <reason>`:
   * checked first with the controller's own evaluation, then made as the person.
   */
  async function request(me: Identity, words: string[]): Promise<SlackReply> {
    const parsed = parseRequest(words);
    if (typeof parsed === 'string') return { text: `${parsed}. ${REQUEST_USAGE}` };
    const draft: AccessGrant = {
      metadata: {
        generateName: `${me.user
          .split('@')[0]!
          .replace(/[^a-z0-9-]/g, '-')
          .slice(0, 30)}-${parsed.role.slice(0, 20)}-`,
        namespace: parsed.namespace,
        annotations: {
          [ANNOTATION_REQUESTED_BY]: me.user,
          [ANNOTATION_REQUESTER_GROUPS]: (me.groups ?? []).join(','),
        },
      },
      spec: {
        subject: { kind: 'User', name: me.user },
        policy: parsed.policy ?? '',
        duration: parsed.duration,
        reason: parsed.reason,
        access: [{ kubernetes: { clusterRole: parsed.role, namespaces: [parsed.namespace] } }],
      },
    };
    const candidates = parsed.policy
      ? [d.policies.get(parsed.policy)].filter((p): p is AccessPolicy => p !== undefined)
      : d.policies.list();
    if (parsed.policy && candidates.length === 0) {
      return { text: `Not requested: there is no AccessPolicy '${escapeMrkdwn(parsed.policy)}'.` };
    }
    const choice = choosePolicy(precheck(draft, candidates, d.now()));
    if ('error' in choice) return { text: `Not requested: ${escapeMrkdwn(choice.error)}` };
    let created: AccessGrant;
    try {
      created = await d.createGrant(me, {
        ...draft,
        spec: { ...draft.spec, policy: choice.policy },
      });
    } catch (err) {
      return { text: `Not requested: ${escapeMrkdwn(apiMessage(err))}` };
    }
    const next =
      choice.decision.verdict === 'Approved'
        ? 'approved by the policy; access starts in a moment'
        : escapeMrkdwn(choice.decision.message);
    return {
      text: `Requested ${created.metadata.namespace}/${created.metadata.name} under AccessPolicy '${choice.policy}': ${next}.`,
    };
  }

  return {
    async onAction(a: SlackAction): Promise<SlackReply> {
      const me = await who(a.slackUserId, a.slackTeamId);
      if (typeof me === 'string') return { text: me };
      const grant = d.grants.get(a.grant.name, a.grant.namespace);
      if (!grant || grant.metadata.uid !== a.grant.uid) {
        return { text: `${a.grant.namespace}/${a.grant.name} no longer exists. Nothing was done.` };
      }
      return decide(
        me,
        a.slackUserId,
        a.grant,
        a.action === 'approve' ? 'Approve' : 'Deny',
        a.triggerId,
      );
    },

    async onCommand(c: SlackCommand): Promise<SlackReply> {
      const [sub, arg] = c.args;
      if (sub === 'help' || !['request', 'ls', 'approve', 'deny', 'revoke'].includes(sub ?? '')) {
        return { text: SLACK_HELP_TEXT };
      }
      const me = await who(c.slackUserId, c.slackTeamId);
      if (typeof me === 'string') return { text: me };
      if (sub === 'request') return request(me, c.args.slice(1));
      if (sub === 'ls') {
        const waiting = d.grants
          .list()
          .filter(
            (g) =>
              g.status?.phase === 'Pending' &&
              g.status.requestedBy !== me.user &&
              mayApprove(d.policies.get(g.spec.policy), me),
          );
        const mine = d.grants
          .list()
          .filter((g) => g.status?.requestedBy === me.user && g.status.phase === 'Active');
        // Everything a requester typed is escaped and kept on one line: a reason
        // cannot add a fake line, or a link, to an approver's list.
        const safe = (v: string | undefined) => escapeMrkdwn((v ?? '').replace(/\s+/g, ' '));
        const line = (g: AccessGrant) =>
          `• ${g.metadata.namespace}/${g.metadata.name}: ${safe(g.status?.requestedBy)} (${safe(g.spec.reason) || 'no reason'})`;
        return {
          text: [
            waiting.length ? 'Waiting for you:' : 'Nothing is waiting for you.',
            ...waiting.map(line),
            ...(mine.length
              ? [
                  'Your active grants:',
                  ...mine.map((g) => `${line(g)} until ${g.status?.expiresAt}`),
                ]
              : []),
          ].join('\n'),
        };
      }
      const target = ref(arg);
      if (!target) return { text: `Usage: /timebox ${sub} <namespace>/<grant>` };
      const grant = d.grants.get(target.name, target.namespace);
      if (!grant) return { text: `${arg} does not exist.` };
      if (sub === 'approve' || sub === 'deny') {
        if (grant.status?.phase !== 'Pending') {
          return { text: `${arg} is not waiting for a decision (it is ${grant.status?.phase}).` };
        }
        // Show the request and let them decide on exactly this version with the buttons.
        const n = notificationOf(grant, 'Requested', d.now().toISOString(), d.act);
        const msg = renderSlackMessage(n);
        // Asked to deny, they get no Approve button to press by mistake.
        const keep = sub === 'deny' ? DENY_ACTION_ID : undefined;
        const blocks = msg.blocks.map((b) =>
          b.type === 'actions' && keep
            ? { ...b, elements: b.elements.filter((e) => e.action_id === keep) }
            : b,
        );
        return { text: msg.text, blocks };
      }
      // revoke: the requester ends their own grant; an approver files a Revoke.
      if (grant.status?.requestedBy === me.user) {
        try {
          await d.revokeGrant(me, target.namespace, target.name);
        } catch (err) {
          return { text: `Not revoked: ${apiMessage(err)}` };
        }
        return { text: `Revoked ${arg}: access ends now.` };
      }
      return decide(
        me,
        c.slackUserId,
        { ...target, uid: grant.metadata.uid ?? '' },
        'Revoke',
        c.triggerId,
      );
    },
  };
}
