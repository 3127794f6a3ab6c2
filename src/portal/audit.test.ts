import assert from 'node:assert/strict';
import { aGrant } from '../api/v1alpha1/testing.ts';
import type { AccessGrant } from '../api/v1alpha1/types.ts';
import { auditRecord, csvField, filterGrants, parseAuditFilter, toCsv } from './audit.ts';

const grant = (
  name: string,
  created: string,
  over: Partial<AccessGrant['status']> = {},
  reason = 'INC-1',
): AccessGrant =>
  aGrant({
    metadata: {
      name,
      creationTimestamp: created as unknown as Date,
      annotations: { 'timebox.dev/requested-by': `${name}@example.com` },
    },
    spec: {
      subject: { name: `${name}@example.com` },
      policy: name === 'carol' ? 'db-admin' : 'payments-oncall',
      reason,
      access: [{ kubernetes: { clusterRole: 'edit', namespaces: ['payments'] } }],
    },
    status: { phase: 'Active', ...over },
  });

const grants = [
  grant('alice', '2026-11-01T10:00:00Z', {
    approvals: [{ approver: 'bob@example.com', decision: 'Approve', at: 'x' }],
  }),
  grant('bob', '2026-11-03T10:00:00Z', { phase: 'Expired' }),
  grant('carol', '2026-11-05T10:00:00Z', { phase: 'Denied' }),
];

describe('portal audit', () => {
  it('filters by who, policy, state and time, newest first', () => {
    const names = (f: Parameters<typeof filterGrants>[1]) =>
      filterGrants(grants, f).map((g) => g.metadata.name);
    assert.deepEqual(names({}), ['carol', 'bob', 'alice']);
    assert.deepEqual(names({ who: 'ALICE' }), ['alice']);
    assert.deepEqual(names({ policy: 'db-admin' }), ['carol']);
    assert.deepEqual(names({ phase: 'Expired' }), ['bob']);
    assert.deepEqual(names({ from: '2026-11-02', to: '2026-11-05' }), ['bob']);
  });

  it('refuses filters it cannot apply, saying what it expects', () => {
    assert.match(
      (parseAuditFilter({ phase: 'Gone' }) as { error: string }).error,
      /one of Pending, Active/,
    );
    assert.match(
      (parseAuditFilter({ from: 'yesterday' }) as { error: string }).error,
      /e\.g\. 2026-11-01/,
    );
    assert.deepEqual(parseAuditFilter({ who: ' bob ', phase: 'Active', to: '' }), {
      filter: { who: 'bob', phase: 'Active' },
    });
  });

  it('exports CSV a spreadsheet cannot be tricked by', () => {
    assert.equal(csvField('=HYPERLINK("http://evil")'), `"'=HYPERLINK(""http://evil"")"`);
    assert.equal(csvField('+1'), "'+1");
    assert.equal(csvField('a,b'), '"a,b"');
    assert.equal(csvField('line\nbreak'), '"line\nbreak"');
    const csv = toCsv([auditRecord(grant('dave', '2026-11-06T00:00:00Z', {}, '@SUM(A1)'))]);
    const [header, row] = csv.trimEnd().split('\r\n');
    assert.match(header!, /^created,namespace,name,uid,requestedBy,subject,policy,access/);
    assert.match(row!, /,'@SUM\(A1\),/);
    assert.match(row!, /kubernetes: ClusterRole edit in namespaces payments/);
  });

  it('records who approved, and when access began and ended', () => {
    const r = auditRecord(grants[0]!);
    assert.deepEqual(r.approvedBy, ['bob@example.com']);
    assert.equal(r.requestedBy, 'alice@example.com');
    assert.equal(r.subject, 'User alice@example.com');
  });
});
