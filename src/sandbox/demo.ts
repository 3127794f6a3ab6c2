import { join, relative } from 'node:path';
import type { KubeConfig } from '@kubernetes/client-node';
import { applyManifests, loadManifests, REPO_ROOT } from '../kube/manifests.ts';
import type { Identity } from './impersonation.ts';
import { personKubeconfigPath } from './sandbox.ts';

/** The people `npm start` signs in to its sandbox, each with a token of their own. */
export const DEMO_PEOPLE: (Identity & { role: string })[] = [
  { user: 'alice@example.com', groups: ['payments-oncall'], role: 'on call: may request' },
  { user: 'bob@example.com', groups: ['payments-leads'], role: 'lead: may approve' },
  { user: 'carol@example.com', groups: ['payments-leads'], role: 'lead: may approve' },
];

/** The demo namespace, role bindings and policy (config/sandbox, config/samples). */
export async function installDemo(admin: KubeConfig): Promise<void> {
  await applyManifests(admin, loadManifests(join(REPO_ROOT, 'config', 'sandbox')));
  await applyManifests(
    admin,
    loadManifests(join(REPO_ROOT, 'config', 'samples')).filter((o) => o.kind === 'AccessPolicy'),
  );
}

/** What to print so a newcomer can try it, with paths relative to `cwd`. */
export function demoInstructions(sandboxDir: string, cwd = process.cwd()): string {
  const path = (user: string) => relative(cwd, personKubeconfigPath(sandboxDir, user));
  const width = Math.max(...DEMO_PEOPLE.map((p) => p.user.length));
  const [alice, bob] = DEMO_PEOPLE;
  return [
    'Demo people, each with a kubeconfig of their own (policy payments-oncall, namespace payments):',
    ...DEMO_PEOPLE.map((p) => `  ${p.user.padEnd(width)}  ${p.role.padEnd(22)} ${path(p.user)}`),
    'Try it:',
    `  KUBECONFIG=${path(alice!.user)} npm run timebox -- request --policy payments-oncall --cluster-role edit --duration 1h --reason 'INC-1 demo' -n payments`,
    `  KUBECONFIG=${path(bob!.user)} npm run timebox -- ls --pending -A`,
    `  KUBECONFIG=${path(bob!.user)} npm run timebox -- approve NAME -n payments`,
    '  or kubectl apply a grant with no identity fields: the webhook stamps who asked.',
  ].join('\n');
}
