import type { AccessActivity, AccessActivityStatus } from '../api/v1alpha1/activity.ts';
import type { AccessGrant } from '../api/v1alpha1/types.ts';
import { httpStatus } from '../kube/errors.ts';

/**
 * A grant's activity record as the person may see it:
 * - `hidden`: the page shows nothing of it: RBAC does not let them read it, or
 *   the grant was never active (so it has none).
 * - `none`: nothing recorded (yet), or only a record of another grant of the same name.
 * - `unavailable`: it could not be read just now (the page still shows the grant).
 */
export type ActivityRead =
  | { state: 'hidden' }
  | { state: 'none' }
  | { state: 'unavailable' }
  | { state: 'recorded'; status: AccessActivityStatus };

/** Reads one record as the person (PersonApi.activity): undefined when there is none. */
export type ActivityGetter = (
  namespace: string,
  name: string,
) => Promise<AccessActivity | undefined>;

/**
 * The record of `g`, read as the person so that RBAC decides who sees it. Only
 * a grant that was ever active has one. A record whose grantRef is another UID
 * belongs to an earlier grant of the same name, not to this one. Never throws:
 * the grant's page is shown whatever happens to its record.
 */
export async function readActivity(
  get: ActivityGetter,
  g: AccessGrant,
  onError: (err: unknown) => void = () => {},
): Promise<ActivityRead> {
  if (!g.status?.activatedAt) return { state: 'hidden' };
  try {
    const a = await get(g.metadata.namespace ?? '', g.metadata.name ?? '');
    if (!a || a.spec.grantRef.uid !== g.metadata.uid) return { state: 'none' };
    return { state: 'recorded', status: a.status ?? {} };
  } catch (err) {
    if (httpStatus(err) === 403) return { state: 'hidden' };
    onError(err);
    return { state: 'unavailable' };
  }
}
