/**
 * Where the engine may connect, and how URLs appear in logs and errors.
 * Plain HTTP only for loopback hosts or hosts the operator listed; never a
 * link-local or cloud metadata address (credentials sent there would be
 * readable by whatever answers, and it is the classic SSRF target).
 */
import { LOGGED_QUERY_KEYS } from './constants.js';
import { OciError } from './errors.js';

/** Host names of cloud instance metadata services. */
const METADATA_HOSTS = new Set([
  'metadata.google.internal',
  'metadata.goog',
  'metadata',
  'instance-data',
  'instance-data.ec2.internal',
]);

/** The policy for one engine instance: which hosts may use plain HTTP. */
export interface EndpointPolicy {
  /** Lower-case `host` or `host:port` values allowed over plain HTTP. */
  insecureHosts: ReadonlySet<string>;
}

/** Builds the policy from the operator's list (e.g. INSECURE_REGISTRIES). */
export function endpointPolicy(insecureRegistries: readonly string[] = []) {
  const insecureHosts = new Set(
    insecureRegistries.map((h) => h.trim().toLowerCase()).filter(Boolean),
  );
  return { insecureHosts } satisfies EndpointPolicy;
}

/** The base URL of a registry's API host: `https://host/` or `http://…`. */
export function registryBaseUrl(apiHost: string, policy: EndpointPolicy): URL {
  const scheme = allowsPlainHttp(apiHost, policy) ? 'http' : 'https';
  const base = new URL(`${scheme}://${apiHost}/`);
  assertSafeEndpoint(base, policy, 'registry');

  return base;
}

/**
 * Refuses a URL the engine must not call: a link-local or metadata host, a
 * scheme other than https (or http for allowed hosts).
 */
export function assertSafeEndpoint(
  url: URL,
  policy: EndpointPolicy,
  role: 'registry' | 'token realm' | 'redirect' | 'upload location',
): void {
  const host = bareHost(url.hostname);
  if (isMetadataOrLinkLocal(host)) {
    throw new OciError(
      'UNSAFE_ENDPOINT',
      `${role} ${redactUrl(url)} is a link-local or cloud metadata address; the engine never sends requests or credentials there (check the registry's WWW-Authenticate realm and the target's Repository)`,
      { registry: url.host },
    );
  }
  if (url.protocol === 'https:') return;
  if (url.protocol === 'http:' && allowsPlainHttp(url.host, policy)) return;
  throw new OciError(
    'UNSAFE_ENDPOINT',
    `${role} ${redactUrl(url)} uses ${url.protocol.replace(':', '')}; only https is allowed except for loopback hosts and hosts listed in INSECURE_REGISTRIES`,
    { registry: url.host },
  );
}

/** True for loopback hosts and hosts the operator listed as insecure. */
export function allowsPlainHttp(host: string, policy: EndpointPolicy): boolean {
  const lower = host.toLowerCase();
  if (policy.insecureHosts.has(lower)) return true;

  return isLoopback(bareHost(hostWithoutPort(lower)));
}

/** 127.0.0.0/8, ::1 and localhost. */
export function isLoopback(host: string): boolean {
  const h = bareHost(host).toLowerCase();
  if (h === 'localhost' || h === '::1' || h === '0:0:0:0:0:0:0:1') return true;

  return /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(h);
}

/** 169.254.0.0/16, fe80::/10, AWS's fd00:ec2::254 and metadata host names. */
export function isMetadataOrLinkLocal(host: string): boolean {
  const h = bareHost(host).toLowerCase().replace(/\.$/, '');
  if (METADATA_HOSTS.has(h)) return true;
  if (/^169\.254\.\d{1,3}\.\d{1,3}$/.test(h)) return true;
  // Alibaba Cloud's metadata service sits outside link-local space.
  if (h === '100.100.100.200') return true;
  if (/^fe[89ab][0-9a-f]:/.test(h)) return true;
  // WHATWG URL parsing compresses IPv6, so one spelling covers AWS's address.
  if (h === 'fd00:ec2::254') return true;
  // IPv4-mapped IPv6, e.g. ::ffff:169.254.169.254 (URL keeps it in hex).
  const mapped = /^::ffff:([0-9a-f]{1,4}):([0-9a-f]{1,4})$/.exec(h);
  if (mapped) {
    const high = parseInt(mapped[1]!, 16);
    return high >> 8 === 169 && (high & 0xff) === 254;
  }

  return false;
}

/**
 * A URL as it may appear in a log or an error: no user info, and only the
 * query keys the protocol needs (digest, scope, service, n, last).
 */
export function redactUrl(url: URL | string): string {
  const u = new URL(url);
  u.username = '';
  u.password = '';
  const kept = new URLSearchParams();
  let dropped = false;
  for (const [key, value] of u.searchParams) {
    if (LOGGED_QUERY_KEYS.has(key)) kept.append(key, value);
    else dropped = true;
  }
  u.search = kept.toString();
  const text = u.toString();

  return dropped ? `${text}${u.search ? '&' : '?'}…` : text;
}

/** True when two URLs share scheme, host and port. */
export function sameOrigin(a: URL, b: URL): boolean {
  return a.origin === b.origin;
}

function bareHost(host: string): string {
  return host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
}

function hostWithoutPort(host: string): string {
  if (host.startsWith('[')) {
    const end = host.indexOf(']');
    return end === -1 ? host : host.slice(0, end + 1);
  }
  const colon = host.lastIndexOf(':');
  return colon === -1 || host.indexOf(':') !== colon
    ? host
    : host.slice(0, colon);
}
