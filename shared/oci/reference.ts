/**
 * Registry references: the target's `Repository` prefix, the unit slug and a
 * tag, validated against the distribution reference grammar
 * (distribution/reference, "Grammar") and turned into the host to talk to and
 * the repository name to push to.
 */
import { InvalidReferenceError } from './errors.js';

/** One path component: lowercase alphanumerics joined by `.`, `_`, `__` or dashes. */
const PATH_COMPONENT = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;
/** A tag: a word character, then up to 127 word characters, dots or dashes. */
const TAG = /^\w[\w.-]{0,127}$/;
/** A DNS name or IPv4 address, optionally with a port. */
const DOMAIN =
  /^(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)(?:\.(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?))*(?::[0-9]+)?$/;
/** A bracketed IPv6 address, optionally with a port. */
const IPV6_DOMAIN = /^\[[0-9a-fA-F:.]+\](?::[0-9]+)?$/;
/** The distribution spec caps a repository name (without host) at 255 characters. */
const MAX_NAME_LENGTH = 255;

const DOCKER_HUB_ALIASES = new Set([
  'docker.io',
  'index.docker.io',
  'registry-1.docker.io',
  'registry.hub.docker.com',
]);
/** Where Docker Hub's distribution API actually answers. */
export const DOCKER_HUB_API_HOST = 'registry-1.docker.io';

/** A target's `Repository`, parsed: where to connect and the name prefix. */
export interface RepositoryPrefix {
  /** The registry as the user named it, normalised (`docker.io` for Hub). */
  registry: string;
  /** The host[:port] that serves the distribution API. */
  apiHost: string;
  /** The repository path under the registry, possibly empty. */
  path: string;
}

/** A fully qualified repository: registry, name and the host to call. */
export interface Repository {
  registry: string;
  apiHost: string;
  /** The repository name as the distribution API wants it: `org/app`. */
  name: string;
}

/**
 * Parses what users paste into a target's `Repository`: `ghcr.io/org`,
 * `localhost:5000/x`, `https://<acct>.dkr.ecr.<region>.amazonaws.com/org`,
 * `oci://…`, `docker.io/org`. Throws {@link InvalidReferenceError} naming
 * the bad part.
 */
export function parseRepositoryPrefix(input: string): RepositoryPrefix {
  const field = 'Repository';
  let rest = input.trim();
  if (rest === '') {
    throw new InvalidReferenceError(field, input, 'must not be empty');
  }
  const scheme = /^([a-zA-Z][a-zA-Z0-9+.-]*):\/\//.exec(rest);
  if (scheme) {
    const name = scheme[1]!.toLowerCase();
    if (name !== 'https' && name !== 'http' && name !== 'oci') {
      throw new InvalidReferenceError(
        field,
        input,
        `scheme "${name}://" is not supported; use a bare host such as ghcr.io/org (https://, http:// and oci:// are stripped)`,
      );
    }
    rest = rest.slice(scheme[0].length);
  }
  rest = rest.replace(/\/+$/, '');

  const slash = rest.indexOf('/');
  const host = slash === -1 ? rest : rest.slice(0, slash);
  const path = slash === -1 ? '' : rest.slice(slash + 1);

  if (!looksLikeHost(host)) {
    throw new InvalidReferenceError(
      field,
      input,
      `must start with a registry host (a name with a dot or port, or localhost), e.g. ghcr.io/${host}; for Docker Hub write docker.io/${host}`,
    );
  }
  if (!DOMAIN.test(host) && !IPV6_DOMAIN.test(host)) {
    throw new InvalidReferenceError(
      field,
      input,
      `registry host "${host}" is not a valid host name with optional :port`,
    );
  }
  if (path.includes('@')) {
    throw new InvalidReferenceError(
      field,
      input,
      'must not contain a digest (@sha256:…); the digest is computed on push',
    );
  }
  if (path.includes(':')) {
    throw new InvalidReferenceError(
      field,
      input,
      'must not contain a tag; set the extra tag in the target parameter Tag, revisions are tagged rev<N> automatically',
    );
  }
  if (path !== '') {
    for (const component of path.split('/')) {
      checkComponent(field, input, component);
    }
  }

  const lowerHost = host.toLowerCase();
  if (DOCKER_HUB_ALIASES.has(lowerHost)) {
    return { registry: 'docker.io', apiHost: DOCKER_HUB_API_HOST, path };
  }
  return { registry: lowerHost, apiHost: lowerHost, path };
}

/** Checks a unit slug as one repository path component. */
export function validateSlug(slug: string): void {
  checkComponent('UnitSlug', slug, slug);
}

/** Checks a tag against the distribution grammar. */
export function validateTag(tag: string, field: 'Tag' = 'Tag'): void {
  if (!TAG.test(tag)) {
    throw new InvalidReferenceError(
      field,
      tag,
      'must be 1 to 128 characters of letters, digits, "_", "." and "-", not starting with "." or "-"',
    );
  }
}

/** The repository a unit is pushed to: `<Repository>/<slug>`. */
export function unitRepository(
  repositoryPrefix: string,
  slug: string,
): Repository {
  const prefix = parseRepositoryPrefix(repositoryPrefix);
  validateSlug(slug);
  let name = prefix.path === '' ? slug : `${prefix.path}/${slug}`;
  if (prefix.registry === 'docker.io' && !name.includes('/')) {
    // Docker Hub keeps single-name repositories under library/.
    name = `library/${name}`;
  }
  if (name.length > MAX_NAME_LENGTH) {
    throw new InvalidReferenceError(
      'Repository',
      `${prefix.registry}/${name}`,
      `repository name is ${name.length} characters; the limit is ${MAX_NAME_LENGTH}`,
    );
  }
  return { registry: prefix.registry, apiHost: prefix.apiHost, name };
}

/** The tag of a unit revision: `rev<N>`. */
export function revisionTag(revisionNum: number): string {
  if (!Number.isSafeInteger(revisionNum) || revisionNum < 1) {
    throw new InvalidReferenceError(
      'Tag',
      String(revisionNum),
      'revision number must be a positive integer',
    );
  }
  return `rev${revisionNum}`;
}

/** `registry/name` as people write it, e.g. `ghcr.io/org/frontend`. */
export function formatRepository(repo: Repository): string {
  return `${repo.registry}/${repo.name}`;
}

function looksLikeHost(host: string): boolean {
  return (
    host.includes('.') ||
    host.includes(':') ||
    host.startsWith('[') ||
    host === 'localhost'
  );
}

function checkComponent(
  field: 'Repository' | 'UnitSlug',
  input: string,
  component: string,
): void {
  if (component === '') {
    throw new InvalidReferenceError(
      field,
      input,
      'has an empty path component (a doubled or leading "/")',
    );
  }
  if (component === '.' || component === '..') {
    throw new InvalidReferenceError(
      field,
      input,
      `path component "${component}" is not allowed`,
    );
  }
  if (component !== component.toLowerCase()) {
    throw new InvalidReferenceError(
      field,
      input,
      `path component "${component}" must be lowercase`,
    );
  }
  if (!PATH_COMPONENT.test(component)) {
    throw new InvalidReferenceError(
      field,
      input,
      `path component "${component}" must be lowercase letters and digits separated by ".", "_", "__" or "-"`,
    );
  }
}
