import assert from 'node:assert/strict';
import { createLogger } from './logger.ts';

describe('logger', () => {
  const now = () => new Date('2026-11-25T09:00:00Z');

  it('writes one JSON object per line with inherited fields', () => {
    const lines: string[] = [];
    const log = createLogger({ format: 'json', write: (l) => lines.push(l), now }).with({
      controller: 'accessgrant',
    });
    log.info('granted', { grant: 'payments/alice', err: new Error('boom') });
    assert.deepEqual(JSON.parse(lines[0] ?? ''), {
      ts: '2026-11-25T09:00:00.000Z',
      level: 'info',
      msg: 'granted',
      controller: 'accessgrant',
      grant: 'payments/alice',
      err: 'boom',
    });
  });

  it('drops messages below the configured level', () => {
    const lines: string[] = [];
    const log = createLogger({ level: 'warn', format: 'text', write: (l) => lines.push(l), now });
    log.info('quiet');
    log.error('loud', { n: 1 });
    assert.deepEqual(lines, ['2026-11-25T09:00:00.000Z ERROR loud n=1']);
  });
});
