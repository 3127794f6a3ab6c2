import { join, relative } from 'node:path';
import type { KubeConfig } from '@kubernetes/client-node';
import type { NotificationChannel } from '../api/v1alpha1/types.ts';
import { applyManifests, loadManifests, REPO_ROOT } from '../kube/manifests.ts';
import type { Identity } from './impersonation.ts';
import { personKubeconfigPath } from './sandbox.ts';

/** The people `npm start` signs in to its sandbox, each with a token of their own. */
export const DEMO_PEOPLE: (Identity & { role: string })[] = [
  { user: 'alice@example.com', groups: ['payments-oncall'], role: 'on call: may request' },
  { user: 'bob@example.com', groups: ['payments-leads'], role: 'lead: may approve' },
  { user: 'carol@example.com', groups: ['payments-leads'], role: 'lead: may approve' },
];

/**
 * The demo namespace, role bindings, policy and notification channel (config/sandbox,
 * config/samples). With `smtpPort`, the sample channel mails the sandbox's Mailpit
 * instead of its example server.
 */
export async function installDemo(admin: KubeConfig, smtpPort?: number): Promise<void> {
  await applyManifests(admin, loadManifests(join(REPO_ROOT, 'config', 'sandbox')));
  const samples = loadManifests(join(REPO_ROOT, 'config', 'samples'));
  const channels = samples
    .filter((o) => o.kind === 'NotificationChannel')
    .map((o) => (smtpPort ? toMailpit(o as NotificationChannel, smtpPort) : o));
  await applyManifests(admin, [...channels, ...samples.filter((o) => o.kind === 'AccessPolicy')]);
}

function toMailpit(ch: NotificationChannel, smtpPort: number): NotificationChannel {
  if (!ch.spec.email) return ch;
  // Mailpit takes mail without a login: no Secret to create.
  const { secretRef: _none, ...smtp } = ch.spec.email.smtp;
  return {
    ...ch,
    spec: { email: { ...ch.spec.email, smtp: { ...smtp, url: `smtp://127.0.0.1:${smtpPort}` } } },
  };
}

/** What to print so a newcomer can try it, with paths relative to `cwd`. */
export function demoInstructions(
  sandboxDir: string,
  cwd = process.cwd(),
  mailUrl?: string,
  portal?: { url: string; people: { user: string; password: string }[] },
): string {
  const path = (user: string) => relative(cwd, personKubeconfigPath(sandboxDir, user));
  const width = Math.max(...DEMO_PEOPLE.map((p) => p.user.length));
  const [alice, bob] = DEMO_PEOPLE;
  const password = (user: string) => portal?.people.find((p) => p.user === user)?.password;
  return [
    ...(portal
      ? [
          `The self-service portal: ${portal.url}`,
          `  request as ${alice!.user} (password ${password(alice!.user)}), approve as ${bob!.user} (password ${password(bob!.user)}) in another browser or a private window`,
        ]
      : []),
    'Demo people, each with a kubeconfig of their own (policy payments-oncall, namespace payments):',
    ...DEMO_PEOPLE.map(
      (p) =>
        `  ${p.user.padEnd(width)}  ${p.role.padEnd(22)} ${path(p.user)}${password(p.user) ? `  portal password ${password(p.user)}` : ''}`,
    ),
    'Try it:',
    `  KUBECONFIG=${path(alice!.user)} npm run timebox -- request --policy payments-oncall --cluster-role edit --duration 1h --reason 'INC-1 demo' -n payments`,
    `  KUBECONFIG=${path(bob!.user)} npm run timebox -- ls --pending -A`,
    `  KUBECONFIG=${path(bob!.user)} npm run timebox -- approve NAME -n payments`,
    '  or kubectl apply a grant with no identity fields: the webhook stamps who asked.',
    `  What was done with it: use it (KUBECONFIG=${path(alice!.user)} kubectl get pods -n payments), then`,
    `  KUBECONFIG=${path(bob!.user)} npm run timebox -- describe NAME -n payments shows its Activity within 30 s (the portal's grant page too).`,
    '  Tab completion (verbs, options, grant names): npm run build && npm link, then',
    '  source <(timebox completion bash); kubectl completes `kubectl timebox` by itself.',
    ...(mailUrl
      ? [`The mail the payments leads get (NotificationChannel payments-leads): ${mailUrl}`]
      : []),
  ].join('\n');
}
