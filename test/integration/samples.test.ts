import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { ApiException, CoreV1Api } from '@kubernetes/client-node';
import { parseAllDocuments } from 'yaml';
import { REPO_ROOT } from '../../src/kube/manifests.ts';
import type { AccessApproval, AccessGrant } from '../../src/api/v1alpha1/types.ts';
import { specHash } from '../../src/policy/evaluate.ts';
import type { ClusterEnvironment } from '../../src/sandbox/environment.ts';
import { CLUSTER_START_TIMEOUT_MS, testCluster } from '../support/cluster.ts';
import { installTimebox } from '../support/timebox.ts';

const run = promisify(execFile);
const SAMPLES = join(REPO_ROOT, 'config', 'samples');

/** Every sample file, with the identity it is written for (from its annotations or approver). */
function samples(): { file: string; kind: string; namespace?: string; as?: string[] }[] {
  const files = (dir: string): string[] =>
    readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
      e.isDirectory()
        ? files(join(dir, e.name))
        : e.name.endsWith('.yaml')
          ? [join(dir, e.name)]
          : [],
    );
  return files(SAMPLES).map((file) => {
    const o = parseAllDocuments(readFileSync(file, 'utf8'))[0]!.toJS() as {
      kind: string;
      metadata: { namespace?: string; annotations?: Record<string, string> };
      spec: { approver?: string; approverGroups?: string[] };
    };
    const a = o.metadata.annotations ?? {};
    const as =
      o.kind === 'AccessGrant'
        ? [a['timebox.dev/requested-by']!, ...(a['timebox.dev/requester-groups'] ?? '').split(',')]
        : o.kind === 'AccessApproval'
          ? [o.spec.approver!, ...(o.spec.approverGroups ?? [])]
          : undefined;
    return {
      file,
      kind: o.kind,
      ...(o.metadata.namespace ? { namespace: o.metadata.namespace } : {}),
      ...(as ? { as } : {}),
    };
  });
}

describe('config/samples', function () {
  this.timeout(60_000);
  let cluster: ClusterEnvironment;

  before(async function () {
    this.timeout(CLUSTER_START_TIMEOUT_MS);
    cluster = await testCluster();
    await installTimebox(cluster, []);
    const core = cluster.admin().makeApiClient(CoreV1Api);
    for (const ns of new Set(samples().flatMap((s) => (s.namespace ? [s.namespace] : [])))) {
      await core.createNamespace({ body: { metadata: { name: ns } } }).catch((e: unknown) => {
        if (!(e instanceof ApiException && e.code === 409)) throw e;
      });
    }
  });

  it('are all accepted by the API server and its admission policies, as the people they name', async () => {
    const all = samples();
    assert.ok(
      all.some((s) => s.file.includes('cloud')),
      'the cloud samples are checked too',
    );
    for (const s of all) {
      const [user, ...groups] = s.as ?? [];
      const identity = user
        ? [
            '--as',
            user,
            ...groups.flatMap((g) => ['--as-group', g]),
            '--as-group',
            'system:authenticated',
          ]
        : [];
      const { stdout } = await run(cluster.sandbox?.binaries.kubectl ?? 'kubectl', [
        '--kubeconfig',
        cluster.kubeconfigPath!,
        ...identity,
        'create',
        '--dry-run=server',
        '-f',
        s.file,
      ]).catch((err: { stderr?: string }) => {
        throw new Error(`${s.file} was refused: ${err.stderr}`);
      });
      assert.match(stdout, /created \(server dry run\)/, s.file);
    }
  });

  it('approve the sample grant as it is written: the approval names its spec hash', () => {
    const read = <T>(f: string) =>
      parseAllDocuments(readFileSync(join(SAMPLES, f), 'utf8'))[0]!.toJS() as T;
    const grant = read<AccessGrant>('accessgrant.yaml');
    const approval = read<AccessApproval>('accessapproval.yaml');
    assert.equal(approval.spec.grantRef.name, grant.metadata.name);
    assert.equal(approval.spec.grantRef.specHash, specHash(grant.spec));
  });
});
