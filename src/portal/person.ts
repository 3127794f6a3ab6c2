import {
  AuthenticationV1Api,
  KubeConfig,
  bufferFromFileOrString,
  type RequestContext,
} from '@kubernetes/client-node';
import { Agent, type Dispatcher } from 'undici';
import type { AccessActivity } from '../api/v1alpha1/activity.ts';
import type { AccessGrant, AccessPolicy } from '../api/v1alpha1/types.ts';
import { timeboxClient, type TimeboxClient } from '../kube/client.ts';
import { httpStatus } from '../kube/errors.ts';
import { appendHeaders } from '../sandbox/impersonation.ts';
import type { Me } from './model.ts';

/**
 * How the portal speaks to the API server for a person:
 * - `token`: with the person's own ID token as the bearer token. The API server
 *   authenticates them itself; the portal holds no Kubernetes power at all.
 * - `impersonate`: as its own identity, impersonating the user and groups of the
 *   verified token, for clusters that do not trust the issuer. The portal's
 *   identity may then act as anyone: see docs/portal.md.
 */
export type AuthMode = 'token' | 'impersonate';

/** Who a request is made for: a bearer token, or an identity to impersonate. */
export type Credentials = { token: string } | { impersonate: Me };

/**
 * KubeConfigs for people, sharing one connection pool. Each request and watch
 * carries the person's credentials, added per request, so nothing of one
 * person's can leak into another's.
 */
export class PeopleConfigs {
  private readonly base: KubeConfig;
  private readonly pool: Agent;
  private readonly mode: AuthMode;

  /**
   * `base` names the API server and its CA. In token mode any credentials of its
   * user are dropped; in impersonate mode they are the portal's own.
   */
  constructor(base: KubeConfig, mode: AuthMode) {
    this.mode = mode;
    const cluster = base.getCurrentCluster();
    if (!cluster) throw new Error('the kubeconfig has no current cluster for the portal to use');
    if (mode === 'token') {
      const bare = new KubeConfig();
      bare.loadFromOptions({
        clusters: [cluster],
        users: [{ name: 'portal-visitor' }],
        contexts: [{ name: 'portal', cluster: cluster.name, user: 'portal-visitor' }],
        currentContext: 'portal',
      });
      this.base = bare;
    } else {
      this.base = base;
    }
    const user = this.base.getCurrentUser();
    this.pool = new Agent({
      // HTTP/2 would fold repeated Impersonate-Group headers into one.
      allowH2: false,
      connect: {
        ca: bufferFromFileOrString(cluster.caFile, cluster.caData) ?? undefined,
        cert: bufferFromFileOrString(user?.certFile, user?.certData) ?? undefined,
        key: bufferFromFileOrString(user?.keyFile, user?.keyData) ?? undefined,
        rejectUnauthorized: !cluster.skipTLSVerify,
      },
    });
  }

  get authMode(): AuthMode {
    return this.mode;
  }

  configFor(creds: Credentials): KubeConfig {
    if ('token' in creds !== (this.mode === 'token')) {
      throw new Error(
        `${'token' in creds ? 'a token' : 'an identity to impersonate'} in ${this.mode} mode`,
      );
    }
    const headers: [string, string][] =
      'token' in creds
        ? [['Authorization', `Bearer ${creds.token}`]]
        : [
            ['Impersonate-User', creds.impersonate.user],
            ...creds.impersonate.groups.map((g): [string, string] => ['Impersonate-Group', g]),
          ];
    return new PersonKubeConfig(this.base, this.pool, headers);
  }

  async close(): Promise<void> {
    await this.pool.close();
  }
}

class PersonKubeConfig extends KubeConfig {
  private readonly pool: Dispatcher;
  private readonly headers: [string, string][];

  constructor(base: KubeConfig, pool: Dispatcher, headers: [string, string][]) {
    super();
    this.loadFromString(base.exportConfig());
    this.pool = pool;
    this.headers = headers;
  }

  override async applySecurityAuthentication(context: RequestContext): Promise<void> {
    await super.applySecurityAuthentication(context);
    const headers = this.headers;
    context.setDispatcher(
      this.pool.compose(
        (dispatch) => (opts, handler) =>
          dispatch({ ...opts, headers: appendHeaders(opts.headers, headers) as never }, handler),
      ) as Parameters<RequestContext['setDispatcher']>[0],
    );
  }
}

/** What a person does, as themselves: every call is checked by RBAC and admission. */
export class PersonApi {
  readonly kc: KubeConfig;
  private readonly client: TimeboxClient;

  constructor(kc: KubeConfig) {
    this.kc = kc;
    this.client = timeboxClient(kc);
  }

  /** Who the API server says this is (SelfSubjectReview); system: groups are left out. */
  async whoAmI(): Promise<Me> {
    const review = await this.kc.makeApiClient(AuthenticationV1Api).createSelfSubjectReview({
      body: { apiVersion: 'authentication.k8s.io/v1', kind: 'SelfSubjectReview' },
    });
    const info = review.status?.userInfo;
    if (!info?.username) throw new Error('the API server did not say who you are');
    return {
      user: info.username,
      groups: (info.groups ?? []).filter((g) => !g.startsWith('system:')),
    };
  }

  async policies(): Promise<AccessPolicy[]> {
    try {
      return (await this.client.policies.list()).items;
    } catch (err) {
      if (httpStatus(err) === 403) return [];
      throw err;
    }
  }

  /**
   * Every grant this person may read: all namespaces when RBAC lets them list
   * there, else the namespaces of `policies`, each as far as they may.
   */
  async grants(
    policies: readonly AccessPolicy[],
  ): Promise<{ items: AccessGrant[]; resourceVersion?: string; namespaces?: string[] }> {
    try {
      return await this.client.grants.list();
    } catch (err) {
      if (httpStatus(err) !== 403) throw err;
    }
    const namespaces = [...new Set(policies.flatMap((p) => p.spec.namespaces))].filter(
      (n) => n !== '*',
    );
    const items: AccessGrant[] = [];
    // Only where the person may list: a watch elsewhere would fail at once.
    const readable: string[] = [];
    for (const namespace of namespaces) {
      try {
        items.push(...(await this.client.grants.list(namespace)).items);
        readable.push(namespace);
      } catch (err) {
        if (httpStatus(err) !== 403) throw err;
      }
    }
    return { items, namespaces: readable };
  }

  async grant(namespace: string, name: string): Promise<AccessGrant | undefined> {
    try {
      return await this.client.grants.get(namespace, name);
    } catch (err) {
      if (httpStatus(err) === 404) return undefined;
      throw err;
    }
  }

  /** A grant's activity record; a 403 (RBAC says no) is thrown, for the caller to hide it. */
  async activity(namespace: string, name: string): Promise<AccessActivity | undefined> {
    try {
      return await this.client.activities.get(namespace, name);
    } catch (err) {
      if (httpStatus(err) === 404) return undefined;
      throw err;
    }
  }

  create(grant: AccessGrant): Promise<AccessGrant> {
    return this.client.grants.create(grant);
  }

  /**
   * Records a decision on exactly the version `reviewed` names: the grant's UID
   * and the hash of the spec the person was shown. The controller counts it only
   * for that version.
   */
  async decide(
    g: AccessGrant,
    me: Me,
    decision: 'Approve' | 'Deny' | 'Revoke',
    reviewed: { uid: string; specHash?: string },
    comment?: string,
  ): Promise<void> {
    const name = g.metadata.name!;
    await this.client.approvals.create({
      metadata: { generateName: `${name.slice(0, 200)}-`, namespace: g.metadata.namespace! },
      spec: {
        grantRef: {
          name,
          uid: reviewed.uid,
          ...(reviewed.specHash ? { specHash: reviewed.specHash } : {}),
        },
        decision,
        approver: me.user,
        ...(me.groups.length ? { approverGroups: me.groups } : {}),
        ...(comment ? { comment } : {}),
      },
    });
  }

  /** The requester ends their own grant (admission refuses anyone else's edit). */
  async revokeOwn(g: AccessGrant): Promise<void> {
    // The UID precondition: a grant deleted and made again under the same name is not revoked by mistake.
    await this.client.grants.mergePatch(g.metadata.namespace!, g.metadata.name!, {
      metadata: { uid: g.metadata.uid },
      spec: { revoked: true },
    });
  }
}
