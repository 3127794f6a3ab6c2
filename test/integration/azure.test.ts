import assert from 'node:assert/strict';
import type { AccessGrant } from '../../src/api/v1alpha1/types.ts';
import type { AzureAccess } from '../../src/providers/azure/api.ts';
import { desiredAzureArtefacts } from '../../src/providers/azure/artefacts.ts';
import { armPort, AzureProvider } from '../../src/providers/azure/driver.ts';
import { activeGrant } from '../../src/providers/fixtures.ts';
import { isTerminalError } from '../../src/providers/provider.ts';
import { systemClock } from '../../src/runtime/clock.ts';
import { startArmServer, type ArmServer } from '../support/azure.ts';
import { eventually } from '../support/wait.ts';

const SUB = '00000000-0000-0000-0000-0000000000aa';
const RG = `/subscriptions/${SUB}/resourceGroups/payments`;
const ALICE = '11111111-2222-3333-4444-555555555555';
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
    arm.addPrincipal(ALICE);
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
});
