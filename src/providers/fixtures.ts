import type { AccessGrant, AccessTarget } from '../api/v1alpha1/types.ts';

/** For provider tests: an Active grant with these targets, as the controller hands it over. */
export function activeGrant(uid: string, access: AccessTarget[], expiresAt: string): AccessGrant {
  return {
    metadata: { name: `g-${uid}`, namespace: 'payments', uid },
    spec: {
      subject: { kind: 'User', name: 'alice@example.com' },
      policy: 'p',
      duration: '1h',
      access,
    },
    status: { phase: 'Active', expiresAt },
  };
}
