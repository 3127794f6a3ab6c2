import { isDeepStrictEqual } from 'node:util';
import {
  CustomObjectsApi,
  PatchStrategy,
  setHeaderOptions,
  type KubeConfig,
} from '@kubernetes/client-node';
import {
  ACCESS_POLICY,
  GROUP,
  VERSION,
  type AccessPolicy,
  type AccessPolicyStatus,
} from '../api/v1alpha1/types.ts';
import type { Logger } from '../log/logger.ts';
import { describeRisks, policyRisks, type RoleRisk, type RoleRules } from '../policy/escalation.ts';
import { allowListRisks } from '../policy/kind-risks.ts';
import type { Clock } from '../runtime/clock.ts';
import type { Informer } from '../runtime/informer.ts';
import { setCondition } from './conditions.ts';

export const PERSISTENT_ESCALATION = 'PersistentEscalation';

export interface PolicyWriter {
  patchStatus(policy: AccessPolicy, status: AccessPolicyStatus): Promise<void>;
}

export function policyWriter(kc: KubeConfig): PolicyWriter {
  const api = kc.makeApiClient(CustomObjectsApi);
  return {
    async patchStatus(policy, status) {
      await api.patchClusterCustomObjectStatus(
        {
          group: GROUP,
          version: VERSION,
          plural: ACCESS_POLICY.plural,
          name: policy.metadata.name ?? '',
          body: { metadata: { resourceVersion: policy.metadata.resourceVersion }, status },
        },
        setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
      );
    },
  };
}

/** Pure: the status a policy should show, given the risks of the roles it hands out. */
export function policyStatus(
  policy: AccessPolicy,
  risks: RoleRisk[],
  now: Date,
): AccessPolicyStatus {
  const generation = policy.metadata.generation ?? 0;
  const allowed = policy.spec.allowPersistentEscalation === true;
  const condition = risks.length
    ? {
        type: PERSISTENT_ESCALATION,
        status: 'True' as const,
        reason: allowed ? 'Allowed' : 'NotAllowed',
        message: `${describeRisks(risks)}. ${
          allowed
            ? 'allowPersistentEscalation: true hands them out all the same'
            : 'Grants for them are Denied; set allowPersistentEscalation: true to hand them out, knowing what that means'
        }`.slice(0, 4096),
      }
    : {
        type: PERSISTENT_ESCALATION,
        status: 'False' as const,
        reason: 'NoneFound',
        message: 'no role this policy hands out lets its holder keep access after the grant',
      };
  return {
    conditions: setCondition(
      policy.status?.conditions,
      { ...condition, observedGeneration: generation },
      now,
    ),
    observedGeneration: generation,
  };
}

/**
 * Keeps each AccessPolicy's PersistentEscalation condition true to the roles it
 * hands out, as they are now: a ClusterRole edited to add `escalate` shows up at
 * once. The grant controller enforces the same finding on each grant.
 */
export class AccessPolicyController {
  private readonly d: {
    policies: Pick<Informer<AccessPolicy>, 'get'>;
    roleRules: RoleRules;
    namespacesOfRole: (name: string) => string[];
    writer: PolicyWriter;
    clock: Clock;
    log: Logger;
  };

  constructor(deps: AccessPolicyController['d']) {
    this.d = deps;
  }

  async reconcile(name: string): Promise<{ requeueAfterMs?: number }> {
    const policy = this.d.policies.get(name);
    if (!policy) return {};
    const risks = [
      ...policyRisks(policy.spec, this.d.roleRules, this.d.namespacesOfRole),
      ...allowListRisks(policy.spec.access),
    ];
    const next = policyStatus(policy, risks, this.d.clock.now());
    if (isDeepStrictEqual(policy.status ?? {}, next)) return {};
    await this.d.writer.patchStatus(policy, next);
    if (risks.length) {
      this.d.log.info('policy hands out roles that outlive grants', {
        policy: name,
        allowed: policy.spec.allowPersistentEscalation === true,
        roles: risks.map((r) => r.role).join(', '),
      });
    }
    return {};
  }
}
