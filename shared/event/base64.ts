/**
 * Strict base64 for the byte fields of ConfigHub's events. Go's JSON encoder
 * writes `[]byte` as standard, padded base64 (RFC 4648 §4); Node's decoder
 * skips characters outside the alphabet, so without this check text that is
 * not base64 at all would decode to garbage instead of being refused.
 */

const ALPHABET = /^[A-Za-z0-9+/]*$/;
const FIRST_OUTSIDE = /[^A-Za-z0-9+/=]/;

export type Base64Result =
  { ok: true; bytes: Buffer } | { ok: false; reason: string };

/** Decodes standard padded base64, or says what breaks the rule. */
export function decodeStrictBase64(text: string): Base64Result {
  const outside = FIRST_OUTSIDE.exec(text);
  if (outside !== null) {
    return {
      ok: false,
      reason: `is not base64: character ${JSON.stringify(outside[0])} at position ${outside.index} is outside the standard alphabet (A-Z a-z 0-9 + /, "=" padding); send the bytes base64-encoded`,
    };
  }
  if (text.length % 4 !== 0) {
    return {
      ok: false,
      reason: `is not base64: length ${text.length} is not a multiple of 4 (missing or extra "=" padding)`,
    };
  }
  const padding = text.endsWith('==') ? 2 : text.endsWith('=') ? 1 : 0;
  if (!ALPHABET.test(text.slice(0, text.length - padding))) {
    return {
      ok: false,
      reason: 'is not base64: "=" padding may only end the text',
    };
  }
  return { ok: true, bytes: Buffer.from(text, 'base64') };
}

const UTF8 = new TextDecoder('utf-8', { fatal: true });

/** Decodes UTF-8, refusing invalid sequences instead of replacing them. */
export function decodeUtf8(bytes: Uint8Array): string | undefined {
  try {
    return UTF8.decode(bytes);
  } catch {
    return undefined;
  }
}
