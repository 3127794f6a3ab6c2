/** The longest each text field of a recorded request may be, as the AccessActivity schema allows. */
export const FIELD_MAX = {
  verb: 128,
  resource: 512,
  namespace: 63,
  name: 253,
} as const;

/** Marks a value cut short, so a reader knows it is not the whole name. */
export const CLIPPED = '…';

/**
 * Pure: `s` cut to at most `max` UTF-16 units, ending in `…` when cut. Names in
 * audit events come from the request URL, which anyone can make ~1 MiB long;
 * unclipped, a few would make the record too large to store (and the API server
 * refuses a field longer than the schema's maxLength).
 */
export function clip(s: string, max: number): string {
  if (s.length <= max) return s;
  let cut = s.slice(0, max - CLIPPED.length);
  // Never split a surrogate pair: half a character is not valid UTF-8.
  if (/[\uD800-\uDBFF]$/.test(cut)) cut = cut.slice(0, -1);
  return cut + CLIPPED;
}
