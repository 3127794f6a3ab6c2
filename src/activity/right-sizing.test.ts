import assert from 'node:assert/strict';
import { ACTIVITY_LIMITS, type ActivityCount } from '../api/v1alpha1/activity.ts';
import { activeGrant } from './fixtures.ts';
import { describeActivity } from './describe.ts';
import { grantedRoles, rightSizing, type GrantedRole } from './right-sizing.ts';
import { clusterRoleRules, selects, type RoleObject } from './roles.ts';

const count = (verb: string, resource: string, namespace?: string, n = 1): ActivityCount => ({
  provider: 'kubernetes',
  verb,
  resource,
  ...(namespace ? { namespace } : {}),
  count: n,
});

const RW = ['get', 'list', 'watch', 'create', 'update', 'patch', 'delete'];
/** A small edit-like role. */
const edit: GrantedRole = {
  role: 'ClusterRole edit',
  namespaces: ['payments', 'checkout'],
  rules: [
    { apiGroups: [''], resources: ['pods', 'configmaps', 'secrets'], verbs: RW },
    { apiGroups: [''], resources: ['pods/log'], verbs: ['get'] },
    { apiGroups: ['apps'], resources: ['deployments', 'deployments/scale'], verbs: RW },
  ],
};

describe('right-sizing', () => {
  it('lists what was used of each granted resource, what was not, and the rules that would have been enough', () => {
    const r = rightSizing([edit], {
      counts: [
        count('list', 'pods', 'payments', 7),
        count('get', 'pods/log', 'payments', 3),
        count('get', 'configmaps', 'payments'),
        count('patch', 'configmaps', 'payments'),
        count('patch', 'deployments.apps', 'payments', 2),
      ],
    });
    assert.deepEqual(r.roles, ['ClusterRole edit in payments, checkout']);
    assert.deepEqual(r.used, [
      { resource: 'configmaps', verbs: [...RW].sort(), used: ['get', 'patch'] },
      { resource: 'deployments.apps', verbs: [...RW].sort(), used: ['patch'] },
      { resource: 'pods', verbs: [...RW].sort(), used: ['list'] },
      { resource: 'pods/log', verbs: ['get'], used: ['get'] },
    ]);
    assert.deepEqual(r.unusedResources, ['deployments.apps/scale', 'secrets']);
    assert.deepEqual(r.unusedNamespaces, ['checkout']);
    assert.deepEqual(r.suggestedRules, [
      { apiGroups: [''], resources: ['configmaps'], verbs: ['get', 'patch'] },
      { apiGroups: [''], resources: ['pods'], verbs: ['list'] },
      { apiGroups: [''], resources: ['pods/log'], verbs: ['get'] },
      { apiGroups: ['apps'], resources: ['deployments'], verbs: ['patch'] },
    ]);
    assert.equal(r.omitted, undefined);
    assert.match(
      r.summary,
      /^Used 5 verb-resource permissions of the 36 granted, on 4 of 6 resources; 4 rules would have covered every use; never used in checkout\.$/,
    );
  });

  it('says the grant was not needed when nothing granted was used', () => {
    const r = rightSizing([edit], {});
    assert.deepEqual(r.used, []);
    assert.deepEqual(r.suggestedRules, []);
    assert.equal(r.unusedResources.length, 6);
    assert.match(r.summary, /Nothing granted was used: ClusterRole edit was not needed/);
  });

  it('does not credit the grant with requests its roles do not allow, nor in namespaces it did not cover', () => {
    const r = rightSizing([edit], {
      counts: [
        // Allowed by something else the person holds, not by the grant.
        count('get', 'namespaces'),
        count('list', 'leases.coordination.k8s.io', 'payments', 4),
        count('delete', 'pods/log', 'payments'),
        count('list', 'pods', 'kube-system'),
      ],
    });
    assert.deepEqual(r.used, []);
    assert.deepEqual(r.suggestedRules, []);
    assert.match(r.summary, /7 requests were allowed by other roles than the grant's/);
  });

  it('reads wildcards as RBAC does, and suggests concrete resources for a cluster-wide wildcard role', () => {
    const admin: GrantedRole = {
      role: 'ClusterRole cluster-admin',
      namespaces: ['*'],
      rules: [{ apiGroups: ['*'], resources: ['*'], verbs: ['*'] }],
    };
    const r = rightSizing([admin], {
      counts: [
        count('get', 'nodes'),
        count('get', 'deployments.apps/scale', 'payments'),
        count('list', 'pods', 'payments'),
        count('get', 'pods', 'payments'),
      ],
    });
    assert.deepEqual(r.roles, ['ClusterRole cluster-admin cluster-wide']);
    assert.deepEqual(r.used, [{ resource: '*', verbs: ['*'], used: ['get', 'list'] }]);
    assert.deepEqual(r.suggestedRules, [
      { apiGroups: [''], resources: ['nodes'], verbs: ['get'] },
      { apiGroups: [''], resources: ['pods'], verbs: ['get', 'list'] },
      { apiGroups: ['apps'], resources: ['deployments/scale'], verbs: ['get'] },
    ]);
    assert.match(r.summary, /cluster-wide, but used only in payments/);
  });

  it('keeps a rule limited to named objects limited in its suggestion', () => {
    const r = rightSizing(
      [
        {
          role: 'Role payments/restart',
          namespaces: ['payments'],
          rules: [
            {
              apiGroups: ['apps'],
              resources: ['deployments'],
              resourceNames: ['checkout'],
              verbs: ['get', 'patch'],
            },
          ],
        },
      ],
      { counts: [count('patch', 'deployments.apps', 'payments')] },
    );
    assert.deepEqual(r.suggestedRules, [
      {
        apiGroups: ['apps'],
        resources: ['deployments'],
        verbs: ['patch'],
        resourceNames: ['checkout'],
      },
    ]);
  });

  it('stays bounded however many resources a role names, and says what it left out', () => {
    const many: GrantedRole = {
      role: 'ClusterRole huge',
      namespaces: ['payments'],
      rules: [
        {
          apiGroups: ['example.com'],
          resources: Array.from({ length: 500 }, (_, i) => `things${i}`),
          verbs: ['get'],
        },
      ],
    };
    const r = rightSizing([many], {
      counts: [count('get', 'things7.example.com', 'payments')],
      otherRequests: 12,
    });
    assert.equal(r.used.length + r.unusedResources.length, ACTIVITY_LIMITS.usage);
    assert.equal(r.omitted, 500 - ACTIVITY_LIMITS.usage);
    assert.deepEqual(r.used, [{ resource: 'things7.example.com', verbs: ['get'], used: ['get'] }]);
    assert.match(r.summary, /12 requests beyond the record's cap are not compared/);
    assert.ok(JSON.stringify(r).length < 20_000);
  });

  it('names roles it could not find instead of calling their permissions unused', () => {
    const r = rightSizing(
      [{ role: 'Role payments/gone', namespaces: ['payments'], rules: undefined }],
      {
        counts: [count('get', 'pods', 'payments')],
      },
    );
    assert.match(r.summary, /not found, so not compared: Role payments\/gone/);
  });

  it("finds a grant's roles: a Role in each of its namespaces, a ClusterRole once", () => {
    const g = activeGrant({
      access: [
        { kubernetes: { role: 'restart', namespaces: ['payments', 'checkout'] } },
        { kubernetes: { clusterRole: 'view', clusterWide: true } },
        {
          aws: {
            principalArn: 'arn:aws:iam::111122223333:role/alice',
            policyArn: 'arn:aws:iam::aws:policy/ReadOnlyAccess',
          },
        },
      ],
    });
    const asked: string[] = [];
    const roles = grantedRoles(g, (kind, name, ns) => {
      asked.push(`${kind} ${ns}/${name}`);
      return [];
    });
    assert.deepEqual(
      roles.map((r) => `${r.role} ${r.namespaces.join(',')}`),
      ['Role payments/restart payments', 'Role checkout/restart checkout', 'ClusterRole view *'],
    );
    assert.deepEqual(asked, [
      'Role payments/restart',
      'Role checkout/restart',
      'ClusterRole /view',
    ]);
  });
});

describe('aggregated ClusterRoles', () => {
  const AGG = 'rbac.authorization.k8s.io/aggregate-to-edit';
  const all: RoleObject[] = [
    {
      metadata: { name: 'edit' },
      aggregationRule: { clusterRoleSelectors: [{ matchLabels: { [AGG]: 'true' } }] },
      rules: [],
    },
    {
      metadata: { name: 'system:aggregate-to-edit', labels: { [AGG]: 'true' } },
      rules: [{ apiGroups: [''], resources: ['pods'], verbs: ['create'] }],
    },
    {
      metadata: {
        name: 'payments-extras',
        labels: { [AGG]: 'true', 'rbac.authorization.k8s.io/aggregate-to-view': 'true' },
      },
      aggregationRule: {
        clusterRoleSelectors: [{ matchExpressions: [{ key: 'extras', operator: 'Exists' }] }],
      },
      rules: [],
    },
    {
      metadata: { name: 'crd-extras', labels: { extras: 'yes' } },
      rules: [{ apiGroups: ['example.com'], resources: ['widgets'], verbs: ['get'] }],
    },
    {
      metadata: { name: 'unrelated', labels: { [AGG]: 'false' } },
      rules: [{ apiGroups: ['*'], resources: ['*'], verbs: ['*'] }],
    },
  ];

  it('take the rules of the roles their selectors pick, recursively, and no others', () => {
    assert.deepEqual(clusterRoleRules('edit', all), [
      { apiGroups: [''], resources: ['pods'], verbs: ['create'] },
      { apiGroups: ['example.com'], resources: ['widgets'], verbs: ['get'] },
    ]);
    assert.equal(clusterRoleRules('missing', all), undefined);
  });

  it('survive a cycle of roles aggregating each other', () => {
    const cycle: RoleObject[] = [
      {
        metadata: { name: 'a', labels: { x: '1' } },
        aggregationRule: { clusterRoleSelectors: [{ matchLabels: { y: '1' } }] },
        rules: [{ apiGroups: [''], resources: ['a'], verbs: ['get'] }],
      },
      {
        metadata: { name: 'b', labels: { y: '1' } },
        aggregationRule: { clusterRoleSelectors: [{ matchLabels: { x: '1' } }] },
        rules: [{ apiGroups: [''], resources: ['b'], verbs: ['get'] }],
      },
    ];
    assert.deepEqual(
      clusterRoleRules('a', cycle)?.map((r) => r.resources?.[0]),
      ['a', 'b'],
    );
  });

  it('match selectors as Kubernetes does; an empty selector picks nothing', () => {
    const l = { tier: 'web', env: 'prod' };
    assert.equal(selects({ matchLabels: { tier: 'web' } }, l), true);
    assert.equal(
      selects({ matchExpressions: [{ key: 'env', operator: 'In', values: ['prod'] }] }, l),
      true,
    );
    assert.equal(
      selects({ matchExpressions: [{ key: 'env', operator: 'NotIn', values: ['prod'] }] }, l),
      false,
    );
    assert.equal(
      selects({ matchExpressions: [{ key: 'team', operator: 'DoesNotExist' }] }, l),
      true,
    );
    assert.equal(selects({ matchExpressions: [{ key: 'env', operator: 'Bogus' }] }, l), false);
    assert.equal(selects({}, l), false);
  });
});

describe('the right-sizing hint in words', () => {
  it('shows what was used, what was not, and the rules to allow instead, bounded', () => {
    const r = rightSizing([edit], {
      counts: [count('list', 'pods', 'payments', 7), count('get', 'pods/log', 'payments')],
    });
    const text = describeActivity({ requests: 8, counts: [], rightSizing: r }).join('\n');
    assert.match(text, /Right-sizing: Used 2 verb-resource permissions of the 36 granted/);
    assert.match(text, /Compared: {2}ClusterRole edit in payments, checkout/);
    assert.match(text, /used {3}pods: list; not create, delete, get, patch, update, watch/);
    assert.match(text, /unused configmaps, deployments\.apps, deployments\.apps\/scale, secrets/);
    assert.match(text, /never used in checkout/);
    assert.match(text, /- \{apiGroups: \[""\], resources: \[pods\], verbs: \[list\]\}/);
    const none = describeActivity({ rightSizing: rightSizing([edit], {}) }).join('\n');
    assert.match(none, /no requests recorded[\s\S]*Nothing granted was used/);
  });
});
