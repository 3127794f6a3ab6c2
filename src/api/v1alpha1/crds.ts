import { stringify } from 'yaml';
import {
  accessApprovalCRD,
  accessGrantCRD,
  accessPolicyCRD,
  notificationChannelCRD,
} from './schema.ts';
import { accessActivityCRD } from './activity-schema.ts';

export interface GeneratedFile {
  path: string;
  content: string;
}

const HEADER = '# Generated from src/api/v1alpha1 by `npm run generate`. Do not edit.\n';

/** The CRD manifests as committed under crds/. */
export function crdFiles(): GeneratedFile[] {
  return [
    accessGrantCRD(),
    accessPolicyCRD(),
    accessApprovalCRD(),
    notificationChannelCRD(),
    accessActivityCRD(),
  ].map((crd) => {
    const name = (crd.metadata as { name: string }).name;
    const [plural, ...group] = name.split('.');
    return {
      path: `crds/${group.join('.')}_${plural}.yaml`,
      content: HEADER + stringify(crd, { lineWidth: 0 }),
    };
  });
}
