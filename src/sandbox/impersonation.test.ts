import assert from 'node:assert/strict';
import { appendHeaders } from './impersonation.ts';

describe('appendHeaders', () => {
  const extra: [string, string][] = [
    ['Impersonate-User', 'alice'],
    ['Impersonate-Group', 'a'],
    ['Impersonate-Group', 'b'],
  ];

  it('keeps repeated groups as separate values in a header record', () => {
    assert.deepEqual(appendHeaders({ authorization: 'Bearer x' }, extra), {
      authorization: 'Bearer x',
      'Impersonate-User': 'alice',
      'Impersonate-Group': ['a', 'b'],
    });
  });

  it('appends to flat and paired header arrays', () => {
    assert.deepEqual(appendHeaders(['accept', '*/*'], extra.slice(0, 2)), [
      'accept',
      '*/*',
      'Impersonate-User',
      'alice',
      'Impersonate-Group',
      'a',
    ]);
    assert.deepEqual(appendHeaders([['accept', '*/*']], extra.slice(0, 1)), [
      ['accept', '*/*'],
      ['Impersonate-User', 'alice'],
    ]);
  });

  it('creates headers when there are none', () => {
    assert.deepEqual(appendHeaders(undefined, extra.slice(0, 1)), ['Impersonate-User', 'alice']);
  });
});
