import type { AuditEvent } from './audit-event.ts';

/**
 * Where a cluster's audit events come from. Each source hands batches to the
 * sink (the tracker's bounded intake), which never blocks it. Implemented:
 *
 * - the audit webhook backend Timebox serves (webhook.ts), for clusters whose
 *   API server flags you control (--audit-webhook-config-file);
 * - an audit log file (logfile.ts), for API servers that write one
 *   (--audit-log-path) on a node Timebox can read;
 * - CloudWatch Logs, for EKS (cloudwatch.ts), read by the leader alone;
 * - other managed control planes (GKE, AKS) expose audit logs only through their
 *   cloud's logging service (Cloud Logging, Azure Monitor); a source for one
 *   would poll or subscribe to it and hand on the events it parses. The record
 *   and attribution do not change.
 */
export interface AuditSource {
  readonly name: string;
  start(sink: (events: AuditEvent[]) => void): Promise<void>;
  stop(): Promise<void>;
}
