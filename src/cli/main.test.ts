import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { EXIT, run } from './main.ts';

/** The CLI as a script sees it: exit code, and what it printed on each stream. */
async function cli(...argv: string[]) {
  const out: string[] = [];
  const err: string[] = [];
  const code = await run(
    argv,
    (s) => out.push(s),
    (s) => err.push(s),
  );
  return { code, out: out.join('\n'), err: err.join('\n') };
}

describe('timebox CLI: verbs, their options and help', () => {
  it('lists every verb, and gives each its own help with examples', async () => {
    const help = await cli('--help');
    assert.equal(help.code, EXIT.ok);
    for (const verb of ['request', 'approve', 'deny', 'revoke', 'ls', 'describe', 'portal']) {
      assert.match(help.out, new RegExp(`^ {2}${verb} `, 'm'), verb);
    }
    for (const verb of ['request', 'approve', 'deny', 'revoke', 'ls', 'list', 'describe']) {
      const h = await cli(verb, '--help');
      assert.equal(h.code, EXIT.ok, verb);
      assert.match(h.out, /^Usage: timebox /, verb);
      assert.match(h.out, /Examples?:\n {2}timebox /, verb);
      assert.match(h.out, /Exit codes: 0 success/, verb);
    }
    assert.match((await cli('request', '--help')).out, /--timeout bounds the wait/);
    assert.equal((await cli()).code, EXIT.usage, 'no verb is wrong usage');
  });

  it("refuses an option of another verb, naming this verb's", async () => {
    const r = await cli('approve', 'x', '--aws-policy', 'arn:aws:iam::aws:policy/x');
    assert.equal(r.code, EXIT.usage);
    assert.match(
      r.err,
      /--aws-policy is not an option of approve; it takes --comment, --spec-hash/,
    );
    assert.match(r.err, /see timebox approve --help/);
  });

  it('suggests the nearest option or verb for a typo', async () => {
    const option = await cli('request', '--reasn', 'x');
    assert.equal(option.code, EXIT.usage);
    assert.match(option.err, /unknown option --reasn; did you mean --reason\?/);
    const verb = await cli('aprove', 'x');
    assert.equal(verb.code, EXIT.usage);
    assert.match(verb.err, /unknown command 'aprove'; did you mean approve\?\nsee timebox --help$/);
    // Options may come first, as with kubectl.
    assert.match((await cli('-n', 'payments', 'ls', '--bogus')).err, /unknown option --bogus/);
  });
});

describe('timebox CLI run as a script', () => {
  it('runs from a checkout reached through a symlink, or whose path has a space', async () => {
    const src = dirname(dirname(fileURLToPath(import.meta.url)));
    const dir = mkdtempSync(join(tmpdir(), 'timebox cli '));
    try {
      symlinkSync(src, join(dir, 'src'));
      const stdout = await new Promise<string>((resolve, reject) =>
        execFile(process.execPath, [join(dir, 'src', 'cli', 'main.ts'), '--help'], (e, out) =>
          e ? reject(e) : resolve(out),
        ),
      );
      // It once compared URLs, did nothing, and exited 0.
      assert.match(stdout, /just-in-time access with Timebox/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
