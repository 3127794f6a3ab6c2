/** What {@link shapeOf} found in a JSON text, before anything is parsed. */
export interface JsonShape {
  /** The objects and arrays `JSON.parse` would build: the costly values (some 60 bytes each). */
  containers: number;
  /**
   * An upper bound of all the values it would build: every object and array, and
   * every member or element after the first (a comma outside strings).
   */
  values: number;
  /**
   * The objects two levels down (`{"Records": [ {`): an upper bound of the
   * records of a CloudTrail file.
   */
  records: number;
}

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COMMA = 0x2c;
const OPEN_OBJECT = 0x7b;
const OPEN_ARRAY = 0x5b;
const CLOSE_OBJECT = 0x7d;
const CLOSE_ARRAY = 0x5d;

/**
 * Pure: counts what parsing a JSON text (UTF-8 bytes) would build, in one pass
 * that allocates nothing, so a file that would take more memory than it is
 * worth is refused before `JSON.parse` builds it: a few MiB of `{},{},…` become
 * millions of objects. Stops as soon as one of `stopAt`'s counts is passed (the counts are then that far, no further). Not a validator: a text that
 * is not JSON gets some counts, and `JSON.parse` rejects it afterwards.
 */
export function shapeOf(text: Uint8Array, stopAt: JsonShape): JsonShape {
  let depth = 0;
  let values = 0;
  let containers = 0;
  let records = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (inString) {
      if (c === BACKSLASH) i++;
      else if (c === QUOTE) inString = false;
      continue;
    }
    if (c === QUOTE) inString = true;
    else if (c === COMMA) values++;
    else if (c === OPEN_OBJECT || c === OPEN_ARRAY) {
      values++;
      containers++;
      // `{"Records": [ {` — an object two levels down.
      if (depth === 2 && c === OPEN_OBJECT) records++;
      depth++;
    } else if (c === CLOSE_OBJECT || c === CLOSE_ARRAY) depth--;
    else continue;
    if (values > stopAt.values || containers > stopAt.containers || records > stopAt.records) break;
  }
  return { containers, values, records };
}
