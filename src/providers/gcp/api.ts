import { names, str } from '../schema.ts';

export interface GcpAccess {
  resource: string;
  role: string;
  member: string;
}

export interface GcpAllow {
  resources?: string[];
  roles?: string[];
  /** Glob patterns for members besides the requester's own `user:<requester>`; none when absent. */
  members?: string[];
}

export const gcpAccessSchema = {
  type: 'object',
  description: 'GCP IAM: a conditional role binding on resource that ends at expiry.',
  required: ['resource', 'role', 'member'],
  properties: {
    resource: str(1024, {
      pattern: '^(projects|folders|organizations)/[A-Za-z0-9._:-]+$',
      description: 'projects/<id>, folders/<id> or organizations/<id>.',
    }),
    role: str(1024, {
      pattern:
        '^(roles|projects/[A-Za-z0-9._:-]+/roles|organizations/[0-9]+/roles)/[A-Za-z0-9_.]+$',
      description: 'A predefined or custom role, e.g. roles/cloudsql.viewer.',
    }),
    member: str(1024, {
      pattern: '^(user|group|serviceAccount|domain|principal|principalSet):.+$',
      description: 'An IAM member, e.g. user:alice@example.com.',
    }),
  },
};

export const gcpAllowSchema = {
  type: 'object',
  properties: {
    resources: names(256, str(1024)),
    roles: names(256, str(1024)),
    members: {
      ...names(256, str(1024)),
      description:
        "Members a grant may name besides the requester's own user:<requester> (glob); none when absent.",
    },
  },
};
