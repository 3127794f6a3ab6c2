import assert from 'node:assert/strict';
import { ApiException } from '@kubernetes/client-node';
import type { AccessActivity } from '../api/v1alpha1/activity.ts';
import { activeGrant } from '../activity/fixtures.ts';
import { activityObject } from '../activity/object.ts';
import { aGrant } from '../api/v1alpha1/testing.ts';
import { readActivity, type ActivityGetter } from './activity.ts';

const grant = activeGrant();
const record = (uid = grant.metadata.uid!): AccessActivity =>
  activityObject(
    { namespace: 'payments', name: grant.metadata.name!, uid },
    { requests: 3, firstUsed: '2026-11-25T09:30:00.000Z', lastUsed: '2026-11-25T09:40:00.000Z' },
  );
const failing =
  (code: number): ActivityGetter =>
  () =>
    Promise.reject(new ApiException(code, 'refused', '{}', {}));

describe('portal: reading a grant activity record as the person', () => {
  it('gives the record of this grant, asked for by its namespace and name', async () => {
    const asked: string[] = [];
    const read = await readActivity(async (ns, name) => {
      asked.push(`${ns}/${name}`);
      return record();
    }, grant);
    assert.deepEqual(asked, ['payments/alice-debug']);
    assert.equal(read.state, 'recorded');
    assert.equal(read.state === 'recorded' && read.status.requests, 3);
  });

  it('hides it when RBAC refuses the person, with nothing logged', async () => {
    const errors: unknown[] = [];
    assert.deepEqual(await readActivity(failing(403), grant, (e) => errors.push(e)), {
      state: 'hidden',
    });
    assert.deepEqual(errors, []);
  });

  it('never shows the record of an earlier grant of the same name', async () => {
    assert.deepEqual(await readActivity(async () => record('uid-of-another-grant'), grant), {
      state: 'none',
    });
  });

  it('says nothing is recorded when there is no record', async () => {
    assert.deepEqual(await readActivity(async () => undefined, grant), { state: 'none' });
  });

  it('reports any other failure without failing the page', async () => {
    const errors: unknown[] = [];
    assert.deepEqual(await readActivity(failing(503), grant, (e) => errors.push(e)), {
      state: 'unavailable',
    });
    assert.equal(errors.length, 1);
  });

  it('does not ask for the record of a grant that was never active', async () => {
    let asked = false;
    const pending = aGrant({ status: { phase: 'Pending' } });
    const read = await readActivity(async () => {
      asked = true;
      return record();
    }, pending);
    assert.deepEqual(read, { state: 'hidden' });
    assert.equal(asked, false);
  });
});
