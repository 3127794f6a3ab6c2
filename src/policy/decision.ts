import type { Approval } from '../api/v1alpha1/types.ts';

/** The verdict on a grant request, with a reason that becomes the condition reason. */
export interface Decision {
  verdict: 'Approved' | 'Pending' | 'Denied';
  reason: string;
  message: string;
  /** The approvals that count, for status.approvals. */
  approvals?: Approval[];
  /** When the verdict changes by itself (the pending timeout), from now. */
  recheckAfterMs?: number;
  /** An approver of the policy ended the grant (AccessApproval decision Revoke). */
  revokedBy?: Approval;
}
