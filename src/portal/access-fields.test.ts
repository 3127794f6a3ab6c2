import assert from 'node:assert/strict';
import { aPolicy } from '../api/v1alpha1/testing.ts';
import type { AccessPolicy } from '../api/v1alpha1/types.ts';
import { precheck } from '../policy/precheck.ts';
import type { ProviderKind } from '../providers/kind.ts';
import { kinds, type AnyKind } from '../providers/kinds.ts';
import { entriesFromForm, kindChoices } from './access-fields.ts';
import { draftFromForm, policyChoices } from './model.ts';
import { requestForm } from './views/request.ts';

const alice = { user: 'alice@example.com', groups: ['payments-oncall'] };
const NOW = new Date('2026-11-27T10:00:00Z');
const SUB = '/subscriptions/00000000-0000-0000-0000-000000000001';
const ALICE_ID = '11111111-2222-3333-4444-555555555555';

/** A kind no registered provider is: a ticket system's temporary admin flag. */
const ticketsKind: ProviderKind<'tickets', { queue: string }, { queues?: string[] }> = {
  name: 'tickets',
  title: 'Ticket admin',
  desired: () => [],
  allows: (e, a) => (a.queues ?? []).includes(e.queue),
  describe: (e) => `admin of queue ${e.queue}`,
  schema: { access: {}, allow: {} },
  cli: {
    options: { 'tickets-queue': { type: 'string' } },
    usage: '[--tickets-queue Q]',
    help: '  --tickets-queue Q',
    parse: (v) => {
      const queue = v['tickets-queue'] as string | undefined;
      if (queue === undefined) return undefined;
      if (!/^[a-z]+$/.test(queue)) throw new Error(`--tickets-queue must be lower-case letters`);
      return { queue };
    },
  },
  form: [{ option: 'tickets-queue', label: 'Queue', choose: true, offered: (a) => a.queues ?? [] }],
  driver: () => Promise.reject(new Error('not in this test')),
};

const azurePolicy = aPolicy({
  spec: {
    selfOnly: false,
    access: [
      {
        azure: {
          scopes: [`${SUB}/resourceGroups/payments`, `${SUB}/resourceGroups/*`],
          roles: ['Reader'],
          principalIds: [ALICE_ID],
        },
      },
    ],
  },
});

describe('portal access fields', () => {
  it('has a field for every CLI option of every registered kind, and only those', () => {
    for (const kind of kinds) {
      assert.ok(kind.cli && kind.form, `${kind.name} has CLI options and a form`);
      assert.deepEqual(
        kind.form.map((f) => f.option),
        Object.keys(kind.cli.options),
        `${kind.name}: one field per option, in order`,
      );
    }
  });

  it('shows a section for a kind added to the list, and reads it with its own parser', () => {
    const list: AnyKind[] = [...kinds, ticketsKind as unknown as AnyKind];
    const policy = aPolicy({ spec: { access: [] } });
    policy.spec.access = [
      ...policy.spec.access,
      { kubernetes: { clusterRoles: ['view'] } },
      { tickets: { queues: ['billing', 'ops'] } } as AccessPolicy['spec']['access'][number],
    ];
    const page = requestForm(policyChoices(policy, alice, list), 'csrf').text;
    assert.match(page, /<legend>Ticket admin<\/legend>/);
    assert.match(page, /<select id="tickets-queue" name="tickets-queue">/);
    assert.match(page, /<option value="ops" >ops<\/option>/);
    assert.doesNotMatch(
      requestForm(policyChoices(policy, alice), 'csrf').text,
      /Ticket admin/,
      'not registered, not shown',
    );

    const form = { policy: 'p', namespace: 'payments', duration: '1h' };
    const d = draftFromForm({ ...form, 'tickets-queue': 'ops' }, alice, 'abcd', list);
    assert.ok('grant' in d, JSON.stringify(d));
    assert.deepEqual(d.grant.spec.access, [{ tickets: { queue: 'ops' } }]);
    assert.equal(d.grant.metadata.name, 'alice-ops-abcd');
    assert.deepEqual(entriesFromForm({ 'tickets-queue': 'Ops!' }, 'payments', list).errors, [
      'Ticket admin: Queue must be lower-case letters',
    ]);
  });

  it('offers what the allow-list names, the requester’s own identity under selfOnly, and no patterns', () => {
    const [azure] = kindChoices(
      aPolicy({
        spec: {
          access: [
            {
              azure: {
                scopes: [`${SUB}/resourceGroups/*`],
                roles: ['Reader', 'Contributor'],
                modes: ['Schedule', 'Assignment'],
                principalIds: ['99999999-0000-0000-0000-000000000000'],
                selfPrincipalIds: ['{localPart}'],
              },
            },
          ],
        },
      }),
      { requester: ALICE_ID + '@example.com', selfOnly: true },
    );
    const byOption = Object.fromEntries(azure!.fields.map((f) => [f.option, f]));
    assert.deepEqual(byOption['azure-scope']!.offered, [`${SUB}/resourceGroups/*`]);
    assert.deepEqual(byOption['azure-scope']!.choices, [], 'a pattern is no value to ask for');
    assert.deepEqual(byOption['azure-principal']!.choices, [ALICE_ID]);
    assert.deepEqual(byOption['azure-mode']!.choices, ['Schedule', 'Assignment']);
    assert.equal(byOption['azure-mode']!.input, 'select');
    assert.equal(byOption['azure-mode']!.empty, '(Schedule)');
  });

  it('makes an Azure request the policy allows, and one outside it is denied before anything is made', () => {
    const form = {
      policy: 'payments-oncall',
      namespace: 'payments',
      duration: '1h',
      'azure-scope': `${SUB}/resourceGroups/payments`,
      'azure-role': 'Reader',
      'azure-principal': ALICE_ID,
    };
    const ok = draftFromForm(form, alice, 'abcd');
    assert.ok('grant' in ok, JSON.stringify(ok));
    assert.equal(ok.grant.metadata.name, 'alice-azure-abcd');
    assert.deepEqual(ok.grant.spec.access, [
      { azure: { scope: `${SUB}/resourceGroups/payments`, role: 'Reader', principalId: ALICE_ID } },
    ]);
    assert.equal(precheck(ok.grant, [azurePolicy], NOW)[0]!.decision.verdict, 'Approved');
    for (const outside of [
      { 'azure-role': 'Owner' },
      { 'azure-scope': SUB },
      { 'azure-mode': 'Assignment' },
    ]) {
      const d = draftFromForm({ ...form, ...outside }, alice, 'abcd');
      assert.ok('grant' in d);
      assert.equal(
        precheck(d.grant, [azurePolicy], NOW)[0]!.decision.verdict,
        'Denied',
        JSON.stringify(outside),
      );
    }
  });

  it('reads only strings, and only the fields kinds declare', () => {
    const { access, errors } = entriesFromForm(
      {
        'cluster-role': ['edit'],
        'azure-scope': { toString: () => SUB },
        constructor: 'x',
      } as Record<string, unknown>,
      'payments',
    );
    assert.deepEqual(access, []);
    assert.match(errors.join(), /say what you need/);
  });
});
