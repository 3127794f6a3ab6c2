import { describeTarget } from '../api/v1alpha1/describe.ts';
import {
  ANNOTATION_REQUESTED_BY,
  PHASES,
  type AccessGrant,
  type Phase,
} from '../api/v1alpha1/types.ts';
import { newestFirst } from './model.ts';

/** The audit page's filters, as the query string gives them. */
export interface AuditFilter {
  /** Requester or subject, a substring. */
  who?: string;
  policy?: string;
  phase?: Phase;
  /** Created at or after, and before (ISO 8601 or a date). */
  from?: string;
  to?: string;
}

/** Pure: the filters of a query string, or what is wrong with them. */
export function parseAuditFilter(
  q: Record<string, string | undefined>,
): { filter: AuditFilter } | { error: string } {
  const filter: AuditFilter = {};
  const t = (k: string) => q[k]?.trim() || undefined;
  if (t('who')) filter.who = t('who')!;
  if (t('policy')) filter.policy = t('policy')!;
  const phase = t('phase');
  if (phase) {
    if (!(PHASES as readonly string[]).includes(phase)) {
      return { error: `phase must be one of ${PHASES.join(', ')}, got '${phase}'` };
    }
    filter.phase = phase as Phase;
  }
  for (const k of ['from', 'to'] as const) {
    const v = t(k);
    if (!v) continue;
    if (Number.isNaN(Date.parse(v))) {
      return {
        error: `${k} must be a date or time, e.g. 2026-11-01 or 2026-11-01T09:00:00Z; got '${v}'`,
      };
    }
    filter[k] = v;
  }
  return { filter };
}

/** One grant as the audit trail reports it. */
export interface AuditRecord {
  namespace: string;
  name: string;
  uid: string;
  created: string;
  requestedBy: string;
  subject: string;
  policy: string;
  access: string[];
  duration: string;
  reason: string;
  phase: string;
  approvedBy: string[];
  activatedAt: string;
  expiresAt: string;
  endedAt: string;
  specHash: string;
}

export function auditRecord(g: AccessGrant): AuditRecord {
  const s = g.spec.subject;
  return {
    namespace: g.metadata.namespace ?? '',
    name: g.metadata.name ?? '',
    uid: g.metadata.uid ?? '',
    created: String(g.metadata.creationTimestamp ?? ''),
    requestedBy: g.status?.requestedBy ?? g.metadata.annotations?.[ANNOTATION_REQUESTED_BY] ?? '',
    subject: `${s.kind} ${s.namespace ? `${s.namespace}/` : ''}${s.name}`,
    policy: g.spec.policy,
    access: g.spec.access.map(describeTarget),
    duration: g.spec.duration,
    reason: g.spec.reason ?? '',
    phase: g.status?.phase ?? '',
    approvedBy: (g.status?.approvals ?? [])
      .filter((a) => a.decision === 'Approve')
      .map((a) => a.approver),
    activatedAt: g.status?.activatedAt ?? '',
    expiresAt: g.status?.expiresAt ?? '',
    endedAt: g.status?.endedAt ?? '',
    specHash: g.status?.specHash ?? '',
  };
}

/** Pure: the grants the filter keeps, newest first. */
export function filterGrants(grants: readonly AccessGrant[], f: AuditFilter): AccessGrant[] {
  const from = f.from ? Date.parse(f.from) : -Infinity;
  const to = f.to ? Date.parse(f.to) : Infinity;
  const who = f.who?.toLowerCase();
  return newestFirst(
    grants.filter((g) => {
      const r = auditRecord(g);
      const created = Date.parse(r.created);
      if (who && !`${r.requestedBy} ${r.subject}`.toLowerCase().includes(who)) return false;
      if (f.policy && r.policy !== f.policy) return false;
      if (f.phase && r.phase !== f.phase) return false;
      return !(created < from || created >= to);
    }),
  );
}

const COLUMNS: (keyof AuditRecord)[] = [
  'created',
  'namespace',
  'name',
  'uid',
  'requestedBy',
  'subject',
  'policy',
  'access',
  'duration',
  'reason',
  'phase',
  'approvedBy',
  'activatedAt',
  'expiresAt',
  'endedAt',
  'specHash',
];

/**
 * A CSV field (RFC 4180), defused for spreadsheets: a field that starts with
 * `=`, `+`, `-`, `@`, tab or CR would be run as a formula by Excel or Sheets
 * (OWASP's CSV injection), and a reason is anyone's text.
 */
export function csvField(v: string): string {
  const safe = /^[=+\-@\t\r]/.test(v) ? `'${v}` : v;
  return /[",\r\n]/.test(safe) ? `"${safe.replace(/"/g, '""')}"` : safe;
}

/** Pure: the records as CSV, a header row first; lists are joined with `; `. */
export function toCsv(records: readonly AuditRecord[]): string {
  const rows = [
    COLUMNS.join(','),
    ...records.map((r) =>
      COLUMNS.map((c) => {
        const v = r[c];
        return csvField(Array.isArray(v) ? v.join('; ') : v);
      }).join(','),
    ),
  ];
  return rows.join('\r\n') + '\r\n';
}
