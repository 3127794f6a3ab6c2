import assert from 'node:assert/strict';
import { appendFileSync, mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLogger } from '../log/logger.ts';
import { FakeClock } from '../runtime/clock.ts';
import type { AuditEvent } from './audit-event.ts';
import { anEvent } from './fixtures.ts';
import { AuditLogFile, MAX_LINE } from './logfile.ts';

const line = (id: string) => JSON.stringify({ kind: 'Event', ...anEvent({ auditID: id }) }) + '\n';

describe('audit log file source', () => {
  let dir: string;
  beforeEach(() => (dir = mkdtempSync(join(tmpdir(), 'timebox-audit-'))));
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('follows new lines from the end, across a torn write and a rotation', async () => {
    const path = join(dir, 'audit.log');
    writeFileSync(path, line('old'));
    const got: AuditEvent[] = [];
    const src = new AuditLogFile({
      path,
      clock: new FakeClock(),
      log: createLogger({ level: 'error' }),
    });
    await src.start((e) => got.push(...e));
    appendFileSync(path, line('a1') + line('a2').slice(0, 20));
    await src.poll();
    assert.deepEqual(
      got.map((e) => e.auditID),
      ['a1'],
      'what was there before start is history',
    );
    appendFileSync(path, line('a2').slice(20) + 'not json\n');
    await src.poll();
    assert.deepEqual(
      got.map((e) => e.auditID),
      ['a1', 'a2'],
    );
    renameSync(path, `${path}.1`);
    writeFileSync(path, line('b1'));
    await src.poll();
    assert.deepEqual(
      got.map((e) => e.auditID),
      ['a1', 'a2', 'b1'],
    );
    await src.stop();
  });

  it('takes a line with a 1 MB URL, and reports a line too long to take as lost', async () => {
    const path = join(dir, 'audit.log');
    writeFileSync(path, '');
    const got: AuditEvent[] = [];
    let lost = 0;
    const src = new AuditLogFile({
      path,
      clock: new FakeClock(),
      log: createLogger({ level: 'error' }),
      onLost: () => lost++,
    });
    await src.start((e) => got.push(...e));
    const long = 'x'.repeat(1_000_000);
    const event = (id: string, name: string) =>
      JSON.stringify({
        kind: 'Event',
        // The API server writes the URL as well as the name.
        requestURI: `/api/v1/secrets/${name}`,
        ...anEvent({ auditID: id, objectRef: { resource: 'secrets', name } }),
      }) + '\n';
    appendFileSync(path, event('long', long));
    appendFileSync(path, event('too-long', 'x'.repeat(MAX_LINE)) + line('after'));
    await src.poll();
    assert.deepEqual(
      got.map((e) => e.auditID),
      ['long', 'after'],
    );
    assert.equal(lost, 1);
    await src.stop();
  });

  it('waits for a file that is not there yet', async () => {
    const path = join(dir, 'later.log');
    const got: AuditEvent[] = [];
    const src = new AuditLogFile({
      path,
      clock: new FakeClock(),
      log: createLogger({ level: 'error' }),
    });
    await src.start((e) => got.push(...e));
    await src.poll();
    writeFileSync(path, line('c1'));
    await src.poll();
    assert.deepEqual(
      got.map((e) => e.auditID),
      ['c1'],
    );
    await src.stop();
  });
});
