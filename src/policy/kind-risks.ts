import { entryOf } from '../providers/kinds.ts';
import type { RoleRisk } from './escalation.ts';

/**
 * Pure: the roles a grant's access entries give that outlive the grant, as the
 * registered kinds judge them without reading anything (e.g. Azure's Owner).
 */
export function accessRisks(access: readonly Record<string, unknown>[]): RoleRisk[] {
  return access.flatMap((t) => {
    const e = entryOf(t);
    return e?.kind.entryRisks?.(e.entry) ?? [];
  });
}

/** Pure: the same for every role a policy's allow-list lets grants ask for, each role once. */
export function allowListRisks(access: readonly Record<string, unknown>[]): RoleRisk[] {
  const seen = new Map<string, RoleRisk>();
  for (const t of access) {
    const e = entryOf(t);
    for (const r of e?.kind.allowRisks?.(e.entry) ?? []) seen.set(r.role, r);
  }
  return [...seen.values()];
}
