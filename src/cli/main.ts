#!/usr/bin/env node
import { randomBytes } from 'node:crypto';
import { basename } from 'node:path';
import { parseArgs } from 'node:util';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  ApiException,
  AuthenticationV1Api,
  CustomObjectsApi,
  KubeConfig,
  PatchStrategy,
  setHeaderOptions,
} from '@kubernetes/client-node';
import { stringify } from 'yaml';
import {
  ACCESS_APPROVAL,
  ACCESS_GRANT,
  ACCESS_POLICY,
  ANNOTATION_REQUESTED_BY,
  AWS_MODES,
  GROUP,
  isTerminal,
  VERSION,
  type AccessGrant,
  type AccessPolicy,
  type AccessTarget,
  type AwsMode,
} from '../api/v1alpha1/types.ts';
import { parseDuration } from '../api/v1alpha1/duration.ts';
import { specHash } from '../policy/evaluate.ts';
import { precheck } from '../policy/precheck.ts';
import { requestFor } from '../policy/request.ts';
import { httpStatus } from '../kube/errors.ts';
import { reviewLines } from './review.ts';
import { describeTarget } from '../api/v1alpha1/describe.ts';

/** Exit codes: scripts can tell a refusal from a broken invocation. */
export const EXIT = { ok: 0, failure: 1, usage: 2, denied: 3 } as const;

class UsageError extends Error {}
class DeniedError extends Error {}

const PROG = basename(process.argv[1] ?? 'timebox').startsWith('kubectl-')
  ? 'kubectl timebox'
  : 'timebox';

const HELP = `${PROG}: just-in-time access with Timebox

Usage:
  ${PROG} request --policy POLICY (--cluster-role ROLE | --role ROLE) --duration 2h --reason TEXT
                  [--target-namespace NS ...] [--cluster-wide]
                  [--aws-principal ARN (--aws-policy ARN [--aws-mode AttachPolicy] | --aws-group ARN)]
                  [--gcp-resource R --gcp-role ROLE --gcp-member M] [--name NAME] [--start-at TIME]
                  [--wait [--timeout 10m]]
  ${PROG} approve NAME [--comment TEXT] [--spec-hash HASH]
  ${PROG} deny NAME --comment TEXT [--spec-hash HASH]
  ${PROG} revoke NAME [--comment TEXT]
  ${PROG} ls [--mine (default) | --pending | --all] [-A]
  ${PROG} describe NAME
  ${PROG} portal --public-url URL --issuer URL --client-id ID   (the web portal; see portal --help)

Common options:
  -n, --namespace NS     namespace of the grant (default: the context's namespace, else default)
  -o, --output FORMAT    json or yaml instead of the human-readable form
  --kubeconfig FILE      kubeconfig to use (default: $KUBECONFIG or ~/.kube/config)
  --context NAME         kubeconfig context

approve and deny print what you decide on and bind your decision to exactly that
version of the request; --spec-hash (from describe) refuses if it is not the one.
revoke ends your own grant, or, as an approver of its policy, anyone's (--comment).

request checks what you ask against its policy first, and makes nothing the
policy would deny. --wait waits until the grant is Active (or --timeout passes).

Exit codes: 0 success; 1 the cluster refused or failed (the message says why);
2 wrong usage; 3 the request was refused, or denied or failed (with --wait).`;

interface Ctx {
  kc: KubeConfig;
  api: CustomObjectsApi;
  namespace: string;
  output?: 'json' | 'yaml';
  out: (s: string) => void;
  /** For what a person should read but a script should not parse. */
  err: (s: string) => void;
}

async function whoAmI(kc: KubeConfig): Promise<{ user: string; groups: string[] }> {
  const review = await kc.makeApiClient(AuthenticationV1Api).createSelfSubjectReview({
    body: { apiVersion: 'authentication.k8s.io/v1', kind: 'SelfSubjectReview' },
  });
  const info = review.status?.userInfo;
  if (!info?.username)
    throw new Error('the API server did not say who you are (SelfSubjectReview)');
  // system: groups are implied for everyone and make poor claims.
  return {
    user: info.username,
    groups: (info.groups ?? []).filter((g) => !g.startsWith('system:')),
  };
}

const grants = (ctx: Ctx) => ({
  get: async (name: string) =>
    (await ctx.api.getNamespacedCustomObject({
      group: GROUP,
      version: VERSION,
      plural: ACCESS_GRANT.plural,
      namespace: ctx.namespace,
      name,
    })) as AccessGrant,
});

function print(ctx: Ctx, data: unknown, human: () => string): void {
  if (ctx.output === 'json') ctx.out(JSON.stringify(data, null, 2));
  else if (ctx.output === 'yaml') ctx.out(stringify(data).trimEnd());
  else ctx.out(human());
}

function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  return rows
    .map((r) =>
      r
        .map((c, i) => c.padEnd(widths[i]!))
        .join('   ')
        .trimEnd(),
    )
    .join('\n');
}

function until(expiresAt: string | undefined, now = Date.now()): string {
  if (!expiresAt) return '';
  const ms = Date.parse(expiresAt) - now;
  if (ms <= 0) return expiresAt;
  const m = Math.round(ms / 60_000);
  return `${expiresAt} (in ${m >= 60 ? `${Math.floor(m / 60)}h${m % 60}m` : `${m}m`})`;
}

/**
 * Refuses, before anything is made, a request its policy would deny: a role
 * typo, a missing reason, the wrong namespace, an unknown policy. The controller's
 * own evaluation and words; it decides again once the grant exists.
 */
async function precheckRequest(ctx: Ctx, grant: AccessGrant): Promise<void> {
  let policy: AccessPolicy;
  try {
    policy = (await ctx.api.getClusterCustomObject({
      group: GROUP,
      version: VERSION,
      plural: ACCESS_POLICY.plural,
      name: grant.spec.policy,
    })) as AccessPolicy;
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
  const access: AccessTarget[] = [];
  const clusterRole = v['cluster-role'] as string | undefined;
  const role = v.role as string | undefined;
  if (clusterRole && role) throw new UsageError('give --cluster-role or --role, not both');
  if (clusterRole || role) {
    const targets = (v['target-namespace'] as string[] | undefined) ?? [ctx.namespace];
    access.push({
      kubernetes: {
        ...(clusterRole ? { clusterRole } : { role: role! }),
        ...(v['cluster-wide'] ? { clusterWide: true } : { namespaces: targets }),
      },
    });
  }
  if (v['aws-principal'] || v['aws-policy'] || v['aws-group'] || v['aws-mode']) {
    const mode =
      (v['aws-mode'] as string | undefined) ?? (v['aws-group'] ? 'GroupMembership' : undefined);
    if (mode !== undefined && !(AWS_MODES as readonly string[]).includes(mode)) {
      throw new UsageError(`--aws-mode must be one of ${AWS_MODES.join(', ')}, got '${mode}'`);
    }
    const group = mode === 'GroupMembership';
    if (!v['aws-principal'] || (group ? !v['aws-group'] : !v['aws-policy'])) {
      throw new UsageError(
        group
          ? 'AWS group membership needs --aws-principal (a user ARN) and --aws-group'
          : 'AWS access needs both --aws-principal and --aws-policy',
      );
    }
    access.push({
      aws: {
        principalArn: v['aws-principal'] as string,
        ...(group
          ? { groupArn: v['aws-group'] as string }
          : { policyArn: v['aws-policy'] as string }),
        ...(mode ? { mode: mode as AwsMode } : {}),
      },
    });
  }
  if (v['gcp-resource'] || v['gcp-role'] || v['gcp-member']) {
    if (!v['gcp-resource'] || !v['gcp-role'] || !v['gcp-member']) {
      throw new UsageError('GCP access needs --gcp-resource, --gcp-role and --gcp-member');
    }
    access.push({
      gcp: {
        resource: v['gcp-resource'] as string,
        role: v['gcp-role'] as string,
        member: v['gcp-member'] as string,
      },
    });
  }
  if (access.length === 0) {
    throw new UsageError(
      'say what you need: --cluster-role/--role, --aws-principal/--aws-policy or --gcp-*',
    );
  }
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
  await ctx.api.createNamespacedCustomObject({
    group: GROUP,
    version: VERSION,
    plural: ACCESS_GRANT.plural,
    namespace: ctx.namespace,
    body,
  });
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
  for (;;) {
    const g = await grants(ctx).get(name);
    const phase = g.status?.phase;
    const ready = g.status?.conditions?.find((c) => c.type === 'Ready');
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
  const body = {
    apiVersion: `${GROUP}/${VERSION}`,
    kind: ACCESS_APPROVAL.kind,
    metadata: { generateName: `${name.slice(0, 200)}-`, namespace: ctx.namespace },
    spec: {
      grantRef: { name, uid: g.metadata.uid, specHash: hash },
      decision,
      approver: me.user,
      ...(me.groups.length ? { approverGroups: me.groups } : {}),
      ...(comment ? { comment } : {}),
    },
  };
  const created = await ctx.api.createNamespacedCustomObject({
    group: GROUP,
    version: VERSION,
    plural: ACCESS_APPROVAL.plural,
    namespace: ctx.namespace,
    body,
  });
  print(
    ctx,
    created,
    () =>
      `${decision === 'Approve' ? 'approved' : 'denied'} accessgrant ${ctx.namespace}/${name} as ${me.user}`,
  );
}

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
    const created = await ctx.api.createNamespacedCustomObject({
      group: GROUP,
      version: VERSION,
      plural: ACCESS_APPROVAL.plural,
      namespace: ctx.namespace,
      body: {
        apiVersion: `${GROUP}/${VERSION}`,
        kind: ACCESS_APPROVAL.kind,
        metadata: { generateName: `${name.slice(0, 200)}-`, namespace: ctx.namespace },
        spec: {
          grantRef: { name, uid: current.metadata.uid },
          decision: 'Revoke',
          approver: me.user,
          ...(me.groups.length ? { approverGroups: me.groups } : {}),
          comment,
        },
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
  const g = (await ctx.api.patchNamespacedCustomObject(
    {
      group: GROUP,
      version: VERSION,
      plural: ACCESS_GRANT.plural,
      namespace: ctx.namespace,
      name,
      body: { spec: { revoked: true } },
    },
    setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
  )) as AccessGrant;
  print(
    ctx,
    g,
    () => `accessgrant ${ctx.namespace}/${name} revoked; access ends now and the record is kept`,
  );
}

async function approverOf(
  policy: AccessPolicy | undefined,
  me: { user: string; groups: string[] },
): Promise<boolean> {
  const a = policy?.spec.approval.approvers;
  return (a?.users ?? []).includes(me.user) || (a?.groups ?? []).some((g) => me.groups.includes(g));
}

async function list(ctx: Ctx, v: Record<string, unknown>): Promise<void> {
  const all = v['all-namespaces']
    ? ((await ctx.api.listClusterCustomObject({
        group: GROUP,
        version: VERSION,
        plural: ACCESS_GRANT.plural,
      })) as { items: AccessGrant[] })
    : ((await ctx.api.listNamespacedCustomObject({
        group: GROUP,
        version: VERSION,
        plural: ACCESS_GRANT.plural,
        namespace: ctx.namespace,
      })) as { items: AccessGrant[] });
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
          (await ctx.api
            .getClusterCustomObject({
              group: GROUP,
              version: VERSION,
              plural: ACCESS_POLICY.plural,
              name: g.spec.policy,
            })
            .catch(() => undefined)) as AccessPolicy | undefined,
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

async function describe(ctx: Ctx, name: string | undefined): Promise<void> {
  if (!name) throw new UsageError("describe needs the grant's NAME");
  const g = await grants(ctx).get(name);
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
    ];
    if (s.phase === 'Pending' && s.specHash) {
      lines.push(
        `Approve with:  ${PROG} approve ${g.metadata.name} -n ${g.metadata.namespace} --spec-hash ${specHash(g.spec)}`,
      );
    }
    return lines.join('\n');
  });
}

function explain(err: unknown, ctx: Partial<Ctx>): string {
  if (err instanceof ApiException) {
    let message: string;
    try {
      message = (JSON.parse(String(err.body)) as { message?: string }).message ?? '';
    } catch {
      message = String(err.body);
    }
    if (err.code === 404 && /accessgrants/.test(message)) {
      return `${message}; list yours with: ${PROG} ls -n ${ctx.namespace ?? 'default'}`;
    }
    if (err.code === 404 && /the server could not find the requested resource/.test(message)) {
      return 'Timebox is not installed in this cluster (no timebox.dev API); install the CRDs from crds/';
    }
    return message || `the API server answered HTTP ${err.code}`;
  }
  return err instanceof Error ? err.message : String(err);
}

/** Options every command takes. */
const COMMON = ['namespace', 'output', 'kubeconfig', 'context', 'help'];
/** The options of each command, so that one given to the wrong command is refused, not ignored. */
const OPTIONS_OF: Record<string, string[]> = {
  request: [
    'policy',
    'cluster-role',
    'role',
    'target-namespace',
    'cluster-wide',
    'aws-principal',
    'aws-policy',
    'aws-group',
    'aws-mode',
    'gcp-resource',
    'gcp-role',
    'gcp-member',
    'duration',
    'reason',
    'name',
    'start-at',
    'wait',
    'timeout',
  ],
  approve: ['comment', 'spec-hash'],
  deny: ['comment', 'spec-hash'],
  revoke: ['comment'],
  ls: ['mine', 'pending', 'all', 'all-namespaces'],
  list: ['mine', 'pending', 'all', 'all-namespaces'],
  describe: [],
};

function checkOptionsOf(command: string, values: Record<string, unknown>): void {
  const allowed = OPTIONS_OF[command];
  if (!allowed) return; // an unknown command is reported as such
  for (const [option, value] of Object.entries(values)) {
    if (value === undefined || COMMON.includes(option) || allowed.includes(option)) continue;
    throw new UsageError(
      `--${option} is not an option of ${command}${allowed.length ? `; it takes ${allowed.map((o) => `--${o}`).join(', ')}` : ''}`,
    );
  }
}

/** Edit distance, for suggestions. */
function distance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let diag = row[0]!;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const up = row[j]!;
      row[j] = Math.min(up + 1, row[j - 1]! + 1, diag + (a[i - 1] === b[j - 1] ? 0 : 1));
      diag = up;
    }
  }
  return row[b.length]!;
}

/** parseArgs's "Unknown option" in words, with the nearest real option. */
function unknownOption(message: string): string {
  const given = /Unknown option '-{1,2}([^']+)'/.exec(message)?.[1];
  if (!given) return message;
  const all = [...new Set([...COMMON, ...Object.values(OPTIONS_OF).flat()])];
  const [best] = all.map((o) => [o, distance(given, o)] as const).sort((x, y) => x[1] - y[1]);
  const hint = best && best[1] <= 3 ? `; did you mean --${best[0]}?` : '';
  return `unknown option --${given}${hint}`;
}

export async function run(
  argv: string[],
  out = (s: string) => console.log(s),
  err = (s: string) => console.error(s),
): Promise<number> {
  let ctx: Partial<Ctx> = {};
  // The portal is a server with options of its own (src/portal/main.ts).
  if (argv[0] === 'portal')
    return (await import('../portal/main.ts')).runPortal(argv.slice(1), out, err);
  try {
    const { values, positionals } = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        namespace: { type: 'string', short: 'n' },
        output: { type: 'string', short: 'o' },
        kubeconfig: { type: 'string' },
        context: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
        policy: { type: 'string' },
        'cluster-role': { type: 'string' },
        role: { type: 'string' },
        'target-namespace': { type: 'string', multiple: true },
        'cluster-wide': { type: 'boolean' },
        'aws-principal': { type: 'string' },
        'aws-policy': { type: 'string' },
        'aws-group': { type: 'string' },
        'aws-mode': { type: 'string' },
        'gcp-resource': { type: 'string' },
        'gcp-role': { type: 'string' },
        'gcp-member': { type: 'string' },
        duration: { type: 'string' },
        reason: { type: 'string' },
        name: { type: 'string' },
        'start-at': { type: 'string' },
        wait: { type: 'boolean' },
        timeout: { type: 'string' },
        comment: { type: 'string' },
        'spec-hash': { type: 'string' },
        mine: { type: 'boolean' },
        pending: { type: 'boolean' },
        all: { type: 'boolean' },
        'all-namespaces': { type: 'boolean', short: 'A' },
      },
    }) as { values: Record<string, unknown>; positionals: string[] };
    const [command, name] = positionals;
    if (values.help || !command) {
      out(HELP);
      return command || values.help ? EXIT.ok : EXIT.usage;
    }
    checkOptionsOf(command, values);
    if (values.output && values.output !== 'json' && values.output !== 'yaml') {
      throw new UsageError(`-o must be json or yaml, not '${values.output}'`);
    }
    const kc = new KubeConfig();
    if (values.kubeconfig) kc.loadFromFile(values.kubeconfig as string);
    else kc.loadFromDefault();
    if (values.context) kc.setCurrentContext(values.context as string);
    if (!kc.getCurrentCluster())
      throw new UsageError('no cluster configured: set KUBECONFIG or pass --kubeconfig');
    const contextNs = kc.getContextObject(kc.getCurrentContext())?.namespace;
    ctx = {
      kc,
      api: kc.makeApiClient(CustomObjectsApi),
      namespace: (values.namespace as string | undefined) ?? contextNs ?? 'default',
      ...(values.output ? { output: values.output as 'json' | 'yaml' } : {}),
      out,
      err,
    };
    const c = ctx as Ctx;
    switch (command) {
      case 'request':
        await request(c, values);
        break;
      case 'approve':
        await decide(
          c,
          name,
          'Approve',
          values.comment as string | undefined,
          values['spec-hash'] as string | undefined,
        );
        break;
      case 'deny':
        await decide(
          c,
          name,
          'Deny',
          values.comment as string | undefined,
          values['spec-hash'] as string | undefined,
        );
        break;
      case 'revoke':
        await revoke(c, name, values.comment as string | undefined);
        break;
      case 'ls':
      case 'list':
        await list(c, values);
        break;
      case 'describe':
        await describe(c, name);
        break;
      default:
        throw new UsageError(`unknown command '${command}'; see ${PROG} --help`);
    }
    return EXIT.ok;
  } catch (e) {
    if (e instanceof UsageError || (e instanceof TypeError && /option|argument/i.test(e.message))) {
      err(
        `error: ${e instanceof TypeError ? unknownOption(e.message) : (e as Error).message}\nsee ${PROG} --help`,
      );
      return EXIT.usage;
    }
    if (e instanceof DeniedError) {
      err(`error: ${e.message}`);
      return EXIT.denied;
    }
    err(`error: ${explain(e, ctx)}`);
    return EXIT.failure;
  }
}

// Run directly (`node src/cli/main.ts`); installed, bin/timebox.mjs checks the
// Node.js version first and calls run().
if (import.meta.url === `file://${process.argv[1]}`) {
  process.exitCode = await run(process.argv.slice(2));
}
