import assert from 'node:assert/strict';
import { nodeTooOld } from './node-version.ts';

describe('the Node.js version check of the CLI', () => {
  it('says what to do on a Node.js older than 24, and nothing on 24 or later', () => {
    assert.match(
      nodeTooOld('20.20.2') ?? '',
      /needs Node\.js 24 or newer, and this is Node\.js 20\.20\.2/,
    );
    assert.match(nodeTooOld('v22.1.0') ?? '', /npx -p node@24/);
    assert.equal(nodeTooOld('24.0.0'), undefined);
    assert.equal(nodeTooOld('25.2.1'), undefined);
  });
});
