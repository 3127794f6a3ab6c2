import assert from 'node:assert/strict';
import { ApiException } from '@kubernetes/client-node';
import { createLogger, logOptions, type LoggerOptions } from './logger.ts';

const now = () => new Date('2026-11-25T09:00:00Z');

function capture(opts: LoggerOptions = {}) {
  const lines: string[] = [];
  const log = createLogger({ format: 'json', write: (l) => lines.push(l), now, ...opts });
  const records = () => lines.map((l) => JSON.parse(l) as Record<string, unknown>);
  return { log, lines, records };
}

describe('logger', () => {
  it('writes one JSON object per line: ts, level as a word, msg, then the fields', () => {
    const { log, lines, records } = capture();
    log.with({ controller: 'accessgrant' }).info('granted', { grant: 'payments/alice', n: 2 });
    assert.equal(lines.length, 1);
    assert.deepEqual(records()[0], {
      level: 'info',
      ts: '2026-11-25T09:00:00.000Z',
      msg: 'granted',
      controller: 'accessgrant',
      grant: 'payments/alice',
      n: 2,
    });
    // The message before the fields, for people reading raw lines.
    assert.match(lines[0]!, /^\{"level":"info","ts":"[^"]+","msg":"granted","controller"/);
  });

  it("lets a call's field win over the logger's, and keeps a field from shadowing ts, level or msg", () => {
    const { log, records } = capture();
    log.with({ grant: 'a/b', component: 'x' }).warn('m', { grant: 'c/d', level: 3, msg: 'no' });
    assert.deepEqual(records()[0], {
      level: 'warn',
      ts: '2026-11-25T09:00:00.000Z',
      msg: 'm',
      grant: 'c/d',
      component: 'x',
      field_level: 3,
      field_msg: 'no',
    });
  });

  it('drops records below the configured level, and writes each level by name', () => {
    const { log, records } = capture({ level: 'warn' });
    log.debug('d');
    log.info('i');
    log.warn('w');
    log.error('e');
    assert.deepEqual(
      records().map((r) => [r.level, r.msg]),
      [
        ['warn', 'w'],
        ['error', 'e'],
      ],
    );
    const all = capture({ level: 'debug' });
    all.log.debug('d');
    assert.equal(all.records()[0]?.level, 'debug');
  });

  it('writes an error with its type, message, stack and chain of causes', () => {
    const { log, records } = capture();
    const root = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:6443'), {
      code: 'ECONNREFUSED',
      syscall: 'connect',
    });
    log.error('reconcile failed', { err: new TypeError('fetch failed', { cause: root }) });
    const err = records()[0]?.err as Record<string, unknown>;
    assert.equal(err.type, 'TypeError');
    assert.equal(err.message, 'fetch failed');
    assert.match(String(err.stack), /^TypeError: fetch failed\n\s+at .*logger\.test\.ts/);
    const cause = err.cause as Record<string, unknown>;
    assert.equal(cause.message, 'connect ECONNREFUSED 127.0.0.1:6443');
    assert.equal(cause.code, 'ECONNREFUSED');
    assert.equal(cause.syscall, 'connect');
    assert.match(String(cause.stack), /at .*logger\.test\.ts/);
  });

  it("writes a Kubernetes API error as its code and the Status's message, not the response", () => {
    const { log, lines, records } = capture();
    const status = {
      kind: 'Status',
      apiVersion: 'v1',
      status: 'Failure',
      message: 'accessgrants.timebox.dev "alice" is forbidden: User "bob" cannot patch',
      reason: 'Forbidden',
      details: { name: 'alice', group: 'timebox.dev', kind: 'accessgrants' },
      code: 403,
    };
    // As the generated client throws it: the body as text, the response's headers.
    const err = new ApiException(403, 'Unknown API Status Code!', JSON.stringify(status), {
      'audit-id': 'f00',
      'set-cookie': 'session=abc',
    });
    log.warn('patch failed', { err });
    assert.deepEqual(
      { ...(records()[0]?.err as object), stack: undefined },
      {
        type: 'ApiException',
        message: status.message,
        code: 403,
        reason: 'Forbidden',
        stack: undefined,
      },
    );
    const stack = String((records()[0]?.err as { stack: string }).stack);
    assert.match(stack, /^ApiException: accessgrants.timebox.dev "alice" is forbidden.*\n\s+at /);
    assert.doesNotMatch(lines[0]!, /audit-id|set-cookie|HTTP-Code|Body:|"details"/);

    // A body that is no Status (a proxy's HTML page): the code alone.
    log.warn('get failed', { err: new ApiException(502, 'x', '<html>Bad Gateway</html>', {}) });
    assert.equal((records()[1]?.err as { message: string }).message, 'HTTP 502');
  });

  it('writes text on a terminal: one line per record, the stack indented below', () => {
    const lines: string[] = [];
    const log = createLogger({ level: 'warn', format: 'text', write: (l) => lines.push(l), now });
    log.info('quiet');
    log.error('loud', { n: 1, user: 'alice@example.com' });
    const cause = new Error('socket hang up');
    log.warn('retrying', { err: new Error('request failed', { cause }) });
    assert.equal(lines[0], '2026-11-25T09:00:00.000Z ERROR loud n=1 user="alice@example.com"');
    const [head, ...stack] = lines[1]!.split('\n');
    assert.equal(
      head,
      '2026-11-25T09:00:00.000Z WARN  retrying err="Error: request failed; cause: Error: socket hang up"',
    );
    assert.match(stack[0]!, /^ {4}at .*logger\.test\.ts/);
    assert.ok(stack.includes('  caused by Error: socket hang up'), stack.join('\n'));
  });

  it('redacts in text as in JSON', () => {
    const lines: string[] = [];
    const log = createLogger({ format: 'text', write: (l) => lines.push(l), now });
    log.with({ token: 'xoxb-1234-5678-abcdefgh' }).info('posting with password=hunter2');
    assert.equal(
      lines[0],
      '2026-11-25T09:00:00.000Z INFO  posting with password=[REDACTED] token="[REDACTED]"',
    );
  });

  it('checks the logging flags, saying what to fix', () => {
    assert.deepEqual(logOptions(undefined, undefined), { level: 'info', format: undefined });
    assert.deepEqual(logOptions('debug', 'text'), { level: 'debug', format: 'text' });
    assert.throws(
      () => logOptions('verbose'),
      /--log-level must be debug, info, warn or error, got 'verbose'/,
    );
    assert.throws(
      () => logOptions('info', 'pretty'),
      /--log-format must be json or text, got 'pretty'/,
    );
  });
});
