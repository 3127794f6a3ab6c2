import assert from 'node:assert/strict';
import { describe as describeFields } from './descriptions.ts';
import {
  accessApprovalCRD,
  accessGrantCRD,
  accessPolicyCRD,
  notificationChannelCRD,
} from './schema.ts';
import { accessActivityCRD } from './activity-schema.ts';

type Node = { description?: string; properties?: Record<string, Node>; items?: Node };

/** Fields without a description, below `path`. */
function undescribed(node: Node, path: string): string[] {
  return Object.entries(node.properties ?? {}).flatMap(([key, child]) => {
    const here = `${path}.${key}`;
    const self =
      child.description || ['apiVersion', 'kind', 'metadata'].includes(key) ? [] : [here];
    return [
      ...self,
      ...undescribed(child, here),
      ...(child.items ? undescribed(child.items, `${here}[]`) : []),
    ];
  });
}

describe('kubectl explain', () => {
  it('has words for every field of every kind', () => {
    for (const crd of [
      accessGrantCRD(),
      accessPolicyCRD(),
      accessApprovalCRD(),
      notificationChannelCRD(),
      accessActivityCRD(),
    ]) {
      const c = crd as {
        spec: { names: { kind: string }; versions: { schema: { openAPIV3Schema: Node } }[] };
      };
      assert.deepEqual(
        undescribed(c.spec.versions[0]!.schema.openAPIV3Schema, c.spec.names.kind),
        [],
        `${c.spec.names.kind}: fields with no description`,
      );
    }
  });

  it('refuses a description for a field that does not exist', () => {
    assert.throws(
      () => describeFields({ properties: { spec: {} } }, { 'spec.nope': 'x' }),
      /no field spec\.nope/,
    );
  });
});
