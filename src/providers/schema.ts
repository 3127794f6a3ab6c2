import type { Schema } from './kind.ts';

/** Small builders for the providers' schema fragments (bounded strings and lists, CEL rules). */
export const str = (maxLength: number, extra: Schema = {}): Schema => ({
  type: 'string',
  maxLength,
  ...extra,
});

export const rule = (r: string, message: string, extra: Schema = {}): Schema => ({
  rule: r,
  message,
  ...extra,
});

export const names = (maxItems: number, item: Schema): Schema => ({
  type: 'array',
  maxItems,
  'x-kubernetes-list-type': 'set',
  items: item,
});

export const DNS_LABEL = '^[a-z0-9]([-a-z0-9]*[a-z0-9])?$';
export const PATH_SEGMENT = '^[^/%]+$';
