import assert from 'node:assert/strict';
import type { AccessGrant } from '../../api/v1alpha1/types.ts';
import type { AwsAccess } from './api.ts';
import { TerminalError } from '../provider.ts';
import { activeGrant } from '../fixtures.ts';
import { desiredAwsArtefacts, standingKey } from './artefacts.ts';
import { AwsProvider, type IamPort, type Principal } from './driver.ts';
import type { PolicyDocument } from './policy.ts';

const EXPIRES = '2026-11-25T11:00:00.000Z';
const ROLE = 'arn:aws:iam::111122223333:role/alice';
const USER = 'arn:aws:iam::111122223333:user/alice';
const BIG = 'arn:aws:iam::aws:policy/ReadOnlyAccess';
const GROUP = 'arn:aws:iam::111122223333:group/oncall';

const noSuchEntity = (what: string) =>
  Object.assign(new Error(`${what} not found`), { name: 'NoSuchEntityException' });

/** An in-memory IAM with just the behaviour the port promises. */
class FakeIam implements IamPort {
  principals = new Map<string, { tags: Record<string, string>; attached: Set<string> }>();
  groups = new Map<string, Set<string>>();
  inline = new Map<string, string>();
  calls: string[] = [];

  constructor() {
    for (const p of ['role/alice', 'user/alice']) {
      this.principals.set(p, { tags: {}, attached: new Set() });
    }
    this.groups.set('oncall', new Set());
  }
  private p(pr: Principal) {
    const p = this.principals.get(`${pr.kind}/${pr.name}`);
    if (!p) throw noSuchEntity(pr.name);
    return p;
  }
  async managedPolicyDocument(arn: string): Promise<PolicyDocument> {
    return {
      Version: '2012-10-17',
      Statement: [{ Effect: 'Allow', Action: 's3:Get*', Resource: arn }],
    };
  }
  async putInlinePolicy(pr: Principal, name: string, doc: string) {
    this.p(pr);
    this.inline.set(`${pr.name}/${name}`, doc);
  }
  async getInlinePolicy(pr: Principal, name: string) {
    const d = this.inline.get(`${pr.name}/${name}`);
    return d ? (JSON.parse(d) as PolicyDocument) : undefined;
  }
  async deleteInlinePolicy(pr: Principal, name: string) {
    this.inline.delete(`${pr.name}/${name}`);
  }
  async listTags(pr: Principal) {
    return { ...this.p(pr).tags };
  }
  async tag(pr: Principal, k: string, v: string) {
    this.calls.push(`tag ${k}`);
    this.p(pr).tags[k] = v;
  }
  async untag(pr: Principal, keys: string[]) {
    this.calls.push(`untag ${keys.join(',')}`);
    for (const k of keys) delete this.p(pr).tags[k];
  }
  async attachedPolicies(pr: Principal) {
    return [...this.p(pr).attached];
  }
  async attachPolicy(pr: Principal, arn: string) {
    this.calls.push('attach');
    this.p(pr).attached.add(arn);
  }
  async detachPolicy(pr: Principal, arn: string) {
    this.calls.push('detach');
    this.p(pr).attached.delete(arn);
  }
  async groupsOf(user: string) {
    return [...this.groups].filter(([, m]) => m.has(user)).map(([g]) => g);
  }
  async addToGroup(user: string, group: string) {
    this.groups.get(group)!.add(user);
  }
  async removeFromGroup(user: string, group: string) {
    this.groups.get(group)?.delete(user);
  }
}

const grant = (uid: string, aws: AwsAccess): AccessGrant => activeGrant(uid, [{ aws }], EXPIRES);

describe('AWS provider (fake IAM port)', () => {
  let iam: FakeIam;
  let aws: AwsProvider;
  const attach = (uid: string) =>
    grant(uid, { principalArn: ROLE, policyArn: BIG, mode: 'AttachPolicy' });
  const give = async (g: AccessGrant) => {
    for (const a of desiredAwsArtefacts(g, EXPIRES)) await aws.grant(g, a);
  };
  const take = async (g: AccessGrant) => {
    for (const a of await aws.observe(g)) await aws.revoke(g, a);
  };
  const attached = () => iam.principals.get('role/alice')!.attached.has(BIG);

  beforeEach(() => {
    iam = new FakeIam();
    aws = new AwsProvider(iam);
  });

  it('marks only the inline policy as fail-safe', () => {
    const inline = desiredAwsArtefacts(grant('u', { principalArn: ROLE, policyArn: BIG }), EXPIRES);
    assert.deepEqual(
      inline.map((a) => [a.ref, a.failSafe]),
      [[`InlinePolicy ${ROLE} timebox-u`, true]],
    );
    assert.deepEqual(
      desiredAwsArtefacts(attach('u'), EXPIRES).map((a) => a.failSafe),
      [false],
    );
  });

  it('keeps an attached policy until the last of the overlapping grants ends', async () => {
    const a = attach('a');
    const b = attach('b');
    await give(a);
    await give(b);
    assert.equal(attached(), true);
    await take(a);
    assert.equal(attached(), true, "a's expiry must not remove b's access");
    assert.deepEqual(await aws.observe(a), []);
    assert.equal((await aws.observe(b)).length, 1);
    await take(b);
    assert.equal(attached(), false);
    assert.deepEqual(iam.principals.get('role/alice')!.tags, {});
  });

  it('never removes a policy the principal held before any grant', async () => {
    iam.principals.get('role/alice')!.attached.add(BIG);
    const a = attach('a');
    await give(a);
    await take(a);
    assert.equal(attached(), true, 'standing access stays');
    assert.deepEqual(iam.principals.get('role/alice')!.tags, {}, 'and no tag is left behind');
  });

  it('keeps the standing marker while a later grant still claims the policy', async () => {
    iam.principals.get('role/alice')!.attached.add(BIG);
    await give(attach('a'));
    await give(attach('b'));
    await take(attach('a'));
    assert.ok(iam.principals.get('role/alice')!.tags[standingKey(BIG)]);
    await take(attach('b'));
    assert.equal(attached(), true);
  });

  it('writes the claim before the access, and removes the access before the claim', async () => {
    const a = attach('a');
    await give(a);
    assert.match(iam.calls[0]!, /^tag timebox:a:/);
    assert.equal(iam.calls[1], 'attach');
    iam.calls = [];
    await take(a);
    assert.equal(iam.calls[0], 'detach');
    assert.match(iam.calls[1]!, /^untag timebox:a:/);
  });

  it('rewrites an inline policy in which a statement was freed from its expiry', async () => {
    const g = grant('t', { principalArn: ROLE, policyArn: BIG });
    const [want] = desiredAwsArtefacts(g, EXPIRES);
    await aws.grant(g, want!);
    assert.deepEqual(await aws.observe(g), [want]);
    const key = 'alice/timebox-t';
    const doc = JSON.parse(iam.inline.get(key)!) as PolicyDocument;
    const statements = Array.isArray(doc.Statement) ? doc.Statement : [doc.Statement];
    statements.push({ Effect: 'Allow', Action: '*', Resource: '*' });
    iam.inline.set(key, JSON.stringify({ ...doc, Statement: statements }));
    const [seen] = await aws.observe(g);
    assert.notDeepEqual(seen, want, 'plan() sees the drift');
    await aws.grant(g, want!);
    assert.deepEqual(await aws.observe(g), [want]);
  });

  it('repairs a detached policy that a grant still claims', async () => {
    const a = attach('a');
    await give(a);
    iam.principals.get('role/alice')!.attached.delete(BIG);
    const [seen] = await aws.observe(a);
    const [want] = desiredAwsArtefacts(a, EXPIRES);
    assert.notDeepEqual(seen!.body, want!.body, 'the drift is visible to plan()');
    await aws.grant(a, want!);
    assert.equal(attached(), true);
  });

  it('reference-counts group membership the same way', async () => {
    const g = (uid: string) =>
      grant(uid, { principalArn: USER, groupArn: GROUP, mode: 'GroupMembership' });
    await give(g('a'));
    await give(g('b'));
    await take(g('a'));
    assert.deepEqual(await iam.groupsOf('alice'), ['oncall']);
    await take(g('b'));
    assert.deepEqual(await iam.groupsOf('alice'), []);
  });

  it('fails for good, with the ARN, when the principal does not exist', async () => {
    const g = grant('x', {
      principalArn: 'arn:aws:iam::111122223333:role/nobody',
      policyArn: BIG,
      mode: 'AttachPolicy',
    });
    await assert.rejects(
      give(g),
      (e: unknown) =>
        e instanceof TerminalError && e.reason === 'NotFound' && /role\/nobody/.test(e.message),
    );
    await take(g); // revoking what never existed succeeds
  });

  it('fails for good, saying what to configure, when it has no AWS credentials', async () => {
    iam.managedPolicyDocument = async () => {
      throw Object.assign(new Error('Could not load credentials from any providers'), {
        name: 'CredentialsProviderError',
      });
    };
    await assert.rejects(
      give(grant('c', { principalArn: ROLE, policyArn: BIG })),
      (e: unknown) =>
        e instanceof TerminalError && e.reason === 'NoCredentials' && /IRSA/.test(e.message),
    );
  });

  it('serialises claims on one principal, so concurrent grants and revokes stay consistent', async () => {
    const grants = ['a', 'b', 'c', 'd'].map(attach);
    await Promise.all(grants.map(give));
    await Promise.all(grants.slice(0, 3).map(take));
    assert.equal(attached(), true);
    await take(grants[3]!);
    assert.equal(attached(), false);
  });
});
