import {
  CoordinationV1Api,
  CoreV1Api,
  RbacAuthorizationV1Api,
  V1MicroTime,
} from '@kubernetes/client-node';
import type { KubeConfig } from '@kubernetes/client-node';
import {
  ANNOTATION_EXPIRES_AT,
  LABEL_GRANT_UID,
  type AccessGrant,
} from '../src/api/v1alpha1/types.ts';
import { grantWriter, involved } from '../src/controller/grants.ts';
import { watchTimes } from './grants.ts';

/** The Lease the operator campaigns for (src/operator.ts), in the namespace it defaults to. */
const LEASE = { name: 'timebox-controller-leader', namespace: 'timebox-system' };

/**
 * Holds the operator's Lease in the name of no running replica, so an operator
 * started now serves the identity webhook (every create still goes through it)
 * but reconciles nothing; `release` gives the Lease up, and the operator takes it.
 */
export async function holdLease(kc: KubeConfig): Promise<{ release(): Promise<void> }> {
  const api = kc.makeApiClient(CoordinationV1Api);
  // A plain Date serialises with milliseconds, which a Lease's MicroTime refuses.
  const now = new V1MicroTime(Date.now());
  // One left by an earlier round's operator, which led after the release.
  await api.deleteNamespacedLease(LEASE).catch(() => undefined);
  await api.createNamespacedLease({
    namespace: LEASE.namespace,
    body: {
      metadata: { name: LEASE.name, namespace: LEASE.namespace },
      spec: {
        holderIdentity: 'bench-floor',
        leaseDurationSeconds: 3600,
        acquireTime: now,
        renewTime: now,
      },
    },
  });
  // Renewed as a holder would: an elector may take a Lease whose record stops
  // changing for its own lease duration, whatever leaseDurationSeconds says.
  const renew = setInterval(() => {
    void api
      .readNamespacedLease(LEASE)
      .then((lease) =>
        api.replaceNamespacedLease({
          ...LEASE,
          body: { ...lease, spec: { ...lease.spec, renewTime: new V1MicroTime(Date.now()) } },
        }),
      )
      .catch(() => undefined);
  }, 2_000);
  return {
    release: async () => {
      clearInterval(renew);
      await api.deleteNamespacedLease({ name: LEASE.name, namespace: LEASE.namespace });
    },
  };
}

/**
 * The API server's share of activation: a client with no logic at all that, for
 * each grant created in namespace `bench`, makes the writes the operator makes to
 * activate it (the commit of `expiresAt`, the RoleBinding, the Active status, two
 * Events), `concurrency` grants at a time. How long after the last create it is
 * done is the floor no operator can beat on this API server and these CPUs.
 */
export async function activateBare(
  kc: KubeConfig,
  concurrency: number,
): Promise<{ stop(): void; done: Set<string> }> {
  const writer = grantWriter(kc);
  const rbac = kc.makeApiClient(RbacAuthorizationV1Api);
  const core = kc.makeApiClient(CoreV1Api);
  const queue: AccessGrant[] = [];
  const done = new Set<string>();
  const seen = new Set<string>();
  const waiting: (() => void)[] = [];
  let stopped = false;
  const event = (g: AccessGrant, reason: string) =>
    core.createNamespacedEvent({
      namespace: 'bench',
      body: {
        metadata: { generateName: `${g.metadata.name}.`, namespace: 'bench' },
        involvedObject: involved(g),
        type: 'Normal',
        reason,
        message: `${reason} by the bench's bare client`,
        source: { component: 'bench-floor' },
        firstTimestamp: new Date(),
        lastTimestamp: new Date(),
        count: 1,
      },
    });
  /** One write, asked again (with the grant read afresh for a 409) as a controller would. */
  const step = async <T>(g: AccessGrant, write: (g: AccessGrant) => Promise<T>): Promise<T> => {
    for (let attempt = 0; ; attempt++) {
      try {
        return await write(g);
      } catch (err) {
        const e = err as { code?: number; body?: unknown };
        if (process.env.BENCH_DEBUG) console.error('bare client:', String(e.body).slice(0, 400));
        if (
          stopped ||
          attempt >= 100 ||
          (e.code !== 409 && e.code !== 429 && (e.code ?? 500) < 500)
        )
          throw err;
        if (e.code === 409) g = await writer.get(g.metadata.namespace ?? '', g.metadata.name ?? '');
        // A refused connection (an API server out of breath) has no code: asked again too.
        await new Promise((r) => setTimeout(r, 100));
      }
    }
  };
  const activate = async (g: AccessGrant): Promise<void> => {
    const now = new Date();
    const expiresAt = new Date(now.getTime() + 3600_000).toISOString();
    const binding = `timebox-${g.metadata.name}-floor`;
    const committed = await step(g, (cur) =>
      writer.patchStatus(cur, { phase: 'Pending', activatedAt: now.toISOString(), expiresAt }),
    );
    await step(g, () =>
      rbac.createNamespacedRoleBinding({
        namespace: 'bench',
        body: {
          metadata: {
            name: binding,
            labels: { [LABEL_GRANT_UID]: g.metadata.uid ?? '' },
            annotations: { [ANNOTATION_EXPIRES_AT]: expiresAt },
          },
          roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'view' },
          subjects: [
            { apiGroup: 'rbac.authorization.k8s.io', kind: 'User', name: g.spec.subject.name },
          ],
        },
      }),
    );
    await step(committed, (cur) =>
      writer.patchStatus(cur, {
        phase: 'Active',
        activatedAt: now.toISOString(),
        expiresAt,
        targets: [
          {
            provider: 'kubernetes',
            ref: `RoleBinding bench/${binding}`,
            state: 'Active',
            failSafe: false,
          },
        ],
      }),
    );
    await Promise.all([step(g, () => event(g, 'Approved')), step(g, () => event(g, 'Granted'))]);
    done.add(g.metadata.name ?? '');
  };
  const worker = async (): Promise<void> => {
    while (!stopped) {
      const g = queue.shift();
      if (!g) {
        await new Promise<void>((r) => waiting.push(r));
        continue;
      }
      await activate(g).catch((err: unknown) => {
        console.error(`bare client gave up on ${g.metadata.name}: ${String(err)}`);
      });
    }
  };
  const stopWatch = await watchTimes(
    kc,
    '/apis/timebox.dev/v1alpha1/namespaces/bench/accessgrants',
    (type, obj) => {
      const g = obj as unknown as AccessGrant;
      const name = g.metadata.name ?? '';
      if (type !== 'ADDED' || seen.has(name) || g.status?.phase) return;
      seen.add(name);
      queue.push(g);
      waiting.shift()?.();
    },
  );
  const workers = Array.from({ length: concurrency }, () => worker());
  return {
    done,
    stop: () => {
      stopped = true;
      stopWatch();
      for (const w of waiting.splice(0)) w();
      void Promise.allSettled(workers);
    },
  };
}
