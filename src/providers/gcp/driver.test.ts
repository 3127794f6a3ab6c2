import assert from 'node:assert/strict';
import type { AccessGrant } from '../../api/v1alpha1/types.ts';
import { FakeClock } from '../../runtime/clock.ts';
import { activeGrant } from '../fixtures.ts';
import { isTerminalError } from '../provider.ts';
import { GcpProvider, type ResourceManagerPort } from './driver.ts';
import { desiredGcpArtefacts, type IamPolicy } from './policy.ts';

const EXPIRES = '2026-11-25T11:00:00.000Z';
const gcpGrant = (uid: string, member: string, role = 'roles/cloudsql.viewer'): AccessGrant =>
  activeGrant(uid, [{ gcp: { resource: 'projects/acme', role, member } }], EXPIRES);
const grant = gcpGrant('uid-1', 'user:alice@example.com');
const [artefact] = desiredGcpArtefacts(grant, EXPIRES);

/** A fake port that counts writes, fails as told, and refuses the role roles/bad. */
function fakePort(failures: { code: number }[] = []) {
  let policy: IamPolicy = { version: 1, bindings: [], etag: 'e0' };
  const writes: IamPolicy[] = [];
  const port: ResourceManagerPort = {
    async getIamPolicy() {
      await new Promise((r) => setImmediate(r));
      return structuredClone(policy);
    },
    async setIamPolicy(_r, p) {
      await new Promise((r) => setImmediate(r));
      const f = failures.shift();
      if (f) throw Object.assign(new Error(`code ${f.code}`), f);
      if (p.bindings?.some((b) => b.role === 'roles/bad'))
        throw Object.assign(new Error('Role roles/bad is not supported'), { code: 3 });
      writes.push(p);
      policy = { ...p, etag: `e${writes.length}` };
      return policy;
    },
  };
  return { port, writes };
}

describe('GCP provider (fake Resource Manager port)', () => {
  const clock = new FakeClock(new Date('2026-11-25T10:00:00Z'));
  const sleeps: number[] = [];
  const provider = (port: ResourceManagerPort) =>
    new GcpProvider(port, { clock, attempts: 3, sleep: async (ms) => void sleeps.push(ms) });

  it('writes with the etag it read, and not at all when nothing changes', async () => {
    const { port, writes } = fakePort();
    const gcp = provider(port);
    await gcp.grant(grant, artefact!);
    await gcp.grant(grant, artefact!);
    assert.equal(writes.length, 1);
    assert.equal(writes[0]!.etag, 'e0');
    assert.equal(writes[0]!.version, 3);
    await gcp.revoke(grant, artefact!);
    await gcp.revoke(grant, artefact!);
    assert.equal(writes.length, 2);
  });

  it('hands a conflict that persists back to the queue as a transient error', async () => {
    const { port, writes } = fakePort([{ code: 10 }, { code: 10 }, { code: 10 }]);
    const err = await provider(port)
      .grant(grant, artefact!)
      .then(
        () => undefined,
        (e: unknown) => e,
      );
    assert.ok(err && !isTerminalError(err), 'retried later, not failed for good');
    assert.equal(writes.length, 0);
  });

  it('backs off on server errors and fails for good on a refused argument', async () => {
    sleeps.length = 0;
    const { port, writes } = fakePort([{ code: 14 }, { code: 8 }]);
    await provider(port).grant(grant, artefact!);
    assert.equal(writes.length, 1);
    assert.ok(sleeps.length === 2 && sleeps[1]! > sleeps[0]!, `backoff grows: ${sleeps}`);
    const bad = fakePort([{ code: 3 }]);
    await assert.rejects(provider(bad.port).grant(grant, artefact!), (e: unknown) =>
      isTerminalError(e),
    );
  });

  it('applies concurrent changes to one resource together, and fails a refused one alone', async () => {
    const { port, writes } = fakePort();
    const gcp = provider(port);
    const entry = (member: string, role?: string) => gcpGrant(member, member, role);
    const give = (g: AccessGrant) => gcp.grant(g, desiredGcpArtefacts(g, EXPIRES)[0]!);
    const members = ['user:a@x', 'user:b@x', 'user:c@x', 'user:d@x'];
    await Promise.all(members.map((m) => give(entry(m))));
    assert.ok(writes.length <= 2, `${writes.length} writes for ${members.length} grants`);
    const results = await Promise.allSettled([
      give(entry('user:e@x')),
      give(entry('user:f@x', 'roles/bad')),
      give(entry('user:g@x')),
    ]);
    assert.deepEqual(
      results.map((r) => r.status),
      ['fulfilled', 'rejected', 'fulfilled'],
    );
    assert.ok(isTerminalError((results[1] as PromiseRejectedResult).reason));
    const held = (await port.getIamPolicy('projects/acme')).bindings!.flatMap((b) => b.members);
    assert.deepEqual(held.sort(), [...members, 'user:e@x', 'user:g@x']);
  });
});
