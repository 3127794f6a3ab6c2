import { randomBytes } from 'node:crypto';
import { CoreV1Api, type KubeConfig } from '@kubernetes/client-node';
import type { Logger } from '../log/logger.ts';
import type { Clock } from '../runtime/clock.ts';

export interface InvolvedObject {
  apiVersion: string;
  kind: string;
  name: string;
  namespace: string;
  uid: string;
  resourceVersion?: string;
}

export interface EventRecorder {
  record(
    obj: InvolvedObject,
    type: 'Normal' | 'Warning',
    reason: string,
    message: string,
  ): Promise<void>;
}

/**
 * Writes core/v1 Events, the audit trail `kubectl describe` shows. Recording is
 * best effort: a failed event is logged, never allowed to fail a reconcile.
 */
export function eventRecorder(
  kc: KubeConfig,
  component: string,
  instance: string,
  clock: Clock,
  log: Logger,
): EventRecorder {
  const api = kc.makeApiClient(CoreV1Api);
  return {
    async record(obj, type, reason, message) {
      const now = clock.now();
      try {
        await api.createNamespacedEvent({
          namespace: obj.namespace,
          body: {
            metadata: {
              name: `${obj.name}.${now.getTime().toString(16)}${randomBytes(2).toString('hex')}`,
              namespace: obj.namespace,
            },
            involvedObject: obj,
            type,
            reason,
            message: message.slice(0, 1024),
            source: { component },
            reportingComponent: `timebox.dev/${component}`,
            reportingInstance: instance,
            firstTimestamp: now,
            lastTimestamp: now,
            count: 1,
          },
        });
      } catch (err) {
        log.warn('could not record event', { reason, object: `${obj.namespace}/${obj.name}`, err });
      }
    },
  };
}
