import assert from 'node:assert/strict';
import { cp, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { ApiException } from '@kubernetes/client-node';
import type { AccessActivity } from '../../api/v1alpha1/activity.ts';
import { activeGrant } from '../../activity/fixtures.ts';
import { ActivityTracker, type ActivityStore } from '../../activity/tracker.ts';
import { createLogger } from '../../log/logger.ts';
import { FakeClock } from '../../runtime/clock.ts';
import type { ProviderRequest } from '../kind.ts';
import {
  CloudTrailFiles,
  MAX_CONTAINERS,
  MAX_RECORDS,
  MAX_TEXT_BYTES,
} from './cloudtrail-files.ts';
import { shapeOf } from './cloudtrail-shape.ts';
import { accountOfPath, principalOf, requestsOf } from './cloudtrail.ts';
import { awsKind } from './kind.ts';

/** Recorded CloudTrail files, laid out as CloudTrail delivers them to S3. */
const FIXTURES = fileURLToPath(new URL('../../../test/fixtures/cloudtrail', import.meta.url));
const ALICE_FILE =
  'AWSLogs/111122223333/CloudTrail/eu-west-1/2026/11/25/111122223333_CloudTrail_eu-west-1_20261125T0945Z_Xa1b2c3d4e5f6g7h.json';
const ALICE = 'arn:aws:iam::111122223333:role/alice';

describe('CloudTrail records', () => {
  it('are requests of the role (not its session) or user that made them, once genuine for its account', async () => {
    const body = JSON.parse(await readFile(join(FIXTURES, ALICE_FILE), 'utf8')) as unknown;
    const reqs = requestsOf(body, accountOfPath(ALICE_FILE));
    const line = (r: ProviderRequest) =>
      `${new Date(r.atMs).toISOString().slice(11, 19)} ${r.principal.split(':').at(-1)} ${r.resource} ${r.verb}${r.write ? ' write' : ''}${r.denied ? ` denied ${r.code}` : ''}`;
    assert.deepEqual(reqs.map(line), [
      '09:31:02 role/alice s3.amazonaws.com ListBuckets',
      '09:32:40 role/alice logs.amazonaws.com GetLogEvents',
      '09:33:05 role/alice logs.amazonaws.com GetLogEvents',
      '09:35:11 role/alice ssm.amazonaws.com PutParameter write',
      '09:36:30 role/alice iam.amazonaws.com CreateUser write denied 403',
      '09:37:00 role/alice ec2.amazonaws.com TerminateInstances write denied 403',
      // Outside the window: the record is genuine; attribution leaves it out.
      '08:59:59 role/alice s3.amazonaws.com ListBuckets',
      '11:00:01 role/alice s3.amazonaws.com ListBuckets',
      // Other principals: genuine, and no grant of alice's.
      '09:40:00 user/bob s3.amazonaws.com DeleteBucket write',
      '09:40:05 role/payments-admin s3.amazonaws.com ListBuckets',
      // Not here: a role named alice in another account, alice logged for another
      // account, a session whose issuer is another role, AWS's own events, root.
    ]);
    assert.equal(
      reqs[3]?.name,
      'arn:aws:ssm:eu-west-1:111122223333:parameter/checkout/feature-flag',
    );
  });

  it('in a file delivered for another account never count, however genuine they look', async () => {
    const other =
      'AWSLogs/444455556666/CloudTrail/eu-west-1/2026/11/25/444455556666_CloudTrail_eu-west-1_20261125T0950Z_Zz9y8x7w6v5u4t3s.json';
    const body = JSON.parse(await readFile(join(FIXTURES, other), 'utf8')) as unknown;
    assert.equal(accountOfPath(other), '444455556666');
    const stats = { foreign: 0 };
    assert.deepEqual(requestsOf(body, accountOfPath(other), stats), []);
    assert.equal(stats.foreign, 2, 'logged for 111122223333, so forged into this file');
    assert.equal(requestsOf(body, '111122223333').length, 2, 'the same records are genuine');
  });

  it("name the file's account only at CloudTrail's own path, from the synced directory's top", () => {
    const at = (p: string) => accountOfPath(p);
    assert.equal(
      at('AWSLogs/222222222222/CloudTrail/eu-west-1/2026/11/25/f.json.gz'),
      '222222222222',
    );
    assert.equal(
      at('AWSLogs/o-abc123def4/222222222222/CloudTrail/eu-west-1/2026/11/25/f.json.gz'),
      '222222222222',
      'an organization trail',
    );
    // Whoever may write under 111111111111's prefix (or anywhere else) names no account.
    for (const p of [
      'AWSLogs/111111111111/x/AWSLogs/222222222222/CloudTrail/eu-west-1/f.json',
      'AWSLogs/111111111111/x/AWSLogs/222222222222/CloudTrail/eu-west-1/2026/11/25/f.json',
      'notes/AWSLogs/222222222222/CloudTrail/eu-west-1/2026/11/25/f.json',
      'o-abc123def4/AWSLogs/222222222222/CloudTrail/eu-west-1/2026/11/25/f.json',
      'AWSLogs/222222222222/CloudTrail/eu-west-1/2026/11/25/x/f.json',
      'AWSLogs/222222222222/CloudTrail/eu-west-1/2026/11/25/../../../../../../x/f.json',
      'AWSLogs/222222222222/CloudTrail/f.json',
      'AWSLogs/222222222222/CloudTrail-Digest/eu-west-1/2026/11/25/f.json',
      'AWSLogs/2222222222220/CloudTrail/eu-west-1/2026/11/25/f.json',
      'AWSLogs/111111111111/notes/forged.json',
    ])
      assert.equal(at(p), undefined, p);
  });

  it('in a file outside that layout never count', () => {
    const forged = {
      Records: [
        {
          eventType: 'AwsApiCall',
          eventName: 'PutObject',
          eventSource: 's3.amazonaws.com',
          eventTime: new Date().toISOString(),
          recipientAccountId: '222222222222',
          readOnly: false,
          userIdentity: {
            type: 'IAMUser',
            accountId: '222222222222',
            arn: 'arn:aws:iam::222222222222:user/alice',
          },
        },
      ],
    };
    assert.equal(
      requestsOf(forged, accountOfPath('AWSLogs/111111111111/notes/forged.json')).length,
      0,
    );
    assert.equal(requestsOf(forged, '222222222222').length, 1, 'genuine in its own file');
  });

  it('name a role session by its role, with its path from the session issuer', () => {
    assert.equal(
      principalOf({
        type: 'AssumedRole',
        arn: 'arn:aws:sts::111122223333:assumed-role/alice/s1',
        sessionContext: {
          sessionIssuer: { type: 'Role', arn: 'arn:aws:iam::111122223333:role/oncall/alice' },
        },
      }),
      'arn:aws:iam::111122223333:role/oncall/alice',
    );
    assert.equal(
      principalOf({
        type: 'AssumedRole',
        arn: 'arn:aws-cn:sts::111122223333:assumed-role/alice/s1',
      }),
      'arn:aws-cn:iam::111122223333:role/alice',
    );
    assert.equal(
      principalOf({ type: 'AssumedRole', arn: 'arn:aws:sts::111122223333:federated-user/x' }),
      undefined,
    );
    assert.equal(
      principalOf({ type: 'IAMUser', arn: 'arn:aws:iam::111122223333:root' }),
      undefined,
    );
    assert.equal(
      principalOf({ type: 'IAMUser', arn: 'arn:aws:iam::111122223333:role/alice' }),
      undefined,
      'a user record naming a role is forged',
    );
    assert.equal(principalOf(undefined), undefined);
  });

  it('that are not a CloudTrail file yield nothing', () => {
    for (const body of [null, 'x', 42, {}, { Records: 'no' }, { Records: [null, 1, 'x', {}] }])
      assert.deepEqual(requestsOf(body, '111122223333'), []);
  });
});

describe('The shape of a JSON text', () => {
  const shape = (t: string) =>
    shapeOf(Buffer.from(t), { records: 1e9, containers: 1e9, values: 1e9 });
  it('counts records, objects and arrays, and values, outside strings', () => {
    assert.deepEqual(shape('{"Records":[{"a":[1,2,{}]},{},{"b":"{[,\\"}{"}]}'), {
      records: 3,
      containers: 7,
      values: 11,
    });
    assert.deepEqual(shape('[]'), { records: 0, containers: 1, values: 1 });
  });
  it('stops once a count passes its limit', () => {
    const big = Buffer.from(`{"Records":[${'{},'.repeat(1000)}{}]}`);
    assert.equal(shapeOf(big, { records: 10, containers: 1e9, values: 1e9 }).records, 11);
  });
});

class MemoryStore implements ActivityStore {
  readonly objects = new Map<string, AccessActivity>();
  get(ns: string, name: string) {
    return Promise.resolve(structuredClone(this.objects.get(`${ns}/${name}`)));
  }
  create(a: AccessActivity) {
    const key = `${a.metadata.namespace}/${a.metadata.name}`;
    if (this.objects.has(key)) return Promise.reject(new ApiException(409, 'Conflict', '{}', {}));
    this.objects.set(key, { ...a, metadata: { ...a.metadata, resourceVersion: '1' } });
    return Promise.resolve();
  }
  replace(a: AccessActivity) {
    this.objects.set(`${a.metadata.namespace}/${a.metadata.name}`, a);
    return Promise.resolve();
  }
}

describe('AWS activity from CloudTrail files', () => {
  let dir: string;
  beforeEach(async () => (dir = await mkdtemp(join(tmpdir(), 'timebox-cloudtrail-'))));
  afterEach(() => rm(dir, { recursive: true, force: true }));

  /** Copies the recorded files in, gzipped as CloudTrail delivers them. */
  async function deliver(): Promise<void> {
    for (const name of await readdir(FIXTURES, { recursive: true })) {
      if (!name.endsWith('.json')) continue;
      const to = join(dir, `${name}.gz`);
      await mkdir(dirname(to), { recursive: true });
      await writeFile(to, gzipSync(await readFile(join(FIXTURES, name))));
    }
  }

  function setup() {
    const clock = new FakeClock('2026-11-25T10:00:00Z');
    const store = new MemoryStore();
    // alice's grant gives the alice role AWS access from 09:00 to 11:00 (and edit in payments).
    const grant = activeGrant({
      access: [
        { kubernetes: { clusterRole: 'edit', namespaces: ['payments'] } },
        { aws: { principalArn: ALICE, policyArn: 'arn:aws:iam::aws:policy/ReadOnlyAccess' } },
      ],
    });
    const tracker = new ActivityTracker({
      grants: () => [grant],
      store,
      clock,
      log: createLogger({ level: 'error' }),
      counters: { inc: () => {} },
    });
    return { clock, store, tracker };
  }

  it("counts the grant's principal's calls in its window, by service and call; writes and denials listed", async () => {
    const { store, tracker, clock } = setup();
    const log = createLogger({ level: 'error' });
    const source = await awsKind.activity!.source({
      clock,
      log,
      flags: { 'aws-cloudtrail-dir': dir },
      sink: (r) => tracker.offerRequests('aws', r),
    });
    await source.start();
    // Files there at start are taken as read; these appear afterwards.
    await deliver();
    await (source as CloudTrailFiles).poll();
    await tracker.flush();
    const s = store.objects.get('payments/alice-debug')?.status;
    assert.equal(s?.requests, 4);
    assert.deepEqual(
      s?.counts?.map((c) => `${c.provider} ${c.resource} ${c.verb} ${c.count}`),
      [
        'aws logs.amazonaws.com GetLogEvents 2',
        'aws s3.amazonaws.com ListBuckets 1',
        'aws ssm.amazonaws.com PutParameter 1',
      ],
    );
    assert.deepEqual(
      s?.writes?.map((w) => `${w.verb} ${w.name}`),
      ['PutParameter arn:aws:ssm:eu-west-1:111122223333:parameter/checkout/feature-flag'],
    );
    assert.deepEqual(
      s?.denied?.map((d) => `${d.resource} ${d.verb} ${d.code}`),
      ['iam.amazonaws.com CreateUser 403', 'ec2.amazonaws.com TerminateInstances 403'],
    );
    assert.equal(s?.firstUsed, '2026-11-25T09:31:02.000Z');
    assert.equal(s?.lastUsed, '2026-11-25T09:35:11.000Z');
    // Read once: the next poll finds nothing new.
    assert.equal(await (source as CloudTrailFiles).poll(), 0);
    await source.stop();
  });

  it('takes files already there at start as read, skips digests, and gives up on a file that is not a log', async () => {
    await deliver();
    const seen: ProviderRequest[] = [];
    const files = new CloudTrailFiles({
      dir,
      clock: new FakeClock('2026-11-25T10:00:00Z'),
      log: createLogger({ level: 'error' }),
      sink: (r) => seen.push(...r),
    });
    await files.start();
    assert.equal(await files.poll(), 0);
    const torn = join(dir, 'AWSLogs/111122223333/CloudTrail/eu-west-1/2026/11/25/torn.json.gz');
    await writeFile(torn, gzipSync('{"Records": [').subarray(0, 10));
    for (let i = 0; i < 3; i++) assert.equal(await files.poll(), 0);
    await rm(join(dir, 'AWSLogs/111122223333/CloudTrail'), { recursive: true });
    await cp(join(FIXTURES, ALICE_FILE), join(dir, dirname(ALICE_FILE), 'late.json'), {
      recursive: true,
    });
    assert.equal(await files.poll(), 10);
    assert.equal(seen.length, 10);
    await files.stop();
  });

  /** A source that has taken what is there as read, and the warnings it logs. */
  async function follow() {
    const seen: ProviderRequest[] = [];
    const warnings: string[] = [];
    const files = new CloudTrailFiles({
      dir,
      clock: new FakeClock('2026-11-25T10:00:00Z'),
      log: createLogger({
        level: 'warn',
        format: 'json',
        write: (line) => {
          const { msg, file } = JSON.parse(line) as { msg: string; file: string };
          warnings.push(`${file}: ${msg}`);
        },
      }),
      sink: (r) => seen.push(...r),
    });
    await files.start();
    return { files, seen, warnings };
  }

  /** Writes a file under the synced directory, gzipped when its name says so. */
  async function put(name: string, text: string | Buffer): Promise<void> {
    await mkdir(dirname(join(dir, name)), { recursive: true });
    await writeFile(join(dir, name), name.endsWith('.gz') ? gzipSync(text) : text);
  }

  const DAY = 'CloudTrail/eu-west-1/2026/11/25';

  it("reads no file outside CloudTrail's layout, logging each once, and no record forged into another account's file", async () => {
    const { files, seen, warnings } = await follow();
    const alice = await readFile(join(FIXTURES, ALICE_FILE));
    // Someone who may write under 999999999999's prefix, or beside the logs, writes alice's records.
    await put(`AWSLogs/999999999999/x/AWSLogs/111122223333/${DAY}/forged.json.gz`, alice);
    await put('notes/forged.json', alice);
    // …or under 999999999999's own path: the records say 111122223333.
    await put(`AWSLogs/999999999999/${DAY}/forged.json`, alice);
    assert.equal(await files.poll(), 0);
    assert.equal(await files.poll(), 0);
    assert.deepEqual(files.skipped, {
      layout: 2,
      size: 0,
      records: 0,
      unreadable: 0,
      foreignRecords: 15,
    });
    assert.equal(warnings.length, 3, warnings.join('\n'));
    // The genuine file is still read.
    await put(`AWSLogs/111122223333/${DAY}/genuine.json`, alice);
    assert.equal(await files.poll(), 10);
    assert.equal(seen.length, 10);
    await files.stop();
  });

  it('refuses before parsing a file that unpacks past the limit, or holds too many records or objects, and reads the next', async () => {
    const { files, seen, warnings } = await follow();
    // A gzip bomb: some 64 KiB that unpack to more than the limit.
    await put(`AWSLogs/111122223333/${DAY}/bomb.json.gz`, Buffer.alloc(MAX_TEXT_BYTES + 1, ' '));
    // Small files that would parse into millions of objects.
    await put(
      `AWSLogs/111122223333/${DAY}/records.json.gz`,
      `{"Records":[${'{},'.repeat(MAX_RECORDS)}{}]}`,
    );
    await put(
      `AWSLogs/111122223333/${DAY}/objects.json.gz`,
      `{"Records":[{"a":[${'[],'.repeat(MAX_CONTAINERS)}[]]}]}`,
    );
    // Refused at once, not tried again.
    assert.equal(await files.poll(), 0);
    assert.deepEqual(files.skipped, {
      layout: 0,
      size: 1,
      records: 2,
      unreadable: 0,
      foreignRecords: 0,
    });
    assert.equal(warnings.length, 3, warnings.join('\n'));
    await cp(join(FIXTURES, ALICE_FILE), join(dir, dirname(ALICE_FILE), 'next.json'));
    assert.equal(await files.poll(), 10);
    assert.equal(seen.length, 10);
    assert.equal(files.skipped.size + files.skipped.records + files.skipped.unreadable, 3);
    await files.stop();
  });

  it('is configured by its flag only, and attributes by the principal ARN of the access entry', () => {
    const hook = awsKind.activity!;
    assert.equal(hook.configured({}), false);
    assert.equal(hook.configured({ 'aws-cloudtrail-dir': '/var/log/cloudtrail' }), true);
    assert.deepEqual(
      hook.principals({ principalArn: ALICE, policyArn: 'arn:aws:iam::aws:policy/X' }),
      [ALICE],
    );
  });
});
