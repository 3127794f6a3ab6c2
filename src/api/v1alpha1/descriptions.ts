import { PROVIDER_NAMES } from '../../providers/kinds.ts';

/**
 * What `kubectl explain` says about the fields whose schema in schema.ts does not
 * describe them inline: shared shapes (conditions, Secret references, principals)
 * and status fields. Keyed by path below the kind (`[]` for a list's items).
 * A test requires every field of every kind to be described, here or inline.
 */

const CONDITIONS = {
  conditions: 'The latest observations of its state (metav1.Condition).',
  'conditions[].type': 'Ready, Synced, PersistentEscalation, ...',
  'conditions[].status': 'True, False or Unknown.',
  'conditions[].reason': 'Why, in one CamelCase word; stable, for machines.',
  'conditions[].message': 'Why, in words, with what to do about it.',
  'conditions[].lastTransitionTime': 'When status last changed.',
  'conditions[].observedGeneration': 'The metadata.generation this condition describes.',
  observedGeneration: 'The metadata.generation the status describes.',
};

const secretKeyRef = (at: string) => ({
  [`${at}.namespace`]: "The operator's namespace (the only one Secrets are read from).",
  [`${at}.name`]: 'The Secret.',
  [`${at}.key`]: 'The key of the Secret that holds the value.',
});

export const DESCRIPTIONS: Record<string, Record<string, string>> = {
  AccessGrant: {
    spec: 'What is asked for: who, which access, where, for how long and why. Immutable once created, but for revoked: false -> true.',
    'spec.access[].kubernetes.clusterRole':
      'A ClusterRole to bind (RoleBindings in namespaces, or cluster-wide).',
    'spec.access[].kubernetes.role': 'A Role to bind, in each of namespaces.',
    'spec.access[].kubernetes.namespaces': 'Where the role is bound, one RoleBinding each.',
    'spec.access[].kubernetes.clusterWide':
      'Bind the ClusterRole everywhere (a ClusterRoleBinding), if the policy allows.',
    status: 'Where the grant is, written by the controller only.',
    'status.phase': 'Pending, Active, Expired, Revoked, Denied or Failed; the last four are final.',
    'status.requestedBy': 'Who asked, as the API server authenticated them.',
    'status.approvals': 'The decisions that count, with the spec version each approved.',
    'status.approvals[].approver': 'Who decided.',
    'status.approvals[].decision': 'Approve, Deny or Revoke.',
    'status.approvals[].at': 'When.',
    'status.approvals[].specHash': 'The SHA-256 of the spec decided on.',
    'status.approvals[].comment': "The approver's words.",
    'status.activatedAt': 'When access started (committed before anything was granted).',
    'status.expiresAt': 'When access ends; never later than activatedAt + duration.',
    'status.endedAt': 'When access ended (expiry, revocation or failure).',
    'status.targets': 'Each thing granted (binding, policy, IAM binding) and its state.',
    'status.targets[].provider': `Which provider granted it: ${PROVIDER_NAMES.join(', ')}.`,
    'status.targets[].ref': 'What it is, e.g. RoleBinding payments/timebox-alice-1a2b3c4d.',
    'status.targets[].state': 'Pending, Active, Revoked or Failed.',
    'status.targets[].failSafe':
      'True when the target ends access at expiresAt by itself, even with the operator down.',
    'status.targets[].message': 'Why, when it failed.',
    'status.conditions': CONDITIONS.conditions,
    'status.conditions[].type':
      'Ready (is access as the phase says) or Synced (False while retrying).',
    'status.conditions[].status': CONDITIONS['conditions[].status'],
    'status.conditions[].reason': CONDITIONS['conditions[].reason'],
    'status.conditions[].message': CONDITIONS['conditions[].message'],
    'status.conditions[].lastTransitionTime': CONDITIONS['conditions[].lastTransitionTime'],
    'status.conditions[].observedGeneration': CONDITIONS['conditions[].observedGeneration'],
    'status.history': 'Phase changes, oldest first (the last 20).',
    'status.history[].phase': 'The phase entered.',
    'status.history[].at': 'When.',
    'status.history[].reason': 'Why, in one word.',
    'status.history[].message': 'Why, in words.',
    'status.notifications[].channel': 'The NotificationChannel told.',
    'status.notifications[].event': 'What it was told.',
    'status.notifications[].at': 'When it was delivered.',
    'status.notifications[].ref':
      "The transport's id of the message (Slack: <channel>/<ts>), to update it in place.",
    'status.observedGeneration': CONDITIONS.observedGeneration,
  },
  AccessPolicy: {
    spec: 'Who may ask for what, where, for how long, and who approves.',
    'spec.requesters.users': 'User names.',
    'spec.requesters.groups': 'Group names.',
    'spec.gitops.allowed':
      'Allow grants created by a trusted GitOps identity for the person they name.',
    'spec.access[].kubernetes': 'Kubernetes roles that may be asked for, and where.',
    'spec.access[].kubernetes.clusterRoles': 'ClusterRoles that may be bound.',
    'spec.access[].kubernetes.roles':
      'Roles that may be bound (by name, in the allowed namespaces).',
    'spec.access[].aws':
      'AWS principals, policies and groups that may be asked for (glob patterns).',
    'spec.access[].aws.principalArns': 'IAM roles and users that may receive access.',
    'spec.access[].aws.policyArns': 'Managed policies that may be given.',
    'spec.access[].aws.groupArns': 'IAM groups that may be joined (GroupMembership mode).',
    'spec.access[].gcp': 'GCP resources and roles that may be asked for (glob patterns).',
    'spec.access[].gcp.resources': 'projects/, folders/ or organizations/ resources.',
    'spec.access[].gcp.roles': 'Roles that may be granted.',
    'spec.requireReason': 'Refuse a grant without spec.reason.',
    'spec.notify[].events': 'The events this channel hears about; all when absent.',
    'spec.approval': 'Auto (low risk), or Manual by N of the approvers.',
    'spec.approval.approvers.users': 'Approvers by user name.',
    'spec.approval.approvers.groups': 'Approvers by group.',
    'spec.approval.required': 'How many distinct approvers must approve (N of M); 1 when absent.',
    status: 'What the operator found in the roles the policy hands out.',
    ...Object.fromEntries(Object.entries(CONDITIONS).map(([k, v]) => [`status.${k}`, v])),
    'status.conditions[].type':
      'PersistentEscalation: whether its roles let a holder outlive a grant.',
  },
  AccessApproval: {
    spec: 'One decision on one grant, bound to its UID and to the version of its spec that was reviewed.',
    'spec.grantRef.name': 'The AccessGrant, in this namespace.',
    'spec.grantRef.uid':
      "The grant's metadata.uid: a grant made again under the name is another grant.",
    'spec.comment': 'Why; shown to the requester and recorded in the grant.',
  },
  NotificationChannel: {
    'spec.slack': 'A Slack channel, posted to by a Slack app.',
    ...secretKeyRef('spec.slack.tokenSecretRef'),
    'spec.email': 'Email through an SMTP server.',
    'spec.email.smtp': 'The SMTP server and the sender.',
    'spec.email.smtp.from': 'The From address.',
    'spec.email.smtp.secretRef.namespace':
      "The operator's namespace (the only one Secrets are read from).",
    'spec.email.smtp.secretRef.name': 'The Secret, with keys username and password.',
    'spec.webhook': 'An HTTP endpoint that receives signed CloudEvents.',
    ...secretKeyRef('spec.webhook.secretRef'),
    status: 'Whether the channel delivers.',
    ...Object.fromEntries(Object.entries(CONDITIONS).map(([k, v]) => [`status.${k}`, v])),
    'status.conditions[].type': 'Ready: whether deliveries succeed.',
  },
};

type Node = { description?: string; properties?: Record<string, Node>; items?: Node };

/** Sets the descriptions of `table` on `schema` where it has none (inline ones win). */
export function describe<T>(schema: T, table: Record<string, string>): T {
  const at = (path: string): Node | undefined => {
    let node: Node | undefined = schema as Node;
    for (const part of path.split('.')) {
      const list = part.endsWith('[]');
      node = node?.properties?.[list ? part.slice(0, -2) : part];
      if (list) node = node?.items;
    }
    return node;
  };
  for (const [path, text] of Object.entries(table)) {
    const node = at(path);
    if (!node) throw new Error(`descriptions: no field ${path}`);
    node.description ??= text;
  }
  return schema;
}
