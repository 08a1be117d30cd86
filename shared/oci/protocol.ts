/**
 * The distribution spec's verbs, one function each (OCI distribution spec
 * v1.1, "Pull", "Push", "Content Management"). Each sends one request (plus
 * at most one retry after the registry refused a stale credential), checks
 * the status the spec promises, and returns what the caller needs. Expected
 * "absent" answers return undefined; everything else throws an OciError.
 */
import { silentLog, type Log } from '../log.js';
import { HEADER, LIMIT, MANIFEST_ACCEPT } from './constants.js';
import { sha256Digest } from './digest.js';
import { sameOrigin } from './endpoint.js';
import { OciError } from './errors.js';
import { formatRepository, type Repository } from './reference.js';
import type { AuthSession } from './auth.js';
import {
  responseError,
  type HttpRequest,
  type HttpResponse,
  type RequestCounter,
  type Transport,
} from './transport.js';

/** What every verb needs: where to send, how to authenticate, what to count. */
export interface RegistryContext {
  transport: Transport;
  auth: AuthSession;
  repo: Repository;
  /** `https://<apiHost>/` (or http for loopback and allowed hosts). */
  base: URL;
  counter: RequestCounter;
  log?: Log;
  signal?: AbortSignal;
}

/** A blob to upload: digest and bytes computed locally. */
export interface BlobData {
  digest: string;
  bytes: Uint8Array;
}

/** A manifest as the registry holds it. */
export interface RemoteManifest {
  digest: string;
  mediaType: string | undefined;
  bytes: Uint8Array;
}

type Call = Omit<HttpRequest, 'counter' | 'signal' | 'url'> & { url: URL };

/**
 * Sends one request with the session's credential; after a 401, renews the
 * credential once (shared with parallel requests) and sends it again.
 */
async function call(
  ctx: RegistryContext,
  request: Call,
): Promise<HttpResponse> {
  const send = async () => {
    const generation = ctx.auth.generation;
    const headers = { ...request.headers };
    // Only the registry's own origin gets its credential (upload Locations
    // may point at storage elsewhere).
    if (sameOrigin(request.url, ctx.base)) {
      const authorization = await ctx.auth.header();
      if (authorization) headers[HEADER.authorization] = authorization;
    }
    const response = await ctx.transport({
      ...request,
      headers,
      counter: ctx.counter,
      signal: ctx.signal,
    });
    return { response, generation };
  };

  const first = await send();
  if (first.response.status !== 401) return first.response;
  const challenge = first.response.headers.get(HEADER.wwwAuthenticate);
  if (!(await ctx.auth.renew(first.generation, challenge))) {
    return first.response;
  }

  return (await send()).response;
}

function apiUrl(ctx: RegistryContext, path: string): URL {
  return new URL(`/v2/${ctx.repo.name}/${path}`, ctx.base);
}

function name(ctx: RegistryContext): string {
  return formatRepository(ctx.repo);
}

/** Where a blob's existence stands: only the upload decides. */
export type BlobPresence = 'present' | 'unknown';

/** HEAD /v2/<name>/blobs/<digest>. A 403 or 404 means "unknown, go on". */
export async function headBlob(
  ctx: RegistryContext,
  digest: string,
): Promise<BlobPresence> {
  const what = `HEAD blob ${name(ctx)}@${digest}`;
  const response = await call(ctx, {
    method: 'HEAD',
    url: apiUrl(ctx, `blobs/${digest}`),
    what,
  });
  if (response.status === 200) return 'present';
  // Some registries answer 403 to HEAD for blobs a token may not read yet;
  // existence checks are advisory (issue #2, point 3).
  if (response.status === 404 || response.status === 403) return 'unknown';

  throw responseError(response, what, '200 or 404', { digest });
}

/** The answer to POST /v2/<name>/blobs/uploads/. */
export type UploadStart =
  | { kind: 'created' }
  | { kind: 'session'; location: URL }
  | { kind: 'refused'; response: HttpResponse };

/**
 * POST /v2/<name>/blobs/uploads/, with the blob for a single-POST upload
 * ("Pushing a blob monolithically", POST with `?digest=`) or without it to
 * open a session. A registry that does not take single POSTs answers 202
 * and expects a PUT; some refuse with 4xx, returned as `refused`.
 */
export async function startUpload(
  ctx: RegistryContext,
  blob?: BlobData,
): Promise<UploadStart> {
  const url = apiUrl(ctx, 'blobs/uploads/');
  const headers: Record<string, string> = {};
  if (blob) {
    url.searchParams.set('digest', blob.digest);
    headers[HEADER.contentType] = 'application/octet-stream';
  }
  const what = `POST blob upload ${name(ctx)}${blob ? `@${blob.digest}` : ''}`;
  const response = await call(ctx, {
    method: 'POST',
    url,
    headers,
    body: blob?.bytes ?? new Uint8Array(),
    what,
  });

  if (response.status === 201 && blob) {
    checkDigestHeader(response, what, blob.digest);
    return { kind: 'created' };
  }
  if (response.status === 202) {
    return { kind: 'session', location: uploadLocation(response, what) };
  }
  if (blob && [400, 405, 411, 413, 415].includes(response.status)) {
    return { kind: 'refused', response };
  }

  throw responseError(response, what, blob ? '201 or 202' : '202');
}

/** PUT <location>&digest=<digest> with the whole blob, closing the session. */
export async function putUpload(
  ctx: RegistryContext,
  location: URL,
  blob: BlobData,
): Promise<void> {
  const url = new URL(location);
  // The reference registry's Location already carries `?_state=…`: append
  // with "&" and leave its opaque value exactly as sent.
  url.search = `${url.search ? `${url.search}&` : '?'}digest=${blob.digest}`;
  const what = `PUT blob upload ${name(ctx)}@${blob.digest}`;
  const response = await call(ctx, {
    method: 'PUT',
    url,
    headers: { [HEADER.contentType]: 'application/octet-stream' },
    body: blob.bytes,
    what,
  });
  if (response.status !== 201) {
    throw responseError(response, what, '201', { digest: blob.digest });
  }
  checkDigestHeader(response, what, blob.digest);
}

/** GET /v2/<name>/manifests/<reference>; undefined when it does not exist. */
export async function getManifest(
  ctx: RegistryContext,
  reference: string,
): Promise<RemoteManifest | undefined> {
  const what = `GET manifest ${name(ctx)}:${reference}`;
  const response = await call(ctx, {
    method: 'GET',
    url: apiUrl(ctx, `manifests/${reference}`),
    headers: { [HEADER.accept]: MANIFEST_ACCEPT },
    what,
    maxBodyBytes: LIMIT.manifest,
  });
  if (response.status === 404) return undefined;
  if (response.status !== 200)
    throw responseError(response, what, '200 or 404');

  // The digest is what we compute; the header is only checked for sanity.
  const digest = sha256Digest(response.body);
  checkDigestHeader(response, what, digest);

  return {
    digest,
    mediaType: response.headers.get(HEADER.contentType)?.split(';')[0],
    bytes: response.body,
  };
}

/** HEAD /v2/<name>/manifests/<reference>; undefined when it does not exist. */
export async function headManifest(
  ctx: RegistryContext,
  reference: string,
): Promise<{ digest: string } | undefined> {
  const what = `HEAD manifest ${name(ctx)}:${reference}`;
  const response = await call(ctx, {
    method: 'HEAD',
    url: apiUrl(ctx, `manifests/${reference}`),
    headers: { [HEADER.accept]: MANIFEST_ACCEPT },
    what,
  });
  if (response.status === 404) return undefined;
  if (response.status !== 200)
    throw responseError(response, what, '200 or 404');

  const digest = response.headers.get(HEADER.dockerContentDigest);
  if (digest) return { digest };
  // The header is optional on HEAD (spec, "Checking if content exists"):
  // fall back to reading the manifest and hashing it ourselves.
  (ctx.log ?? silentLog).debug('HEAD manifest without digest, reading it', {
    registry: ctx.repo.registry,
  });
  const manifest = await getManifest(ctx, reference);

  return manifest && { digest: manifest.digest };
}

/**
 * PUT /v2/<name>/manifests/<tag>. Neither `Location` nor
 * `Docker-Content-Digest` is required (ECR sends neither); a digest header
 * that is present must equal ours.
 */
export async function putManifest(
  ctx: RegistryContext,
  tag: string,
  manifest: { mediaType: string; digest: string; bytes: Uint8Array },
): Promise<void> {
  const what = `PUT manifest ${name(ctx)}:${tag}`;
  const response = await call(ctx, {
    method: 'PUT',
    url: apiUrl(ctx, `manifests/${tag}`),
    headers: { [HEADER.contentType]: manifest.mediaType },
    body: manifest.bytes,
    what,
  });
  if (response.status !== 201 && response.status !== 200) {
    throw responseError(response, what, '201', { digest: manifest.digest });
  }
  checkDigestHeader(response, what, manifest.digest);
}

/**
 * DELETE /v2/<name>/manifests/<digest>. Returns false when the manifest is
 * already gone. Registries with deletes disabled answer 405 or UNSUPPORTED.
 */
export async function deleteManifest(
  ctx: RegistryContext,
  digest: string,
): Promise<boolean> {
  const what = `DELETE manifest ${name(ctx)}@${digest}`;
  const response = await call(ctx, {
    method: 'DELETE',
    url: apiUrl(ctx, `manifests/${digest}`),
    what,
  });
  if (response.status === 202 || response.status === 200) return true;
  if (response.status === 404) return false;
  const refused = responseError(response, what, '202', { digest });
  if (
    response.status === 405 ||
    refused.registryCodes.includes('UNSUPPORTED')
  ) {
    throw responseError(response, what, '202', {
      code: 'DELETE_REFUSED',
      digest,
      hint: `${ctx.repo.registry} does not allow deleting manifests (deletes are disabled on this registry); delete the tag in the registry's console or enable deletes`,
    });
  }

  throw refused;
}

/**
 * GET /v2/<name>/blobs/<digest>, following redirects (to S3 or a CDN)
 * without the registry's credential, and checking the digest of the bytes.
 */
export async function getBlob(
  ctx: RegistryContext,
  digest: string,
  maxBytes: number,
): Promise<Uint8Array> {
  const what = `GET blob ${name(ctx)}@${digest}`;
  const response = await call(ctx, {
    method: 'GET',
    url: apiUrl(ctx, `blobs/${digest}`),
    what,
    maxBodyBytes: maxBytes,
  });
  if (response.status !== 200) {
    throw responseError(response, what, '200', { digest });
  }
  const actual = sha256Digest(response.body);
  if (actual !== digest) {
    throw new OciError(
      'DIGEST_MISMATCH',
      `${what}: downloaded bytes hash to ${actual}; the registry or a proxy altered the blob`,
      { registry: ctx.repo.registry, digest },
    );
  }

  return response.body;
}

function uploadLocation(response: HttpResponse, what: string): URL {
  const location = response.headers.get(HEADER.location);
  if (!location) {
    throw new OciError(
      'REGISTRY_ERROR',
      `${what}: the registry answered 202 without a Location to upload to`,
      { status: response.status, registry: response.url.host },
    );
  }
  // Absolute or relative to the request (spec, "Pushing a blob in chunks").
  return new URL(location, response.url);
}

function checkDigestHeader(
  response: HttpResponse,
  what: string,
  expected: string,
): void {
  const header = response.headers.get(HEADER.dockerContentDigest)?.trim();
  // Only sha256 is comparable with what we computed.
  if (header?.startsWith('sha256:') && header !== expected) {
    throw new OciError(
      'DIGEST_MISMATCH',
      `${what}: the registry reports digest ${header}, but the content we sent hashes to ${expected}`,
      {
        status: response.status,
        registry: response.url.host,
        digest: expected,
      },
    );
  }
}
