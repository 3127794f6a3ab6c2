import assert from 'node:assert/strict';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { run } from '@bufbuild/cel';
import { timestampFromDate } from '@bufbuild/protobuf/wkt';
import type { AccessGrant } from '../../src/api/v1alpha1/types.ts';
import type { GcpAccess } from '../../src/providers/gcp/api.ts';
import { GcpProvider, resourceManagerPort } from '../../src/providers/gcp/driver.ts';
import { desiredGcpArtefacts, expiryCondition } from '../../src/providers/gcp/policy.ts';
import { TerminalError } from '../../src/providers/provider.ts';
import { activeGrant } from '../../src/providers/fixtures.ts';
import { systemClock } from '../../src/runtime/clock.ts';
import { startGcpIamServer, type GcpIamServer } from '../support/gcp.ts';

const EXPIRES = '2099-11-25T11:00:00.000Z';
const PROJECT = 'projects/acme-prod';
const ALICE = 'user:alice@example.com';
const theirs = { role: 'roles/viewer', members: ['group:sre@example.com'] };

const grant = (uid: string, gcp: Partial<GcpAccess> = {}): AccessGrant =>
  activeGrant(
    uid,
    [{ gcp: { resource: PROJECT, role: 'roles/cloudsql.viewer', member: ALICE, ...gcp } }],
    EXPIRES,
  );

describe('GCP provider against a local IAM policy server, with the real Resource Manager client', function () {
  this.timeout(30_000);
  let server: GcpIamServer;
  let gcp: GcpProvider;
  const give = async (g: AccessGrant) => {
    for (const a of desiredGcpArtefacts(g, EXPIRES)) await gcp.grant(g, a);
  };
  const take = async (g: AccessGrant) => {
    for (const a of desiredGcpArtefacts(g, EXPIRES)) await gcp.revoke(g, a);
  };

  beforeEach(async () => {
    server = await startGcpIamServer();
    server.addResource(PROJECT, { version: 1, bindings: [theirs] });
    gcp = new GcpProvider(resourceManagerPort({ endpoint: server.endpoint }), {
      clock: systemClock,
      sleep: async () => {},
    });
  });
  afterEach(() => server.stop());

  it('adds a version 3 conditional binding that IAM itself ends at expiresAt', async () => {
    const g = grant('uid-1');
    await give(g);
    const p = server.policy(PROJECT);
    assert.equal(p.version, 3);
    const mine = p.bindings!.find((b) => b.condition?.title === 'timebox-uid-1')!;
    assert.deepEqual(mine.members, [ALICE]);
    assert.deepEqual(p.bindings![0], theirs, 'other bindings are left alone');
    assert.deepEqual(await gcp.observe(g), desiredGcpArtefacts(g, EXPIRES));
    // The oracle: an independent CEL evaluator on the stored condition.
    const holds = (at: string) =>
      run(mine.condition!.expression, {
        request: new Map([['time', timestampFromDate(new Date(at))]]),
      });
    assert.equal(holds('2099-11-25T10:59:59Z'), true);
    assert.equal(holds('2099-11-25T11:00:00Z'), false);
  });

  it('keeps overlapping grants apart and revokes idempotently', async () => {
    const a = grant('uid-a');
    const b = grant('uid-b');
    await give(a);
    await give(b);
    await take(a);
    await take(a);
    assert.deepEqual(await gcp.observe(a), []);
    assert.equal((await gcp.observe(b)).length, 1, "the other grant's binding is intact");
  });

  it("retries an etag conflict, keeping the concurrent writer's change", async () => {
    const other = { role: 'roles/logging.viewer', members: ['user:carol@example.com'] };
    server.writeAfterNextRead(PROJECT, (p) => ({ ...p, bindings: [...(p.bindings ?? []), other] }));
    await give(grant('uid-c'));
    assert.equal(server.stats.conflicts, 1);
    const roles = server.policy(PROJECT).bindings!.map((b) => b.role);
    assert.deepEqual(roles, ['roles/viewer', 'roles/logging.viewer', 'roles/cloudsql.viewer']);
  });

  it('converges through 503 and 429 responses', async () => {
    server.failNext(2, { httpStatus: 503, status: 'UNAVAILABLE' });
    server.failNext(2, { httpStatus: 429, status: 'RESOURCE_EXHAUSTED', method: 'setIamPolicy' });
    const g = grant('uid-f');
    await give(g);
    assert.ok(server.stats.injected >= 4);
    assert.equal((await gcp.observe(g)).length, 1);
  });

  it('cleans up expired Timebox bindings when it writes', async () => {
    const dead = {
      role: 'roles/cloudsql.viewer',
      members: ['user:old@example.com'],
      condition: expiryCondition('uid-old', 'payments/old', '2020-01-01T00:00:00Z'),
    };
    server.addResource(PROJECT, { version: 3, bindings: [theirs, dead] });
    await give(grant('uid-n'));
    const titles = server.policy(PROJECT).bindings!.map((b) => b.condition?.title);
    assert.deepEqual(titles, [undefined, 'timebox-uid-n']);
  });

  it('fails for good, without crashing, when there are no Google credentials', async () => {
    const saved = process.env.GOOGLE_APPLICATION_CREDENTIALS;
    // Application Default Credentials pointing nowhere; never the real API.
    process.env.GOOGLE_APPLICATION_CREDENTIALS = join(tmpdir(), 'timebox-no-such-key.json');
    // In the operator an unhandled rejection ends the process: count them here.
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown) => unhandled.push(reason);
    process.on('unhandledRejection', onUnhandled);
    try {
      const noCreds = new GcpProvider(resourceManagerPort(), { clock: systemClock });
      const g = grant('uid-nc');
      for (let i = 0; i < 2; i++) {
        await assert.rejects(
          noCreds.grant(g, desiredGcpArtefacts(g, EXPIRES)[0]!),
          (e: unknown) =>
            e instanceof TerminalError &&
            e.reason === 'NoCredentials' &&
            /Workload Identity/.test(e.message),
        );
      }
      // Node.js reports a rejection nobody handled once the microtasks have run,
      // before the next turn of the event loop: every promise these calls made
      // has settled by now, so one turn is the barrier.
      await new Promise((r) => setImmediate(r));
      assert.deepEqual(unhandled, []);
    } finally {
      process.off('unhandledRejection', onUnhandled);
      if (saved === undefined) delete process.env.GOOGLE_APPLICATION_CREDENTIALS;
      else process.env.GOOGLE_APPLICATION_CREDENTIALS = saved;
    }
  });

  it('fails for good, granting nothing, on an unknown role or resource', async () => {
    const badRole = grant('uid-r', { role: 'roles/nosuch.role' });
    await assert.rejects(
      give(badRole),
      (e: unknown) =>
        e instanceof TerminalError &&
        e.reason === 'InvalidArgument' &&
        /roles\/nosuch\.role/.test(e.message),
    );
    const badProject = grant('uid-p', { resource: 'projects/nope' });
    await assert.rejects(
      give(badProject),
      (e: unknown) => e instanceof TerminalError && e.reason === 'PermissionDenied',
    );
    assert.deepEqual(server.policy(PROJECT).bindings, [theirs]);
    assert.deepEqual(await gcp.observe(badProject), [], 'nothing is held there');
    await take(badRole); // revoking what was never granted succeeds
  });
});
