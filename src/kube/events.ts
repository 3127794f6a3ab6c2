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
  /** Queues an event; never blocks or fails the caller. */
  record(obj: InvolvedObject, type: 'Normal' | 'Warning', reason: string, message: string): void;
  /** Resolves once every queued event has been sent (or has failed). */
  flush(): Promise<void>;
}

/**
 * Writes core/v1 Events, the audit trail `kubectl describe` shows. Like
 * client-go's recorder it is asynchronous and best effort: events go out from a
 * bounded background queue, so they never add latency to a grant or a
 * revocation, and a failed event is logged, never allowed to fail a reconcile.
 */
export function eventRecorder(
  kc: KubeConfig,
  component: string,
  instance: string,
  clock: Clock,
  log: Logger,
): EventRecorder {
  const api = kc.makeApiClient(CoreV1Api);
  // An expiry burst records one event per grant, faster than 4 writers send them
  // while the API server is busy deleting bindings: 10,000 grants expiring in a
  // minute queued 7,000 events at 1,000 dropped most of them. A few MB at most.
  const MAX_QUEUED = 20_000;
  const MAX_IN_FLIGHT = 4;
  const queue: (() => Promise<void>)[] = [];
  let inFlight = 0;
  let dropped = 0;
  let idle: (() => void)[] = [];
  const pump = () => {
    if (dropped > 0 && queue.length < MAX_QUEUED / 2) {
      log.warn('event queue was full; events were dropped', { dropped });
      dropped = 0;
    }
    while (inFlight < MAX_IN_FLIGHT && queue.length > 0) {
      const send = queue.shift()!;
      inFlight++;
      void send().finally(() => {
        inFlight--;
        pump();
        if (inFlight === 0 && queue.length === 0) {
          for (const r of idle) r();
          idle = [];
        }
      });
    }
  };
  const send = async (
    obj: InvolvedObject,
    type: 'Normal' | 'Warning',
    reason: string,
    message: string,
    now: Date,
  ) => {
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
  };
  return {
    record(obj, type, reason, message) {
      if (queue.length >= MAX_QUEUED) {
        // Logged once the queue drains, with a count, not once per event.
        dropped++;
        return;
      }
      const now = clock.now();
      queue.push(() => send(obj, type, reason, message, now));
      pump();
    },
    flush() {
      if (inFlight === 0 && queue.length === 0) return Promise.resolve();
      return new Promise<void>((resolve) => idle.push(resolve));
    },
  };
}
