/**
 * Webhook signatures: HMAC-SHA256 over `<unix seconds>.<raw body>` with a
 * shared secret, sent as
 *
 *     X-ConfigHub-Signature: t=1764787200,v1=<64 hex digits>[,v1=…]
 *
 * Several `v1=` values let a sender sign with the old and the new secret
 * while a rotation is under way; the verifier accepts any secret it holds
 * (the current and the previous version), so rotation needs no downtime.
 * The timestamp is signed too, so an old request cannot be replayed with a
 * fresh `t=`.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';

/** The header that carries the signature (HTTP header names are case-blind). */
export const SIGNATURE_HEADER = 'X-ConfigHub-Signature';
/** How far a timestamp may be from now, either way, by default. */
export const DEFAULT_TOLERANCE_SECONDS = 300;
/** The only scheme so far; unknown schemes in the header are ignored. */
const SCHEME = 'v1';
/** Bounds on what a hostile header can make the verifier do. */
const MAX_HEADER_LENGTH = 1024;
const MAX_SIGNATURES = 8;

const TIMESTAMP = /^[0-9]{1,12}$/;
const HEX_DIGEST = /^[0-9a-fA-F]{64}$/;

/** Key material: text as stored in Secrets Manager, or raw bytes. */
export type SigningSecret = string | Uint8Array;
/** The body exactly as sent: its bytes, or text encoded as UTF-8. */
export type SignedBody = string | Uint8Array;

/** The hex HMAC-SHA256 of `<timestamp>.<body>`. */
export function computeSignature(
  secret: SigningSecret,
  timestamp: number,
  body: SignedBody,
): string {
  return createHmac('sha256', secret)
    .update(`${timestamp}.`)
    .update(body)
    .digest('hex');
}

/** The header value for `body` signed with `secret` at `now`. */
export function signBody(
  secret: SigningSecret,
  body: SignedBody,
  now: Date = new Date(),
): string {
  const timestamp = Math.floor(now.getTime() / 1000);
  return `t=${timestamp},${SCHEME}=${computeSignature(secret, timestamp, body)}`;
}

/** Why a signature was refused; for logs only, never for the caller. */
export type SignatureFailure =
  'missing' | 'malformed' | 'stale' | 'future' | 'mismatch';

export type VerifyResult =
  { ok: true; timestamp: number } | { ok: false; reason: SignatureFailure };

export interface VerifyOptions {
  /** The header's value, or `undefined` when the request had none. */
  header: string | undefined;
  body: SignedBody;
  /** Every secret that may have signed (current first, then previous). */
  secrets: readonly SigningSecret[];
  now: Date;
  /** Largest accepted distance between `t=` and `now`, in seconds. */
  toleranceSeconds?: number;
}

/**
 * Checks a signature header against the body and the secrets. Compares
 * digests in constant time; refuses timestamps further than the tolerance
 * from `now` in either direction.
 */
export function verifySignature(options: VerifyOptions): VerifyResult {
  const tolerance = options.toleranceSeconds ?? DEFAULT_TOLERANCE_SECONDS;
  if (options.header === undefined || options.header.trim() === '') {
    return { ok: false, reason: 'missing' };
  }
  const parsed = parseSignatureHeader(options.header);
  if (parsed === undefined) return { ok: false, reason: 'malformed' };

  const nowSeconds = Math.floor(options.now.getTime() / 1000);
  if (parsed.timestamp < nowSeconds - tolerance) {
    return { ok: false, reason: 'stale' };
  }
  if (parsed.timestamp > nowSeconds + tolerance) {
    return { ok: false, reason: 'future' };
  }

  let matched = false;
  for (const secret of options.secrets) {
    // An empty key would let anyone sign: HMAC accepts it without complaint.
    if (secret.length === 0) continue;
    const expected = Buffer.from(
      computeSignature(secret, parsed.timestamp, options.body),
      'hex',
    );
    for (const candidate of parsed.signatures) {
      // Both are 32-byte digests, as timingSafeEqual requires; no early
      // exit, so the time taken does not depend on which one matched.
      matched = timingSafeEqual(expected, candidate) || matched;
    }
  }
  return matched
    ? { ok: true, timestamp: parsed.timestamp }
    : { ok: false, reason: 'mismatch' };
}

interface ParsedHeader {
  timestamp: number;
  signatures: Buffer[];
}

/** `t=<seconds>,v1=<hex>[,v1=<hex>…]`; anything else is malformed. */
function parseSignatureHeader(header: string): ParsedHeader | undefined {
  if (header.length > MAX_HEADER_LENGTH) return undefined;

  let timestamp: number | undefined;
  const signatures: Buffer[] = [];
  for (const part of header.split(',')) {
    const equals = part.indexOf('=');
    if (equals === -1) return undefined;
    const key = part.slice(0, equals).trim();
    const value = part.slice(equals + 1).trim();

    if (key === 't') {
      if (timestamp !== undefined || !TIMESTAMP.test(value)) return undefined;
      timestamp = Number(value);
    } else if (key === SCHEME) {
      if (!HEX_DIGEST.test(value)) return undefined;
      signatures.push(Buffer.from(value, 'hex'));
    }
  }
  if (
    timestamp === undefined ||
    signatures.length === 0 ||
    signatures.length > MAX_SIGNATURES
  ) {
    return undefined;
  }
  return { timestamp, signatures };
}
