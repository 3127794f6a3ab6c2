import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { fileURLToPath } from 'node:url';
import { createLogger } from '../src/log/logger.ts';
import { CookieSealer, type Session } from '../src/portal/session.ts';
import { DEMO_PEOPLE, installDemo } from '../src/sandbox/demo.ts';
import { apiServerTrust, startSandboxIssuer } from '../src/sandbox/oidc.ts';
import { startSandboxPortal } from '../src/sandbox/portal.ts';
import { Sandbox } from '../src/sandbox/sandbox.ts';
import { setUpSandbox } from '../src/sandbox/setup.ts';
import { grantsApi } from '../test/support/timebox.ts';
import { requestAs } from '../test/support/requests.ts';
import { signIn } from '../test/support/sign-in.ts';
import { percentile, printTable } from './table.ts';

/** What the browser downloads besides the HTML, and the budget it must stay within. */
const BUDGET = { 'portal.js': 6 * 1024, 'portal.css': 6 * 1024 };
/** Every page must be rendered and sent within this, on the sandbox. */
const PAGE_TARGET_MS = 300;

/**
 * The portal's weight and speed: its client script and stylesheet against their
 * budgets, and how long each page takes to render on the sandbox with `grants`
 * grants in the cluster, measured with a real session (a real ID token the API
 * server accepts) over HTTP.
 */
export async function benchPortal(
  grants = Number(process.env.BENCH_GRANTS ?? 300),
  runs = Number(process.env.BENCH_RUNS ?? 40),
): Promise<void> {
  const staticDir = fileURLToPath(new URL('../src/portal/static/', import.meta.url));
  printTable(
    `portal assets (budget: what the browser downloads besides HTML)`,
    Object.entries(BUDGET).map(([file, budget]) => {
      const body = readFileSync(join(staticDir, file));
      return {
        file,
        bytes: body.length,
        'gzip bytes': gzipSync(body).length,
        'budget (bytes)': budget,
        ok: body.length <= budget ? 'yes' : 'NO',
      };
    }),
  );

  const dir = await mkdtemp(join(tmpdir(), 'timebox-bench-portal-'));
  const issuer = await startSandboxIssuer({ dir: join(dir, 'issuer') });
  const sandbox = await Sandbox.start({ oidc: apiServerTrust(issuer), people: DEMO_PEOPLE });
  const log = createLogger({ level: 'warn' });
  try {
    await setUpSandbox(sandbox.adminConfig());
    await installDemo(sandbox.adminConfig());
    // As npm start runs it; the session key is read back to make sessions below.
    const portal = await startSandboxPortal(dir, issuer, sandbox.adminConfig(), log);
    const key = Buffer.from(
      readFileSync(join(dir, 'portal', 'session.key'), 'utf8').trim(),
      'base64',
    );
    const alice = DEMO_PEOPLE[0]!;
    const api = grantsApi(sandbox.configFor(alice));
    for (let i = 0; i < grants; i += 20) {
      await Promise.all(
        Array.from({ length: Math.min(20, grants - i) }, (_, j) =>
          api.create(
            requestAs(alice, 'payments', 'payments-oncall', `bench-${i + j}`, {
              access: [{ kubernetes: { clusterRole: 'view', namespaces: ['payments'] } }],
            }),
          ),
        ),
      );
    }
    // Sessions as the portal makes them, around real ID tokens from the issuer.
    const sealer = new CookieSealer(key);
    const cookieFor = async (user: string, groups: string[]) => {
      const person = issuer.people.find((p) => p.user === user)!;
      const res = await signIn(issuer, { email: user, password: person.password });
      if (!res.ok) throw new Error(`sign-in failed: ${res.status}`);
      const session: Session = {
        sid: randomBytes(8).toString('hex'),
        user,
        groups,
        name: user,
        idToken: res.idToken,
        expiresAtMs: Date.now() + 3_000_000,
      };
      return `__Host-timebox-session=${sealer.seal('session', session)}`;
    };
    const aliceCookie = await cookieFor(alice.user, alice.groups ?? []);
    const bobCookie = await cookieFor(DEMO_PEOPLE[1]!.user, DEMO_PEOPLE[1]!.groups ?? []);
    const pages: [string, string, string][] = [
      ['My access', '/access', aliceCookie],
      ['Request form', '/request?policy=payments-oncall', aliceCookie],
      ['Approvals', '/approvals', bobCookie],
      ['Audit', '/audit', bobCookie],
      ['Audit CSV', '/audit.csv', bobCookie],
    ];
    const rows = [];
    for (const [name, path, cookie] of pages) {
      const ms: number[] = [];
      let bytes = 0;
      for (let i = 0; i < runs; i++) {
        const t = performance.now();
        const res = await fetch(`${portal.url}${path}`, { headers: { cookie } });
        const body = await res.arrayBuffer();
        ms.push(performance.now() - t);
        if (res.status !== 200) throw new Error(`${path}: HTTP ${res.status}`);
        bytes = body.byteLength;
      }
      ms.sort((a, b) => a - b);
      rows.push({
        page: name,
        KiB: bytes / 1024,
        'p50 (ms)': percentile(ms, 50),
        'p95 (ms)': percentile(ms, 95),
        'max (ms)': ms.at(-1)!,
        [`< ${PAGE_TARGET_MS} ms`]: percentile(ms, 95) < PAGE_TARGET_MS ? 'yes' : 'NO',
      });
    }
    printTable(
      `portal pages, ${grants} grants in the cluster, ${runs} requests each (target: p95 < ${PAGE_TARGET_MS} ms)`,
      rows,
    );
    await portal.stop();
  } finally {
    await sandbox.stop();
    await issuer.stop();
    await rm(dir, { recursive: true, force: true });
  }
}
