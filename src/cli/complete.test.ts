import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { AccessGrant } from '../api/v1alpha1/types.ts';
import { cobraFormat, completionScript, type CompletionLookup } from './complete.ts';
import { run } from './main.ts';

const grant = (name: string, namespace: string, phase?: string) =>
  ({
    metadata: { name, namespace },
    spec: { subject: { kind: 'User', name: 'alice' }, reason: 'INC-1', access: [] },
    ...(phase ? { status: { phase } } : {}),
  }) as unknown as AccessGrant;

/** The CLI's `__complete`, answering from a fake cluster; the values offered. */
async function offered(...words: string[]): Promise<string[]> {
  const out: string[] = [];
  await run(['__complete', ...words], (s) => out.push(s), assert.fail, lookup);
  const lines = out.join('\n').split('\n');
  assert.match(lines.at(-1)!, /^:[04]$/, 'ends with the directive');
  return lines.slice(0, -1).map((l) => l.split('\t')[0]!);
}

let asked: string[];
const lookup: CompletionLookup = {
  grants: async (ns) => {
    asked.push(ns);
    return [
      grant('alice-edit', ns, 'Active'),
      grant('alice-view', ns),
      grant('bob-admin', ns, 'Pending'),
    ];
  },
  policies: async () => ['payments-oncall', 'readers'],
  namespaces: async () => {
    throw new Error('forbidden: cannot list namespaces');
  },
  contexts: () => ['sandbox', 'prod'],
};

describe('timebox CLI: shell completion', () => {
  beforeEach(() => (asked = []));

  it('completes verbs, then the options of the verb typed', async () => {
    assert.deepEqual(await offered(''), [
      'request',
      'approve',
      'deny',
      'revoke',
      'ls',
      'describe',
      'portal',
      'completion',
    ]);
    assert.deepEqual(await offered('de'), ['deny', 'describe']);
    assert.deepEqual(await offered('approve', 'x', '--'), [
      '--namespace',
      '--output',
      '--kubeconfig',
      '--context',
      '--help',
      '--comment',
      '--spec-hash',
    ]);
    assert.deepEqual(await offered('request', '--aws-p'), ['--aws-principal', '--aws-policy']);
    assert.deepEqual(await offered('nonsense', ''), [], 'nothing after an unknown verb');
  });

  it('completes the names of grants in the namespace given, pending ones to approve', async () => {
    assert.deepEqual(await offered('describe', '-n', 'payments', 'alice'), [
      'alice-edit',
      'alice-view',
    ]);
    assert.deepEqual(asked, ['payments']);
    assert.deepEqual(await offered('--namespace=ops', 'approve', ''), ['alice-view', 'bob-admin']);
    assert.deepEqual(asked, ['payments', 'ops']);
    assert.deepEqual(await offered('describe', 'alice-edit', ''), [], 'one name only');
  });

  it('completes option values: policies, fixed lists, contexts; a failed lookup gives nothing', async () => {
    assert.deepEqual(await offered('request', '--policy', 'pay'), ['payments-oncall']);
    assert.deepEqual(await offered('request', '--aws-mode=Gr'), ['--aws-mode=GroupMembership']);
    assert.deepEqual(await offered('ls', '-o', ''), ['json', 'yaml']);
    assert.deepEqual(await offered('--context', ''), ['sandbox', 'prod']);
    assert.deepEqual(await offered('ls', '-n', ''), [], 'not allowed to list namespaces');
  });

  it("leaves file names to the shell for --kubeconfig, and says so in cobra's directive", () => {
    assert.equal(
      cobraFormat({ candidates: [{ value: 'a', description: 'two\nlines' }], files: false }),
      'a\ttwo lines\n:4',
    );
    assert.equal(cobraFormat({ candidates: [], files: true }), ':0');
  });

  it('prints a script for bash, zsh and fish, and refuses another shell', async () => {
    for (const shell of ['bash', 'zsh', 'fish']) {
      const out: string[] = [];
      assert.equal(await run(['completion', shell], (s) => out.push(s), assert.fail), 0);
      assert.match(out.join(''), /timebox __complete/);
    }
    const err: string[] = [];
    assert.equal(await run(['completion', 'tcsh'], assert.fail, (s) => err.push(s)), 2);
    assert.match(err.join(''), /completion needs a shell: bash, zsh or fish/);
    assert.equal(completionScript('powershell', 'timebox'), undefined);
  });

  it('completes in a real bash, through the script it prints', async () => {
    const cli = fileURLToPath(new URL('./main.ts', import.meta.url));
    const script = completionScript('bash', 'timebox')!;
    // `timebox` is the CLI from source; the shell completes `timebox describe -o y`.
    const bash = `timebox() { "${process.execPath}" "${cli}" "$@"; }
${script}
COMP_WORDS=(timebox describe -o y); COMP_CWORD=3; _timebox
printf '%s\\n' "\${COMPREPLY[@]}"
COMP_WORDS=(timebox app); COMP_CWORD=1; _timebox
printf '%s\\n' "\${COMPREPLY[@]}"`;
    const stdout = await new Promise<string>((resolve, reject) =>
      execFile('bash', ['-c', bash], (err, out, stderr) =>
        err ? reject(new Error(stderr)) : resolve(out),
      ),
    );
    assert.equal(stdout, 'yaml\napprove\n');
  });
});
