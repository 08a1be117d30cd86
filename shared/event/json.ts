/**
 * Strict JSON for bodies that cross a trust boundary: `JSON.parse` plus the
 * two checks it does not make. A duplicate key is refused, because parsers
 * disagree on which value wins (JavaScript keeps the last, some Go and Java
 * decoders the first), so a body could show a reviewer one value and the
 * bridge another. Nesting is capped, because `JSON.stringify` recurses and a
 * body nested a hundred thousand levels deep would overflow its stack later.
 */

/** The deepest nesting accepted; ConfigHub's events need four levels. */
export const MAX_JSON_DEPTH = 64;

/** A problem with the JSON text itself, at a dotted path (`''` for the root). */
export interface JsonProblem {
  path: string;
  message: string;
}

export type StrictJsonResult =
  { ok: true; value: unknown } | { ok: false; problem: JsonProblem };

/** One open object or array while scanning. */
interface Frame {
  /** Keys seen so far; `undefined` for an array. */
  keys: Set<string> | undefined;
  /** The key or index the scan is inside of, for paths. */
  at: string | number | undefined;
}

const QUOTE = 0x22;
const BACKSLASH = 0x5c;

/**
 * Parses `text` as JSON and refuses duplicate keys (after unescaping, so
 * `"A"` and `"\u0041"` collide) and nesting deeper than `maxDepth`.
 */
export function parseStrictJson(
  text: string,
  maxDepth: number = MAX_JSON_DEPTH,
): StrictJsonResult {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    return {
      ok: false,
      problem: { path: '', message: `is not valid JSON: ${reason}` },
    };
  }

  const problem = scanStructure(text, maxDepth);
  return problem === undefined ? { ok: true, value } : { ok: false, problem };
}

/**
 * Walks text that `JSON.parse` accepted, tracking only strings, brackets
 * and separators; that is enough to know which strings are keys.
 */
function scanStructure(
  text: string,
  maxDepth: number,
): JsonProblem | undefined {
  const frames: Frame[] = [];
  let expectKey = false;

  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    const top = frames.at(-1);

    if (c === QUOTE) {
      const end = closingQuote(text, i);
      if (top?.keys !== undefined && expectKey) {
        const key = JSON.parse(text.slice(i, end + 1)) as string;
        top.at = key;
        if (top.keys.has(key)) {
          return {
            path: pathOf(frames),
            message:
              'appears more than once in the same object; send each key once (parsers disagree on which duplicate wins)',
          };
        }
        top.keys.add(key);
        expectKey = false;
      }
      i = end;
      continue;
    }

    switch (c) {
      case 0x7b: // {
      case 0x5b: // [
        if (frames.length >= maxDepth) {
          return {
            path: pathOf(frames),
            message: `nests deeper than ${maxDepth} levels`,
          };
        }
        frames.push(
          c === 0x7b
            ? { keys: new Set(), at: undefined }
            : { keys: undefined, at: 0 },
        );
        expectKey = c === 0x7b;
        break;
      case 0x7d: // }
      case 0x5d: // ]
        frames.pop();
        expectKey = false;
        break;
      case 0x2c: // ,
        if (top?.keys === undefined && typeof top?.at === 'number') {
          top.at += 1;
        }
        expectKey = top?.keys !== undefined;
        break;
      default:
        break;
    }
  }
  return undefined;
}

/** Index of the quote that closes the string opening at `start`. */
function closingQuote(text: string, start: number): number {
  let i = start + 1;
  while (i < text.length) {
    const c = text.charCodeAt(i);
    if (c === BACKSLASH) {
      i += 2;
      continue;
    }
    if (c === QUOTE) return i;
    i += 1;
  }
  return text.length - 1;
}

function pathOf(frames: Frame[]): string {
  return formatPath(
    frames.flatMap((frame) => (frame.at === undefined ? [] : [frame.at])),
  );
}

/** `['Payload', 'TargetParams', 0]` → `Payload.TargetParams[0]`. */
export function formatPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const part of path) {
    if (typeof part === 'number') out += `[${part}]`;
    else out += out === '' ? String(part) : `.${String(part)}`;
  }
  return out;
}
