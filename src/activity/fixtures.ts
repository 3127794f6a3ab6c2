import { aGrant } from '../api/v1alpha1/testing.ts';
import type { AccessGrant } from '../api/v1alpha1/types.ts';
import type { AuditEvent } from './audit-event.ts';

/** An active grant to alice for edit in payments, from 09:00 to 11:00. */
export function activeGrant(
  overrides: Partial<AccessGrant['spec']> = {},
  name = 'alice-debug',
): AccessGrant {
  const g = aGrant({
    metadata: { name, namespace: 'payments', uid: `uid-${name}` },
    spec: {
      subject: { kind: 'User', name: 'alice@example.com' },
      access: [{ kubernetes: { clusterRole: 'edit', namespaces: ['payments'] } }],
    },
    status: {
      phase: 'Active',
      activatedAt: '2026-11-25T09:00:00.000Z',
      expiresAt: '2026-11-25T11:00:00.000Z',
    },
  });
  return { ...g, spec: { ...g.spec, ...overrides } };
}

/** A completed request, as the API server's audit backend reports it. */
export function anEvent(o: Partial<AuditEvent> & { at?: string } = {}): AuditEvent {
  const { at, ...rest } = o;
  return {
    auditID: 'a1',
    stage: 'ResponseComplete',
    verb: 'get',
    user: { username: 'alice@example.com', groups: ['payments-oncall', 'system:authenticated'] },
    objectRef: { resource: 'pods', namespace: 'payments', name: 'checkout-1' },
    responseStatus: { code: 200 },
    requestReceivedTimestamp: at ?? '2026-11-25T09:30:00.000000Z',
    stageTimestamp: at ?? '2026-11-25T09:30:00.001000Z',
    annotations: { 'authorization.k8s.io/decision': 'allow' },
    ...rest,
  };
}
