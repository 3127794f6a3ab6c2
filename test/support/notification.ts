import type { Notification, NotificationEvent } from '../../src/notify/types.ts';

export const SAMPLE_UID = '4f9c1d2e-0000-4000-8000-000000000001';
/** A spec hash as Timebox writes it: the full SHA-256, 64 hex digits. */
export const SAMPLE_HASH = 'ab'.repeat(32);
export const SAMPLE_APPROVE = `timebox approve alice-debug -n payments --spec-hash ${SAMPLE_HASH}`;
export const SAMPLE_DENY = `timebox deny alice-debug -n payments --spec-hash ${SAMPLE_HASH} --comment '<why>'`;

/**
 * One notification of alice's request for edit in payments, as the notifier
 * builds it (src/notify/message.ts), for the transports' tests: `grant` changes
 * the grant's fields, `over` the rest.
 */
export function sampleNotification(
  event: NotificationEvent = 'Requested',
  over: Partial<Notification> = {},
  grant: Partial<Notification['grant']> = {},
): Notification {
  return {
    id: `${SAMPLE_UID}.${event.toLowerCase()}`,
    event,
    time: '2026-11-25T09:00:00Z',
    summary: 'alice asks for ClusterRole edit in namespaces payments for 1h',
    grant: {
      namespace: 'payments',
      name: 'alice-debug',
      uid: SAMPLE_UID,
      phase: event === 'Requested' ? 'Pending' : 'Active',
      requestedBy: 'alice',
      subject: { kind: 'User', name: 'alice' },
      policy: 'payments-oncall',
      duration: '1h',
      reason: 'INC-42: payments API returns 500',
      access: [{ kubernetes: { clusterRole: 'edit', namespaces: ['payments'] } }],
      specHash: SAMPLE_HASH,
      ...grant,
    },
    ...(event === 'Requested'
      ? {
          act: {
            approveCommand: SAMPLE_APPROVE,
            denyCommand: SAMPLE_DENY,
            portalUrl: 'https://timebox.example/g/1',
          },
        }
      : {}),
    ...over,
  };
}
