#!/usr/bin/env node
// What kubectl (1.26 or later) runs to complete `kubectl timebox ...`: the words
// after `timebox`, the last one being completed; the answer in cobra's format.
/* global process */
import { nodeTooOld } from '../dist/cli/node-version.js';

// An old Node.js completes nothing rather than print an error into the shell.
if (nodeTooOld(process.versions.node)) process.exit(0);
const { run } = await import('../dist/cli/main.js');
process.exitCode = await run(['__complete', ...process.argv.slice(2)]);
