#!/usr/bin/env node
// The `timebox` and `kubectl timebox` commands. Plain JavaScript that any Node.js
// parses, so that an older one says what it needs instead of crashing inside a
// dependency with a stack trace.
/* global process, console */
import { nodeTooOld } from '../dist/cli/node-version.js';

const tooOld = nodeTooOld(process.versions.node);
if (tooOld) {
  console.error(tooOld);
  process.exit(1);
}
const { run } = await import('../dist/cli/main.js');
process.exitCode = await run(process.argv.slice(2));
