import assert from 'node:assert/strict';
import { createLogger, type Format } from './logger.ts';
import { isSecretKey, scrub } from './redact.ts';

/** Realistic secrets, each of which must never appear in a log line. */
const JWT =
  'eyJhbGciOiJSUzI1NiIsImtpZCI6Ik1UWTQifQ.eyJpc3MiOiJrdWJlcm5ldGVzL3NlcnZpY2VhY2NvdW50In0.U2lnbmVkQnlUaGVBcGlTZXJ2ZXI';
const OPAQUE = 'sha256~Qm9vdHN0cmFwVG9rZW5Gb3JUZXN0';
const SLACK_BOT = 'xoxb-2048-4096-AbCdEfGhIjKlMnOpQrStUvWx';
const SLACK_APP = 'xapp-1-A0123-4567-9f8e7d6c5b4a';
const SLACK_HOOK_SECRET = 'T0001/B0002/Zx9Yw8Vu7Ts6Rq5Po4Nm3Lk2';
const DB_PASSWORD = 's3cr3t-pa55-w0rd';
const CLIENT_SECRET = 'oidc-client-secret-7f3a9c';
const KEY_DATA = 'LS0tLS1CRUdJTiBQUklWQVRFIEtFWS0tLS0tCk1JSUV2Z0lCQURBTkJna3Fo';
const AWS_SECRET = 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY';
const PEM_BODY = 'MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7';
const COOKIE = 'timebox_session=Fe26.2**0cdd1a';
const SECRETS = [
  JWT,
  OPAQUE,
  SLACK_BOT,
  SLACK_APP,
  SLACK_HOOK_SECRET,
  DB_PASSWORD,
  CLIENT_SECRET,
  KEY_DATA,
  AWS_SECRET,
  PEM_BODY,
  'Fe26.2',
];

/** A kubeconfig as client-node's KubeConfig holds one, with every kind of credential. */
const kubeconfig = {
  clusters: [{ name: 'prod', server: 'https://10.0.0.1:6443', caData: 'LS0tQ0E=' }],
  users: [
    { name: 'sa', token: JWT },
    { name: 'cert', certData: 'LS0tQ0VSVA==', keyData: KEY_DATA },
    { name: 'basic', username: 'admin', password: DB_PASSWORD },
    {
      name: 'oidc',
      authProvider: {
        name: 'oidc',
        config: { 'id-token': JWT, 'refresh-token': OPAQUE, 'client-secret': CLIENT_SECRET },
      },
    },
    {
      name: 'aws',
      exec: {
        command: 'aws',
        env: [
          { name: 'AWS_SECRET_ACCESS_KEY', value: AWS_SECRET },
          { name: 'AWS_REGION', value: 'eu-west-1' },
        ],
      },
    },
  ],
  contexts: [{ name: 'prod', cluster: 'prod', user: 'sa' }],
};

function run(format: Format, body: (log: ReturnType<typeof createLogger>) => void): string {
  const lines: string[] = [];
  body(createLogger({ format, level: 'debug', write: (l) => lines.push(l) }));
  return lines.join('\n');
}

function assertNoSecret(out: string): void {
  for (const s of SECRETS) assert.ok(!out.includes(s), `${s} leaked in:\n${out}`);
}

describe('log redaction', () => {
  for (const format of ['json', 'text'] as const) {
    describe(`in ${format}`, () => {
      it('hides a bearer token quoted in an error message, its stack and its causes', () => {
        const out = run(format, (log) => {
          const cause = new Error(
            `401 from https://api.example.com: Authorization: Bearer ${OPAQUE}`,
          );
          const err = new Error(`request with header "Authorization: Bearer ${JWT}" failed`, {
            cause,
          });
          log.error('call failed', { err });
          log.error(`call failed: ${err.message}`);
          log.warn('retrying', { err: `got 401 for Bearer ${OPAQUE}` });
          log.warn('basic', {
            err: new Error(
              `Authorization: Basic ${Buffer.from('u:' + DB_PASSWORD).toString('base64')}`,
            ),
          });
          log.warn('aggregate', {
            err: new AggregateError([new Error(`token=${OPAQUE}`)], 'all failed'),
          });
        });
        assertNoSecret(out);
        assert.ok(!out.includes(Buffer.from('u:' + DB_PASSWORD).toString('base64')));
        assert.match(out, /call failed/);
        assert.match(out, /REDACTED/);
      });

      it('hides every credential of a kubeconfig, keeping what is not secret', () => {
        const out = run(format, (log) => log.info('loaded kubeconfig', { kubeconfig }));
        assertNoSecret(out);
        for (const kept of ['https://10.0.0.1:6443', 'AWS_REGION', 'eu-west-1', '"admin"']) {
          assert.ok(out.includes(kept), `${kept} is kept: ${out}`);
        }
      });

      it('hides Slack tokens and webhook URLs, wherever they are', () => {
        const out = run(format, (log) => {
          log.info(`posting to https://hooks.slack.com/services/${SLACK_HOOK_SECRET}`);
          log.info('channel', {
            channels: [
              { kind: 'slack', url: `https://hooks.slack.com/services/${SLACK_HOOK_SECRET}` },
            ],
            note: `used ${SLACK_BOT} and ${SLACK_APP}`,
          });
          log.error('slack', { err: new Error(`invalid_auth for ${SLACK_BOT}`) });
        });
        assertNoSecret(out);
        assert.match(out, /hooks\.slack\.com\/services\/\[REDACTED\]/);
      });

      it('hides secrets in bindings, arrays, maps, sets, class instances and toJSON', () => {
        class Client {
          endpoint = 'https://iam.example.com';
          apiKey = AWS_SECRET;
        }
        const cyclic: Record<string, unknown> = { clientSecret: CLIENT_SECRET };
        cyclic.self = cyclic;
        const out = run(format, (log) => {
          const scoped = log.with({
            auth: { Authorization: `Bearer ${JWT}` },
            privateKey: KEY_DATA,
          });
          scoped.info('with bindings');
          scoped.with({ session: { cookie: COOKIE } }).info('nested with');
          log.info('shapes', {
            list: [[{ password: DB_PASSWORD }], `postgres://app:${DB_PASSWORD}@db:5432/timebox`],
            map: new Map<string, unknown>([['client_secret', CLIENT_SECRET]]),
            set: new Set([`api_key=${OPAQUE}`, `private_key=${PEM_BODY}`]),
            client: new Client(),
            cyclic,
            custom: { toJSON: () => ({ refreshToken: OPAQUE }) },
            headers: { 'X-Api-Key': OPAQUE, Cookie: COOKIE, 'set-cookie': [COOKIE] },
            pem: `-----BEGIN RSA PRIVATE KEY-----\n${PEM_BODY}\n-----END RSA PRIVATE KEY-----`,
          });
          log.info(`raw header: Cookie: ${COOKIE}; theme=dark`);
          log.info('json in text', {
            body: JSON.stringify({ access_token: OPAQUE, expires_in: 3600 }),
          });
        });
        assertNoSecret(out);
        assert.match(out, /iam\.example\.com/);
        assert.match(out, /Circular/);
        assert.match(out, /expires_in/);
      });

      it('keeps only the scalar facts of an error, not the request it carried', () => {
        // As gaxios and SDK errors are: the request's config, headers included, on the error.
        const err = Object.assign(new Error('Request failed with status code 403'), {
          status: 403,
          config: {
            url: 'https://cloudresourcemanager.googleapis.com',
            headers: { authorization: `Bearer ${OPAQUE}` },
          },
          response: { data: { error: 'forbidden' }, request: { token: JWT } },
          credentials: { secretAccessKey: AWS_SECRET },
        });
        const out = run(format, (log) => log.error('gcp failed', { err }));
        assertNoSecret(out);
        assert.match(out, /403/);
        assert.doesNotMatch(out, /cloudresourcemanager/);
      });

      it('hides a secret used as a key, and logs what it can of objects that throw', () => {
        const hostile = new Proxy(
          {},
          {
            ownKeys: () => {
              throw new Error(`no keys for ${OPAQUE}`);
            },
          },
        );
        const out = run(format, (log) =>
          log.info('odd shapes', {
            users: new Map([[`Bearer ${OPAQUE}`, 'alice']]),
            hostile,
            getter: Object.defineProperty({}, 'x', {
              enumerable: true,
              get: () => {
                throw new Error(JWT);
              },
            }),
            kept: 'yes',
          }),
        );
        assertNoSecret(out);
        assert.match(out, /Unserializable/);
        assert.match(out, /kept/);
      });

      it('hides what is nested too deep to walk', () => {
        let deep: Record<string, unknown> = { value: `token: ${OPAQUE}`, jwt: JWT };
        for (let i = 0; i < 50; i++) deep = { next: deep };
        const out = run(format, (log) => log.info('deep', { deep }));
        assertNoSecret(out);
      });
    });
  }

  it('tells secret-holding keys from keys that only name a secret', () => {
    for (const k of [
      'token',
      'idToken',
      'id-token',
      'password',
      'PASSWD',
      'clientSecret',
      'client_secret',
      'Authorization',
      'set-cookie',
      'apiKey',
      'X-Api-Key',
      'privateKey',
      'client-key-data',
      'keyData',
      'credentials',
      'webhookSecret',
      'signingKey',
      'x-slack-signature',
    ]) {
      assert.ok(isSecretKey(k), k);
    }
    for (const k of [
      'key',
      'secretName',
      'tokenFile',
      'secretRef',
      'secretNamespace',
      'grant',
      'user',
      'authMode',
      'certData',
      'sessionKeyFile',
      'name',
      'value',
    ]) {
      assert.ok(!isSecretKey(k), k);
    }
  });

  it('leaves ordinary text alone', () => {
    for (const text of [
      'refused a request without a valid CSRF token',
      'secrets "timebox-webhook-tls" is forbidden: User "system:serviceaccount:timebox-system:timebox" cannot get',
      'granted ClusterRole edit to alice@example.com until 2026-11-25T13:00:00Z',
      'https://login.example.com/.well-known/openid-configuration',
    ]) {
      assert.equal(scrub(text), text);
    }
  });
});
