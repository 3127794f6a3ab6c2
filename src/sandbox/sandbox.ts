import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import { request } from 'node:https';
import { request as httpRequest } from 'node:http';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { KubeConfig } from '@kubernetes/client-node';
import { stringify } from 'yaml';
import { auditWebhookFlags } from './audit.ts';
import { ensureControlPlaneBinaries, type ControlPlaneBinaries } from './binaries.ts';
import { ImpersonatingKubeConfig, type Identity } from './impersonation.ts';
import { freePort } from './ports.ts';
import { killRecorded, writePidRecord } from './pid-record.ts';
import {
  startProcess,
  stopInOrder,
  stopProcess,
  tail,
  type ManagedProcess,
  type StartOptions,
} from './process.ts';

export const SANDBOX_ADMIN = 'timebox-sandbox-admin';

/** Writes only, at Metadata level: who changed what, without request bodies. */
const AUDIT_POLICY = `apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: [RequestReceived]
rules:
  - level: Metadata
    verbs: [create, update, patch, delete, deletecollection]
  - level: None
`;

/** An OpenID Connect issuer whose ID tokens the API server accepts as bearer tokens. */
export interface SandboxOidcTrust {
  /** The https issuer URL; the API server fetches its discovery document and keys from it. */
  issuer: string;
  /** PEM of the CA that signed the issuer's serving certificate. */
  caPem: string;
  /** Client IDs whose ID tokens are accepted (the `aud` claim must name one of them). */
  audiences: string[];
}

/**
 * Pure: the API server's structured authentication configuration for one OIDC
 * issuer (apiserver.config.k8s.io/v1, GA in 1.34). People are named by their
 * email, as the demo policies and bindings name them, and keep their groups
 * unprefixed. Whoever controls an issuer mints any claim it likes, so no ID
 * token may name a `system:` user or group: `system:masters` would bypass RBAC.
 */
export function authenticationConfigYaml(trust: SandboxOidcTrust): string {
  if (trust.audiences.length === 0) {
    throw new Error(
      'oidc.audiences is empty: name the client IDs whose ID tokens the API server should accept',
    );
  }
  const url = new URL(trust.issuer);
  if (url.protocol !== 'https:') {
    throw new Error(
      `oidc.issuer must be an https URL (the API server refuses others), got ${trust.issuer}`,
    );
  }
  return stringify({
    apiVersion: 'apiserver.config.k8s.io/v1',
    kind: 'AuthenticationConfiguration',
    jwt: [
      {
        issuer: {
          url: trust.issuer,
          certificateAuthority: trust.caPem,
          audiences: trust.audiences,
          // Required as soon as there is more than one audience.
          ...(trust.audiences.length > 1 ? { audienceMatchPolicy: 'MatchAny' } : {}),
        },
        claimValidationRules: [
          {
            expression: 'has(claims.email_verified) && claims.email_verified == true',
            message: 'the email address in the ID token is not verified (email_verified)',
          },
        ],
        claimMappings: {
          username: { claim: 'email', prefix: '' },
          groups: { claim: 'groups', prefix: '' },
        },
        userValidationRules: [
          {
            expression: "!user.username.startsWith('system:')",
            message:
              'an OIDC user name may not start with system:, which is reserved for Kubernetes',
          },
          {
            expression: "user.groups.all(group, !group.startsWith('system:'))",
            message: 'an OIDC group may not start with system:, which is reserved for Kubernetes',
          },
        ],
      },
    ],
  });
}

export interface SandboxOptions {
  /** Working directory. Defaults to a fresh temporary directory, removed on stop. */
  dir?: string;
  /** Keep the directory (and so etcd's data) after stop; the default for an explicit `dir`. */
  keepDir?: boolean;
  /** Extra kube-apiserver flags, e.g. `--feature-gates=...`. */
  apiserverFlags?: string[];
  /** Write an audit log of every write request (JSON lines) to `<dir>/audit.log`. */
  auditLog?: boolean;
  /**
   * Send every completed request (Metadata level) to an audit webhook: the
   * operator's grant activity intake (see prepareSandboxAudit).
   */
  auditWebhook?: { configFile: string; policyFile: string };
  /** Startup timeout for each component. */
  timeoutMs?: number;
  /**
   * People who sign in with a token of their own (the API server's static token
   * file), each given a kubeconfig at `<dir>/people/<name>.kubeconfig`, where
   * name is the user name up to any `@`.
   */
  people?: Identity[];
  /**
   * Also accept ID tokens of this OpenID Connect issuer (e.g. startSandboxIssuer's),
   * written to `<dir>/authentication-config.yaml`. The API server reads it at
   * start, so the issuer must be up first.
   */
  oidc?: SandboxOidcTrust;
  /**
   * Run the components in process groups of their own (see StartOptions): for a
   * host that stops the sandbox on every signal itself, as `npm start` does.
   */
  detached?: boolean;
  log?: (msg: string) => void;
}

/** How long stop() gives the components, all together, before it SIGKILLs what is left. */
export const SANDBOX_STOP_MS = 10_000;

interface HttpResult {
  status: number;
  body: string;
}

function get(url: string, opts: { ca?: Buffer; token?: string } = {}): Promise<HttpResult> {
  return new Promise((resolveGet, reject) => {
    const u = new URL(url);
    const doRequest = u.protocol === 'https:' ? request : httpRequest;
    const req = doRequest(
      u,
      {
        method: 'GET',
        ca: opts.ca,
        headers: opts.token ? { Authorization: `Bearer ${opts.token}` } : {},
        timeout: 2_000,
      },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (body += c));
        res.on('end', () => resolveGet({ status: res.statusCode ?? 0, body }));
      },
    );
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end();
  });
}

/**
 * A local control plane: etcd, kube-apiserver and kube-controller-manager as
 * child processes on loopback. The API server is configured after
 * controller-runtime's envtest, with RBAC authorization (so permission checks are
 * real) and the admission plugins a cluster has by default, ValidatingAdmissionPolicy
 * included. Unlike envtest, a trimmed controller-manager runs too, so the built-in
 * `view`/`edit`/`admin` roles carry their aggregated rules and owner references are
 * garbage-collected.
 *
 * The admin authenticates with a static bearer token as a member of
 * `system:masters`; other identities are reached through impersonation.
 */
export class Sandbox {
  readonly dir: string;
  readonly server: string;
  readonly kubeconfigPath: string;
  readonly caData: Buffer;
  readonly binaries: ControlPlaneBinaries;
  readonly startupMs: number;
  private readonly token: string;
  private processes: ManagedProcess[];
  private readonly removeDir: boolean;
  private readonly startOptions: StartOptions;
  private stopped = false;

  private constructor(init: {
    dir: string;
    server: string;
    kubeconfigPath: string;
    caData: Buffer;
    token: string;
    binaries: ControlPlaneBinaries;
    processes: ManagedProcess[];
    removeDir: boolean;
    startupMs: number;
    startOptions: StartOptions;
  }) {
    this.dir = init.dir;
    this.server = init.server;
    this.kubeconfigPath = init.kubeconfigPath;
    this.caData = init.caData;
    this.token = init.token;
    this.binaries = init.binaries;
    this.processes = init.processes;
    this.removeDir = init.removeDir;
    this.startupMs = init.startupMs;
    this.startOptions = init.startOptions;
    // If the host exits without calling stop(), process.ts's exit hook SIGKILLs the children.
  }

  static async start(opts: SandboxOptions = {}): Promise<Sandbox> {
    const log = opts.log ?? (() => {});
    const timeoutMs = opts.timeoutMs ?? 60_000;
    const binaries = await ensureControlPlaneBinaries(log);
    const began = performance.now();
    const dir = resolve(opts.dir ?? (await mkdtemp(join(tmpdir(), 'timebox-sandbox-'))));
    const removeDir = opts.keepDir === undefined ? opts.dir === undefined : !opts.keepDir;
    mkdirSync(join(dir, 'certs'), { recursive: true });
    const pidFile = join(dir, 'pids.json');
    await killRecorded(pidFile, log);
    const startOptions: StartOptions = { detached: opts.detached ?? false };

    const saKey = join(dir, 'certs', 'sa.key');
    const saPub = join(dir, 'certs', 'sa.pub');
    if (!existsSync(saKey) || !existsSync(saPub)) {
      const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
      writeFileSync(saKey, privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });
      writeFileSync(saPub, publicKey.export({ type: 'spki', format: 'pem' }));
    }
    const token = randomBytes(24).toString('hex');
    const tokenFile = join(dir, 'certs', 'tokens.csv');
    const people = (opts.people ?? []).map((p) => ({
      ...p,
      token: randomBytes(24).toString('hex'),
    }));
    writeFileSync(
      tokenFile,
      [
        `${token},${SANDBOX_ADMIN},${SANDBOX_ADMIN},"system:masters"`,
        ...people.map((p) => `${p.token},${p.user},${p.user},"${(p.groups ?? []).join(',')}"`),
      ].join('\n') + '\n',
      { mode: 0o600 },
    );
    // The serving certificate is self-signed per start; drop the old one so the CA we hand out matches.
    rmSync(join(dir, 'certs', 'apiserver.crt'), { force: true });
    rmSync(join(dir, 'certs', 'apiserver.key'), { force: true });

    const processes: ManagedProcess[] = [];
    const fail = async (err: unknown): Promise<never> => {
      for (const p of processes.reverse()) await stopProcess(p, 2_000);
      writePidRecord(pidFile, []);
      throw err;
    };

    try {
      const [etcdPort, peerPort, apiPort] = [await freePort(), await freePort(), await freePort()];
      const etcdUrl = `http://127.0.0.1:${etcdPort}`;
      const peerUrl = `http://127.0.0.1:${peerPort}`;
      const etcd = startProcess(
        'etcd',
        binaries.etcd,
        [
          `--name=sandbox`,
          `--data-dir=${join(dir, 'etcd')}`,
          `--listen-client-urls=${etcdUrl}`,
          `--advertise-client-urls=${etcdUrl}`,
          `--listen-peer-urls=${peerUrl}`,
          `--initial-advertise-peer-urls=${peerUrl}`,
          `--initial-cluster=sandbox=${peerUrl}`,
          // Durability across power loss is not a concern for a sandbox; fsync dominates start time.
          '--unsafe-no-fsync=true',
          '--log-level=warn',
        ],
        join(dir, 'etcd.log'),
        startOptions,
      );
      processes.push(etcd);
      writePidRecord(pidFile, processes);
      await waitFor('etcd', etcd, timeoutMs, async () =>
        (await get(`${etcdUrl}/health`)).body.includes('"health":"true"'),
      );

      const certDir = join(dir, 'certs');
      const auditFlags: string[] = [];
      if (opts.auditWebhook) {
        // One policy for both backends: the activity policy covers the writes too.
        auditFlags.push(
          `--audit-policy-file=${opts.auditWebhook.policyFile}`,
          ...auditWebhookFlags(opts.auditWebhook),
        );
      }
      if (opts.auditLog) {
        const policy = join(dir, 'audit-policy.yaml');
        writeFileSync(policy, AUDIT_POLICY);
        if (!opts.auditWebhook) auditFlags.push(`--audit-policy-file=${policy}`);
        auditFlags.push(
          `--audit-log-path=${join(dir, 'audit.log')}`,
          '--audit-log-format=json',
          '--audit-log-maxsize=0',
        );
      }
      // Static tokens (admin, demo people) and the OIDC issuer coexist: the API
      // server tries each authenticator in turn.
      const oidcFlags: string[] = [];
      const authnConfig = join(dir, 'authentication-config.yaml');
      rmSync(authnConfig, { force: true });
      if (opts.oidc) {
        writeFileSync(authnConfig, authenticationConfigYaml(opts.oidc));
        oidcFlags.push(`--authentication-config=${authnConfig}`);
      }
      const server = `https://127.0.0.1:${apiPort}`;
      const apiserver = startProcess(
        'kube-apiserver',
        binaries.kubeApiserver,
        [
          `--etcd-servers=${etcdUrl}`,
          `--etcd-prefix=/registry`,
          `--bind-address=127.0.0.1`,
          `--advertise-address=127.0.0.1`,
          `--secure-port=${apiPort}`,
          `--cert-dir=${certDir}`,
          `--token-auth-file=${tokenFile}`,
          '--authorization-mode=RBAC',
          `--service-account-issuer=${server}`,
          `--service-account-key-file=${saPub}`,
          `--service-account-signing-key-file=${saKey}`,
          '--service-cluster-ip-range=10.0.0.0/24',
          '--allow-privileged=true',
          // There is no controller-manager to create service account tokens.
          '--disable-admission-plugins=ServiceAccount',
          '--profiling=false',
          ...auditFlags,
          ...oidcFlags,
          ...(opts.apiserverFlags ?? []),
        ],
        join(dir, 'kube-apiserver.log'),
        startOptions,
      );
      processes.push(apiserver);
      writePidRecord(pidFile, processes);
      const caFile = join(certDir, 'apiserver.crt');
      await waitFor('kube-apiserver', apiserver, timeoutMs, async () => {
        if (!existsSync(caFile)) return false;
        const res = await get(`${server}/readyz`, { ca: readFileSync(caFile), token });
        return res.status === 200;
      });
      const caData = readFileSync(caFile);
      const kubeconfigPath = join(dir, 'kubeconfig');
      writeFileSync(kubeconfigPath, kubeconfigYaml(server, caData, token), { mode: 0o600 });
      if (people.length) mkdirSync(join(dir, 'people'), { recursive: true });
      for (const p of people) {
        writeFileSync(
          personKubeconfigPath(dir, p.user),
          kubeconfigYaml(server, caData, p.token, p.user),
          { mode: 0o600 },
        );
      }

      // Only the controllers a cluster's API semantics depend on: aggregated roles
      // (view/edit/admin are empty without it), owner-reference garbage collection,
      // and namespace deletion.
      const kcm = startProcess(
        'kube-controller-manager',
        binaries.kubeControllerManager,
        [
          `--kubeconfig=${kubeconfigPath}`,
          '--controllers=clusterrole-aggregation-controller,garbage-collector-controller,namespace-controller,serviceaccount-controller',
          '--leader-elect=false',
          '--secure-port=0',
          '--profiling=false',
        ],
        join(dir, 'kube-controller-manager.log'),
        startOptions,
      );
      processes.push(kcm);
      writePidRecord(pidFile, processes);
      await waitFor('kube-controller-manager', kcm, timeoutMs, async () => {
        const res = await get(`${server}/apis/rbac.authorization.k8s.io/v1/clusterroles/view`, {
          ca: caData,
          token,
        });
        const role = JSON.parse(res.body) as { rules?: unknown[] };
        return res.status === 200 && (role.rules?.length ?? 0) > 0;
      });
      const startupMs = performance.now() - began;
      log(`sandbox control plane ready at ${server} in ${(startupMs / 1000).toFixed(1)}s`);
      return new Sandbox({
        dir,
        server,
        kubeconfigPath,
        caData,
        token,
        binaries,
        processes,
        removeDir,
        startupMs,
        startOptions,
      });
    } catch (err) {
      return fail(err);
    }
  }

  /** The audit log, when the sandbox was started with `auditLog`. */
  get auditLogPath(): string {
    return join(this.dir, 'audit.log');
  }

  /** Process ids of the running components. */
  get pids(): number[] {
    return this.processes.map((p) => p.pid);
  }

  /** GET a raw API server path as admin, e.g. `/metrics`. */
  async getRaw(path: string): Promise<string> {
    const res = await get(`${this.server}${path}`, { ca: this.caData, token: this.token });
    if (res.status !== 200) throw new Error(`GET ${path}: HTTP ${res.status}`);
    return res.body;
  }

  /**
   * Kills a component with SIGKILL, as a crash would, starts it again with the
   * same flags and data, and waits until the API server is ready again: for
   * soak tests of what survives an API server or etcd restart.
   */
  async crash(name: 'etcd' | 'kube-apiserver', timeoutMs = 60_000): Promise<void> {
    const i = this.processes.findIndex((p) => p.name === name);
    const old = this.processes[i];
    if (!old) throw new Error(`no ${name} in this sandbox`);
    old.child.kill('SIGKILL');
    await old.exited;
    const [command, ...args] = old.child.spawnargs;
    const fresh = startProcess(name, command!, args, old.logFile, this.startOptions);
    this.processes = this.processes.map((p, j) => (j === i ? fresh : p));
    writePidRecord(join(this.dir, 'pids.json'), this.processes);
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const ready = await get(`${this.server}/readyz`, { ca: this.caData, token: this.token }).then(
        (r) => r.status === 200,
        () => false,
      );
      if (ready) return;
      if (Date.now() > deadline) throw new Error(`${name} was not back within ${timeoutMs} ms`);
      await sleep(100);
    }
  }

  /** A client configuration for the sandbox admin (a member of `system:masters`). */
  adminConfig(): KubeConfig {
    const kc = new KubeConfig();
    kc.loadFromString(kubeconfigYaml(this.server, this.caData, this.token));
    return kc;
  }

  /** A client configuration that acts as `identity`, checked by the real RBAC authorizer. */
  configFor(identity: Identity): KubeConfig {
    return new ImpersonatingKubeConfig(this.adminConfig(), identity);
  }

  /**
   * Stops the components in reverse start order, so no component logs a storm of
   * errors about the one below it, all within `withinMs`: what is still running
   * then is SIGKILLed (an API server whose etcd is gone may never finish its
   * graceful shutdown).
   */
  async stop(withinMs = SANDBOX_STOP_MS): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    await stopInOrder([...this.processes].reverse(), Date.now() + withinMs);
    writePidRecord(join(this.dir, 'pids.json'), []);
    if (this.removeDir) rmSync(this.dir, { recursive: true, force: true });
  }
}

async function waitFor(
  name: string,
  proc: ManagedProcess,
  timeoutMs: number,
  ready: () => Promise<boolean>,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let exited: number | string | undefined;
  void proc.exited.then((code) => (exited = code)).catch(() => (exited = 'spawn error'));
  while (Date.now() < deadline) {
    if (exited !== undefined) {
      throw new Error(`${name} exited (${exited}) during start-up:\n${tail(proc.logFile)}`);
    }
    if (await ready().catch(() => false)) return;
    await sleep(100);
  }
  throw new Error(
    `${name} was not ready after ${timeoutMs / 1000}s; see ${proc.logFile}:\n${tail(proc.logFile)}`,
  );
}

/** Where a sandbox person's kubeconfig is written. */
export function personKubeconfigPath(dir: string, user: string): string {
  return join(dir, 'people', `${user.split('@')[0]!.replace(/[^\w.-]/g, '_')}.kubeconfig`);
}

function kubeconfigYaml(server: string, ca: Buffer, token: string, user = SANDBOX_ADMIN): string {
  return [
    'apiVersion: v1',
    'kind: Config',
    'clusters:',
    '- name: timebox-sandbox',
    '  cluster:',
    `    server: ${server}`,
    `    certificate-authority-data: ${ca.toString('base64')}`,
    'users:',
    `- name: ${JSON.stringify(user)}`,
    '  user:',
    `    token: ${token}`,
    'contexts:',
    '- name: timebox-sandbox',
    '  context:',
    '    cluster: timebox-sandbox',
    `    user: ${JSON.stringify(user)}`,
    'current-context: timebox-sandbox',
    '',
  ].join('\n');
}
