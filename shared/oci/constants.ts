/**
 * Media types, header names and annotation keys of the OCI engine, in one
 * place so that protocol code never spells a literal twice.
 */

/** Media types (OCI image spec, Flux source-controller's artifact format). */
export const MEDIA_TYPE = {
  ociManifest: 'application/vnd.oci.image.manifest.v1+json',
  ociIndex: 'application/vnd.oci.image.index.v1+json',
  dockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
  dockerManifestList:
    'application/vnd.docker.distribution.manifest.list.v2+json',
  /** Flux CLI's config media type; source-controller does not read the blob. */
  fluxConfig: 'application/vnd.cncf.flux.config.v1+json',
  /** The layer source-controller looks for by media type. */
  fluxContent: 'application/vnd.cncf.flux.content.v1.tar+gzip',
  ociLayout: 'application/vnd.oci.image.layout.v1+json',
} as const;

/** The Accept header for reading one of our manifests (and telling others). */
export const MANIFEST_ACCEPT = [
  MEDIA_TYPE.ociManifest,
  MEDIA_TYPE.ociIndex,
  MEDIA_TYPE.dockerManifest,
  MEDIA_TYPE.dockerManifestList,
].join(', ');

/** HTTP header names, lower case as fetch's Headers returns them. */
export const HEADER = {
  accept: 'accept',
  authorization: 'authorization',
  contentLength: 'content-length',
  contentType: 'content-type',
  dockerContentDigest: 'docker-content-digest',
  location: 'location',
  retryAfter: 'retry-after',
  wwwAuthenticate: 'www-authenticate',
} as const;

/** Annotation keys written on every artifact. */
export const ANNOTATION = {
  created: 'org.opencontainers.image.created',
  source: 'org.opencontainers.image.source',
  revision: 'org.opencontainers.image.revision',
  spaceId: 'com.confighub.space.id',
  unitId: 'com.confighub.unit.id',
  unitSlug: 'com.confighub.unit.slug',
  /** Read back by the push function's never-backwards rule. */
  revisionNum: 'com.confighub.revision',
  operationId: 'com.confighub.operation.id',
} as const;

/** The one file inside the Flux content layer. */
export const CONTENT_FILE = 'manifest.yaml';

/** The distribution spec's error codes we branch on (spec, "Error Codes"). */
export const REGISTRY_CODE = {
  tooManyRequests: 'TOOMANYREQUESTS',
  unavailable: 'UNAVAILABLE',
  unsupported: 'UNSUPPORTED',
  manifestInvalid: 'MANIFEST_INVALID',
  tagInvalid: 'TAG_INVALID',
  denied: 'DENIED',
  unauthorized: 'UNAUTHORIZED',
  blobUploadUnknown: 'BLOB_UPLOAD_UNKNOWN',
} as const;

/** Query keys that may appear in logged URLs; every other value is dropped. */
export const LOGGED_QUERY_KEYS: ReadonlySet<string> = new Set([
  'digest',
  'scope',
  'service',
  'n',
  'last',
]);

/** Limits that keep a misbehaving registry from exhausting the function. */
export const LIMIT = {
  /** Bytes of an error body read to find `errors[]`. */
  errorBody: 64 * 1024,
  /** Bytes of a manifest read. The distribution spec suggests 4 MiB. */
  manifest: 4 * 1024 * 1024,
  /** Bytes of a content layer downloaded, and of manifest.yaml unpacked. */
  content: 64 * 1024 * 1024,
  /** Redirects followed on a GET or HEAD. */
  redirects: 5,
} as const;
