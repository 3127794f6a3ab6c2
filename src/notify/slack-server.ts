import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { CoreV1Api, type KubeConfig } from '@kubernetes/client-node';
import {
  EXTRA_SLACK_USER,
  EXTRA_VIA,
  type AccessGrant,
  type AccessPolicy,
} from '../api/v1alpha1/types.ts';
import { timeboxClient, type TimeboxClient } from '../kube/client.ts';
import type { Logger } from '../log/logger.ts';
import { ImpersonatingKubeConfig, type Identity } from '../sandbox/impersonation.ts';
import type { ActOn } from './message.ts';
import { parseSlackUsers, slackApprovals } from './slack-approvals.ts';
import { slackInteractionHandler } from './slack-endpoint.ts';

export interface SlackServerOptions {
  host: string;
  port: number;
  /** The operator's namespace, where the Secret and the ConfigMap are. */
  namespace: string;
  /** Secret with the app's signing secret under key `signing-secret`. */
  secretName: string;
  /** ConfigMap with the Slack user mapping under key `users.yaml`. */
  usersConfigMap: string;
  /** Only decisions from this Slack workspace count; any when absent. */
  teamId?: string;
  /** Slack's Web API base URL when not Slack's own (its origin may take click replies). */
  apiUrl?: string;
  act: ActOn;
}

export const SIGNING_SECRET_KEY = 'signing-secret';
export const USERS_KEY = 'users.yaml';

/** Runs `fn` with a client acting as `who`; nested calls share nothing. */
async function as<T>(
  base: KubeConfig,
  who: Identity,
  fn: (client: TimeboxClient) => Promise<T>,
): Promise<T> {
  const kc = new ImpersonatingKubeConfig(base, who);
  try {
    return await fn(timeboxClient(kc));
  } finally {
    await kc.close();
  }
}

/**
 * Serves Slack's requests (button clicks and `/timebox`) on every replica: a
 * decision is an API write as the person who made it, so it needs no leader.
 * The operator impersonates only the people of the mapping (RBAC resourceNames),
 * and only it may add the Slack extras that admission requires for `via: slack`.
 */
export async function serveSlack(
  kc: KubeConfig,
  opts: SlackServerOptions,
  deps: {
    grants: {
      get(name: string, namespace?: string): AccessGrant | undefined;
      list(): readonly AccessGrant[];
    };
    policies: { get(name: string): AccessPolicy | undefined; list(): readonly AccessPolicy[] };
    log: Logger;
    now?: () => Date;
  },
): Promise<{ port: number; stop(): Promise<void> }> {
  const core = kc.makeApiClient(CoreV1Api);
  const where = `ConfigMap ${opts.namespace}/${opts.usersConfigMap} (key ${USERS_KEY})`;
  let signingSecret: string | undefined;
  try {
    const s = await core.readNamespacedSecret({ namespace: opts.namespace, name: opts.secretName });
    const raw = s.data?.[SIGNING_SECRET_KEY];
    signingSecret = raw ? Buffer.from(raw, 'base64').toString('utf8') : undefined;
  } catch (err) {
    throw new Error(
      `Slack needs its app's signing secret in Secret ${opts.namespace}/${opts.secretName}, key ${SIGNING_SECRET_KEY}: ${(err as Error).message}`,
      { cause: err },
    );
  }
  if (!signingSecret) {
    throw new Error(
      `Secret ${opts.namespace}/${opts.secretName} has no key ${SIGNING_SECRET_KEY}: add the Slack app's signing secret (Basic Information → App Credentials)`,
    );
  }
  const handlers = slackApprovals(
    {
      identities: async () => {
        const cm = await core.readNamespacedConfigMap({
          namespace: opts.namespace,
          name: opts.usersConfigMap,
        });
        return parseSlackUsers(cm.data?.[USERS_KEY] ?? '');
      },
      createApproval: (who, slackUserId, approval) =>
        as(
          kc,
          { ...who, extra: { [EXTRA_VIA]: ['slack'], [EXTRA_SLACK_USER]: [slackUserId] } },
          async (client) => {
            await client.approvals.create(approval);
          },
        ),
      createGrant: (who, grant) => as(kc, who, (client) => client.grants.create(grant)),
      revokeGrant: (who, namespace, name) =>
        as(kc, who, async (client) => {
          await client.grants.mergePatch(namespace, name, { spec: { revoked: true } });
        }),
      grants: deps.grants,
      policies: deps.policies,
      ...(opts.teamId ? { teamId: opts.teamId } : {}),
      act: opts.act,
      now: deps.now ?? (() => new Date()),
    },
    where,
  );
  // Slack shows nothing of the answer to a click: what happened (or why nothing
  // did) goes to the click's response_url, as a message only the clicker sees.
  // Only Slack's own hooks host (or the endpoint standing in for Slack) is called.
  const hooks = new Set([
    'https://hooks.slack.com',
    ...(opts.apiUrl ? [new URL(opts.apiUrl).origin] : []),
  ]);
  const onAction: typeof handlers.onAction = async (a) => {
    const reply = await handlers.onAction(a);
    if (a.responseUrl && hooks.has(new URL(a.responseUrl).origin)) {
      void fetch(a.responseUrl, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({
          response_type: 'ephemeral',
          replace_original: false,
          text: reply.text,
        }),
        redirect: 'error',
        signal: AbortSignal.timeout(10_000),
      })
        .then((r) => r.body?.cancel())
        .catch((err: unknown) => deps.log.warn('could not tell the clicker', { err }));
    }
    return reply;
  };
  const server: Server = createServer(
    slackInteractionHandler({ signingSecret, ...handlers, onAction, log: deps.log }),
  );
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host, resolve);
  });
  const port = (server.address() as AddressInfo).port;
  deps.log.info('serving Slack interactions and /timebox', { port });
  return {
    port,
    stop: () => new Promise<void>((r) => server.close(() => r())),
  };
}
