import { entryOf } from '../../providers/kinds.ts';
import type { AccessTarget } from './types.ts';

/** Pure: one access entry in words, as approvers and notifications show it. */
export function describeTarget(t: AccessTarget): string {
  const e = entryOf(t);
  return e ? `${e.kind.name}: ${e.kind.describe(e.entry)}` : '(empty entry)';
}
