import { aGrant } from '../api/v1alpha1/testing.ts';
import type { AccessGrant, AccessTarget } from '../api/v1alpha1/types.ts';

/** For provider tests: an Active grant with these targets, as the controller hands it over. */
export function activeGrant(uid: string, access: AccessTarget[], expiresAt: string): AccessGrant {
  return aGrant({
    metadata: { name: `g-${uid}`, uid },
    spec: { access },
    status: { phase: 'Active', expiresAt },
  });
}
