import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import type { AccessGrant } from '../../src/api/v1alpha1/types.ts';
import type { AzureAccess } from '../../src/providers/azure/api.ts';
import { assignmentName, desiredAzureArtefacts } from '../../src/providers/azure/artefacts.ts';
import { armPort, AzureProvider } from '../../src/providers/azure/driver.ts';
import { scopeEscapes } from '../../src/providers/azure/testing.ts';
import { activeGrant } from '../../src/providers/fixtures.ts';
import { isTerminalError } from '../../src/providers/provider.ts';
import { systemClock } from '../../src/runtime/clock.ts';
import { BUILT_IN_ROLES, startArmServer, type ArmServer } from '../support/azure.ts';
import { eventually } from '../support/wait.ts';

const SUB = '00000000-0000-0000-0000-0000000000aa';
const RG = `/subscriptions/${SUB}/resourceGroups/payments`;
const ALICE = '11111111-2222-3333-4444-555555555555';
const OTHER_SUB = '00000000-0000-0000-0000-0000000000bb';
const CUSTOM = '99999999-0000-4000-8000-00000000c0de';
const roleIdIn = (sub: string, guid: string) =>
  `/subscriptions/${sub}/providers/Microsoft.Authorization/roleDefinitions/${guid}`;

const ESCAPES = scopeEscapes(SUB, RG, OTHER_SUB);
const inHours = (h: number) =>
  new Date(Date.now() + h * 3_600_000).toISOString().replace(/\.\d{3}Z$/, '.000Z');

const grant = (uid: string, expiresAt: string, azure: Partial<AzureAccess> = {}): AccessGrant =>
  activeGrant(
    uid,
    [{ azure: { scope: RG, role: 'Reader', principalId: ALICE, ...azure } }],
    expiresAt,
  );

describe('Azure provider against a local ARM endpoint, with the real @azure/arm-authorization client', function () {
  this.timeout(60_000);
  let arm: ArmServer;
  let azure: AzureProvider;
  const give = async (g: AccessGrant) => {
    for (const a of desiredAzureArtefacts(g, g.status!.expiresAt!)) await azure.grant(g, a);
  };
  const take = async (g: AccessGrant) => {
    for (const a of desiredAzureArtefacts(g, g.status!.expiresAt!)) await azure.revoke(g, a);
  };
  const failure = (g: AccessGrant) =>
    give(g).then(
      () => assert.fail('granted'),
      (err: unknown) => err,
    );

  beforeEach(async () => {
    arm = await startArmServer({ subscription: SUB });
    arm.addScope(RG);
    arm.addScope(`/subscriptions/${OTHER_SUB}`);
    arm.addPrincipal(ALICE);
    arm.addCustomRole(CUSTOM, 'Payments Reader');
    azure = new AzureProvider(armPort({ endpoint: arm.endpoint }), { clock: systemClock });
  });
  afterEach(() => arm.stop());

  it('asks for a schedule that Azure itself ends at expiresAt (fail-safe)', async () => {
    const expiresAt = new Date(Date.now() + 3_000).toISOString().replace(/\.\d{3}Z$/, 'Z');
    const g = grant('uid-1', expiresAt);
    const [artefact] = desiredAzureArtefacts(g, expiresAt);
    assert.equal(artefact!.failSafe, true);
    await give(g);
    assert.deepEqual(
      arm.held(ALICE).map((h) => [h.kind, h.role, h.scope, h.endDateTime]),
      [['schedule', 'Reader', RG, new Date(expiresAt).toISOString()]],
    );
    assert.deepEqual(await azure.observe(g), [artefact]);
    // Nobody revokes: Azure ends it.
    await eventually(async () => arm.held(ALICE).length === 0, {
      timeoutMs: 10_000,
      what: 'the schedule to end by itself',
    });
    assert.deepEqual(await azure.observe(g), []);
  });

  it('shares one schedule between overlapping grants, ending at the latest expiry among them', async () => {
    const a = grant('uid-a', inHours(1));
    const b = grant('uid-b', inHours(2));
    await give(a);
    await give(b);
    const end = () => arm.held(ALICE).map((h) => h.endDateTime);
    assert.deepEqual(end(), [new Date(b.status!.expiresAt!).toISOString()]);
    await take(b);
    await take(b);
    assert.deepEqual(
      end(),
      [new Date(a.status!.expiresAt!).toISOString()],
      "a's access stays, to a's end",
    );
    assert.equal((await azure.observe(a)).length, 1);
    assert.deepEqual(await azure.observe(b), []);
    await take(a);
    assert.deepEqual(arm.held(ALICE), []);
  });

  it('reference-counts a plain role assignment across grants (mode Assignment, not fail-safe)', async () => {
    const a = grant('uid-a', inHours(1), { mode: 'Assignment' });
    const b = grant('uid-b', inHours(1), { mode: 'Assignment' });
    assert.equal(desiredAzureArtefacts(a, inHours(1))[0]!.failSafe, false);
    await give(a);
    await give(b);
    await give(b);
    assert.deepEqual(
      arm.held(ALICE).map((h) => h.kind),
      ['assignment'],
    );
    await take(a);
    assert.equal(arm.held(ALICE).length, 1, "b's claim keeps the assignment");
    await take(b);
    await take(b);
    assert.deepEqual(arm.held(ALICE), []);
  });

  it('leaves alone, and refuses to claim, an assignment it does not own', async () => {
    arm.assignByHand(RG, 'Reader', ALICE);
    for (const mode of ['Schedule', 'Assignment'] as const) {
      const g = grant(`uid-${mode}`, inHours(1), { mode });
      const err = await failure(g);
      assert.ok(isTerminalError(err) && err.reason === 'AlreadyAssigned', String(err));
      await take(g);
    }
    assert.equal(arm.held(ALICE).length, 1, 'the standing assignment stays');
  });

  it('fails for good, granting nothing, on an unknown role, principal or scope', async () => {
    const cases: [Partial<AzureAccess>, string][] = [
      [{ role: 'Nosuch Role' }, 'RoleNotFound'],
      [{ role: '00000000-0000-0000-0000-00000000dead' }, 'RoleNotFound'],
      [{ principalId: '99999999-2222-3333-4444-555555555555' }, 'PrincipalNotFound'],
      [{ scope: `/subscriptions/${SUB}/resourceGroups/nosuch` }, 'ScopeNotFound'],
    ];
    for (const [i, [entry, reason]] of cases.entries()) {
      const err = await failure(grant(`uid-${i}`, inHours(1), entry));
      assert.ok(isTerminalError(err) && err.reason === reason, `case ${i}: ${String(err)}`);
    }
    arm.failNext(1, { status: 403, code: 'AuthorizationFailed', method: 'PUT' });
    const err = await failure(grant('uid-403', inHours(1)));
    assert.ok(isTerminalError(err) && err.reason === 'AuthorizationFailed', String(err));
    assert.deepEqual(arm.held(), []);
  });

  it('converges through 429 with Retry-After and 503 responses', async () => {
    arm.failNext(2, { status: 429, code: 'TooManyRequests', retryAfter: 0 });
    arm.failNext(1, { status: 503, code: 'ServiceUnavailable' });
    await give(grant('uid-t', inHours(1)));
    assert.equal(arm.stats.injected, 3);
    assert.equal(arm.held(ALICE).length, 1);
  });

  describe('scopes that a URL parser would move', () => {
    for (const [what, scope] of ESCAPES) {
      it(`refuses for good, granting nothing: ${what}`, async () => {
        for (const mode of ['Schedule', 'Assignment'] as const) {
          const err = await failure(grant(`uid-${mode}`, inHours(1), { scope, mode }));
          assert.ok(isTerminalError(err) && err.reason === 'InvalidScope', String(err));
          assert.match(String(err), /letters, digits, -, _, \., \( and \)/);
        }
        assert.deepEqual(arm.held(), [], 'nothing anywhere: not at the subscription, nor the root');
        assert.equal(arm.stats.requests, 0, 'not even a lookup was sent');
      });
    }

    it('still finds and revokes what an escaped scope was given before this check existed', async () => {
      // As an unchecked version of the driver did: the raw scope, through the SDK.
      const [, evil] = ESCAPES[0]!;
      const g = grant('uid-old', inHours(8), { scope: evil });
      const port = armPort({ endpoint: arm.endpoint });
      const readerId = (await port.roleDefinition(RG, 'Reader')).id;
      const [artefact] = desiredAzureArtefacts(g, g.status!.expiresAt!);
      await port.putScheduleRequest(evil, randomUUID(), {
        requestType: 'AdminAssign',
        principalId: ALICE,
        roleDefinitionId: readerId,
        startDateTime: new Date().toISOString(),
        endDateTime: g.status!.expiresAt!,
        justification: `timebox claims: uid-old@${(artefact!.body as { expiresAt: string }).expiresAt}`,
      });
      assert.deepEqual(
        arm.held(ALICE).map((h) => h.scope),
        [`/subscriptions/${SUB}`],
        'the escape reached the subscription',
      );
      assert.equal((await azure.observe(g)).length, 1, 'the operator sees what it granted');
      await take(g);
      assert.deepEqual(arm.held(ALICE), [], 'and revoking it removes it');
    });
  });

  describe('claims someone else rewrote', () => {
    const assignment = async () => {
      const port = armPort({ endpoint: arm.endpoint });
      const roleId = (await port.roleDefinition(RG, 'Reader')).id;
      const name = assignmentName(RG, roleId, ALICE);
      return { port, name, a: (await port.getAssignment(RG, name))! };
    };

    it('keeps reading the claims when text was added around them (Assignment mode)', async () => {
      const a = grant('uid-a', inHours(1), { mode: 'Assignment' });
      const b = grant('uid-b', inHours(2), { mode: 'Assignment' });
      await give(a);
      await give(b);
      const { port, name, a: held } = await assignment();
      // e.g. an admin adds a ticket number in the portal
      await port.putAssignment(RG, name, { ...held, description: `INC-42 ${held.description}` });
      await take(a);
      assert.equal(arm.held(ALICE).length, 1, "b's claim still holds it");
      await take(b);
      assert.deepEqual(arm.held(ALICE), [], 'the last claim to go removes it, edited text or not');
    });

    it('removes its own assignment whose claims were overwritten, and says so', async () => {
      const a = grant('uid-a', inHours(1), { mode: 'Assignment' });
      await give(a);
      const { port, name, a: held } = await assignment();
      await port.putAssignment(RG, name, { ...held, description: 'INC-42 keep for the audit' });
      const err = await take(a).then(
        () => assert.fail('revoke reported success'),
        (e: unknown) => e,
      );
      assert.ok(!isTerminalError(err), 'retried, and shown as RevocationFailing meanwhile');
      assert.match(String(err), /overwritten outside Timebox/);
      assert.deepEqual(arm.held(ALICE), [], 'fail-safe: the access ends all the same');
      await take(a);
      // A grant still active finds its claim gone, and refuses to pretend.
      const b = grant('uid-b', inHours(1), { mode: 'Assignment' });
      await give(b);
      const again = await assignment();
      await port.putAssignment(RG, name, { ...again.a, description: 'rewritten' });
      const refused = await failure(b);
      assert.match(String(refused), /overwritten outside Timebox/);
    });

    it('does not let a pasted stale claim keep an assignment', async () => {
      const a = grant('uid-a', inHours(1), { mode: 'Assignment' });
      await give(a);
      const { port, name, a: held } = await assignment();
      assert.match(held.description!, /^timebox claims: uid-a@\d{4}-/, 'the claim says until when');
      const stale = 'uid-gone@2020-01-01T00:00:00Z uid-older@';
      await port.putAssignment(RG, name, { ...held, description: `${held.description} ${stale}` });
      await take(a);
      assert.deepEqual(arm.held(ALICE), [], 'lapsed claims hold nothing');
      // Nor when this grant's own claim was taken out and only stale ones are left.
      await give(a);
      const again = await assignment();
      await port.putAssignment(RG, name, { ...again.a, description: `timebox claims: ${stale}` });
      await take(a);
      assert.deepEqual(arm.held(ALICE), []);
    });

    it('Schedule mode: says so, rather than succeed, while a request Timebox did not make set the schedule', async () => {
      const a = grant('uid-a', inHours(1));
      await give(a);
      const port = armPort({ endpoint: arm.endpoint });
      const roleId = (await port.roleDefinition(RG, 'Reader')).id;
      await port.putScheduleRequest(RG, randomUUID(), {
        requestType: 'AdminUpdate',
        principalId: ALICE,
        roleDefinitionId: roleId,
        startDateTime: new Date().toISOString(),
        endDateTime: inHours(24 * 365),
        justification: 'extended by hand, INC-42',
      });
      const err = await take(a).then(
        () => assert.fail('revoke reported success'),
        (e: unknown) => e,
      );
      assert.ok(!isTerminalError(err), String(err));
      assert.match(String(err), /Timebox did not make/);
    });
  });

  describe('role definitions', () => {
    it('grants a custom role by its ID in the scope subscription, or its GUID', async () => {
      await give(grant('uid-c1', inHours(1), { role: roleIdIn(SUB, CUSTOM) }));
      await take(grant('uid-c1', inHours(1), { role: roleIdIn(SUB, CUSTOM) }));
      await give(grant('uid-c2', inHours(1), { role: CUSTOM }));
      assert.equal(arm.held(ALICE).length, 1);
    });

    it('refuses a role ID from another subscription, and a built-in role named as a custom one', async () => {
      const cases: [string, string][] = [
        [roleIdIn(OTHER_SUB, CUSTOM), 'RoleNotInScopeSubscription'],
        [roleIdIn(SUB, BUILT_IN_ROLES.Owner!), 'BuiltInRoleNamedAsCustom'],
        [BUILT_IN_ROLES.Owner!, 'BuiltInRoleNamedAsCustom'],
        [
          `/providers/Microsoft.Authorization/roleDefinitions/${CUSTOM}`,
          'CustomRoleNamedAsBuiltIn',
        ],
      ];
      for (const [i, [role, reason]] of cases.entries()) {
        const err = await failure(grant(`uid-r${i}`, inHours(1), { role }));
        assert.ok(isTerminalError(err) && err.reason === reason, `${role}: ${String(err)}`);
      }
      assert.deepEqual(arm.held(), []);
      // A built-in role by its tenant-wide ID is fine.
      await give(
        grant('uid-r', inHours(1), {
          role: `/providers/Microsoft.Authorization/roleDefinitions/${BUILT_IN_ROLES.Reader}`,
        }),
      );
      assert.deepEqual(
        arm.held(ALICE).map((h) => h.role),
        ['Reader'],
      );
    });
  });
});
