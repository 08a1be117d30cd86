/**
 * Object keys read as Go's `encoding/json` (v1) reads them into a struct.
 * ConfigHub and the tools around it decode events with it, and it matches a
 * key to a field ignoring case: `unitslug` and `REVISIONNUM` fill `UnitSlug`
 * and `RevisionNum`, and when several keys fill one field the last wins. A
 * bridge that matched keys exactly would read `{"UnitSlug":"frontend",
 * "unitslug":"evil"}` as `frontend` where Go reads `evil`, and would refuse
 * `{"unitslug":…}` that Go accepts.
 *
 * So each object of the contract goes through {@link canonicalKeys} right
 * after strict parsing: a key that folds to a known field is renamed to that
 * field; two keys that fold to one field are refused, as exact duplicates are
 * (`json.ts`), because which of them counts depends on the parser; every
 * other key is dropped, as Go drops it.
 */
import * as z from 'zod/mini';

/** Keys of one object that all name the same field. */
export interface KeyCollision {
  /** The field's canonical name, e.g. `UnitSlug`. */
  field: string;
  /** The keys as sent, in body order, e.g. `["UnitSlug", "unitslug"]`. */
  keys: string[];
}

export type CanonicalKeysResult =
  | { ok: true; value: Record<string, unknown> }
  | { ok: false; collisions: KeyCollision[] };

/** The fields of one object, indexed by their folded names. */
export interface KnownFields {
  readonly names: readonly string[];
  readonly byFolded: ReadonlyMap<string, string>;
}

/**
 * Indexes an object's field names. Throws if two of them fold to the same
 * name: Go could not tell them apart either, so the list is wrong.
 */
export function knownFields(names: readonly string[]): KnownFields {
  const byFolded = new Map<string, string>();
  for (const name of names) {
    const folded = foldKey(name);
    const other = byFolded.get(folded);
    if (other !== undefined) {
      throw new Error(
        `fields ${JSON.stringify(other)} and ${JSON.stringify(name)} differ only in case; Go's decoder cannot tell them apart`,
      );
    }
    byFolded.set(folded, name);
  }
  return { names, byFolded };
}

/**
 * Returns a new object holding only the known fields, under their canonical
 * names; or every field that more than one key names.
 */
export function canonicalKeys(
  object: Record<string, unknown>,
  fields: KnownFields,
): CanonicalKeysResult {
  const keysByField = new Map<string, string[]>();
  for (const key of Object.keys(object)) {
    const field = fields.byFolded.get(foldKey(key));
    if (field === undefined) continue;
    const keys = keysByField.get(field);
    if (keys === undefined) keysByField.set(field, [key]);
    else keys.push(key);
  }

  const collisions: KeyCollision[] = [];
  // Only canonical names are written, so a `__proto__` key never reaches
  // the new object's prototype.
  const value: Record<string, unknown> = {};
  for (const [field, keys] of keysByField) {
    const [key] = keys;
    if (keys.length > 1) collisions.push({ field, keys });
    else if (key !== undefined) value[field] = object[key];
  }
  return collisions.length === 0
    ? { ok: true, value }
    : { ok: false, collisions };
}

/** Why a collision is refused: the keys, the rule and the fix. */
export function collisionMessage(collision: KeyCollision): string {
  const keys = collision.keys.map((key) => JSON.stringify(key)).join(' and ');
  return `is sent as ${keys}: Go's decoder matches keys to fields ignoring case and keeps the last, so parsers would disagree on the value; send the field once, spelled "${collision.field}"`;
}

/**
 * A zod object whose keys are first read as Go reads them: the known fields
 * are the shape's keys. A collision is an issue at the field's path and
 * stops validation of this object; a value that is not an object passes
 * through for `z.object` to refuse with its own message.
 */
export function goObject<Shape extends z.core.$ZodLooseShape>(
  shape: Shape,
  params?: Parameters<typeof z.object>[1],
) {
  const fields = knownFields(Object.keys(shape));
  return z.pipe(
    z.transform((input: unknown, ctx) => {
      if (!isPlainObject(input)) return input;
      const result = canonicalKeys(input, fields);
      if (result.ok) return result.value;
      for (const collision of result.collisions) {
        ctx.issues.push({
          code: 'custom',
          path: [collision.field],
          message: collisionMessage(collision),
          input,
        });
      }
      return input;
    }),
    z.object(shape, params),
  );
}

export function isPlainObject(
  value: unknown,
): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

const KELVIN_SIGN = 0x212a;
const LONG_S = 0x017f;

/**
 * The key under Go's folding, for ASCII field names. Go compares with
 * Unicode simple folding (`bytes.EqualFold`): ASCII letters ignore case, and
 * two non-ASCII runes share a fold set with an ASCII letter, KELVIN SIGN
 * U+212A with `k` and LONG S U+017F with `s`, so Go fills `UnitSlug` from
 * `"Unitſlug"`. They are folded here too rather than refused: the rule stays
 * Go's rule with no exception, and the queued event carries the canonical
 * name, so no later reader sees the odd spelling. Any other non-ASCII
 * character cannot fold to an ASCII name and is kept, so the key matches
 * nothing. Go v1 does not ignore `_` or `-` when matching, and neither does
 * this.
 */
export function foldKey(key: string): string {
  let out = '';
  for (let i = 0; i < key.length; i++) {
    const c = key.charCodeAt(i);
    if (c >= 0x41 && c <= 0x5a) out += String.fromCharCode(c + 0x20);
    else if (c === KELVIN_SIGN) out += 'k';
    else if (c === LONG_S) out += 's';
    else out += key[i];
  }
  return out;
}
