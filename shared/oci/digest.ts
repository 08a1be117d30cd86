/** Content digests (OCI image spec, "Digests"): sha256 only. */
import { createHash } from 'node:crypto';

const SHA256_DIGEST = /^sha256:[a-f0-9]{64}$/;

/** `sha256:<hex>` of the bytes. */
export function sha256Digest(bytes: Uint8Array): string {
  return `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
}

/** True for a well-formed sha256 digest. */
export function isSha256Digest(value: string): boolean {
  return SHA256_DIGEST.test(value);
}
