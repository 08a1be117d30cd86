/**
 * A scripted registry over real HTTP on 127.0.0.1, for what the reference
 * registry does not do (429, single POST, ECR-like answers, redirects), and
 * a fetch wrapper that records request order to count round trips.
 */
import { createHash } from 'node:crypto';
import {
  createServer,
  type IncomingHttpHeaders,
  type ServerResponse,
} from 'node:http';
import type { AddressInfo } from 'node:net';

export interface Recorded {
  method: string;
  /** Path and query as received. */
  url: string;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

export type Handler = (
  req: Recorded,
  res: ServerResponse,
) => void | Promise<void>;

export interface ScriptedServer {
  /** `127.0.0.1:<port>` */
  host: string;
  origin: string;
  requests: Recorded[];
  /** TCP connections accepted so far. */
  readonly connections: number;
  close(): Promise<void>;
}

export interface ScriptedServerOptions {
  /**
   * How long an idle connection stays open; 100 ms by default so tests end
   * quickly. Connection-reuse tests keep Node's default, 5 s, so the count
   * reflects the client's reuse rather than the server closing them.
   */
  keepAliveTimeoutMs?: number;
}

/** Starts a server that records every request and hands it to `handler`. */
export async function startServer(
  handler: Handler,
  options: ScriptedServerOptions = {},
): Promise<ScriptedServer> {
  const requests: Recorded[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const recorded: Recorded = {
        method: req.method ?? '',
        url: req.url ?? '',
        headers: req.headers,
        body: Buffer.concat(chunks),
      };
      requests.push(recorded);
      Promise.resolve(handler(recorded, res)).catch((error: unknown) => {
        res.statusCode = 599;
        res.end(String(error));
      });
    });
  });
  server.keepAliveTimeout = options.keepAliveTimeoutMs ?? 100;
  let connections = 0;
  server.on('connection', () => {
    connections += 1;
  });
  await new Promise<void>((resolve) =>
    server.listen(0, '127.0.0.1', () => resolve()),
  );
  const port = (server.address() as AddressInfo).port;

  return {
    host: `127.0.0.1:${port}`,
    origin: `http://127.0.0.1:${port}`,
    requests,
    get connections() {
      return connections;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** Sends a distribution-spec error body. */
export function sendError(
  res: ServerResponse,
  status: number,
  code: string,
  message = code.toLowerCase(),
  headers: Record<string, string> = {},
): void {
  res.writeHead(status, { 'content-type': 'application/json', ...headers });
  res.end(JSON.stringify({ errors: [{ code, message }] }));
}

export const sha256 = (bytes: Uint8Array) =>
  `sha256:${createHash('sha256').update(bytes).digest('hex')}`;

export interface FakeRegistryOptions {
  /** Answer POST ?digest= with 201 (true) or a 202 session (false). */
  singlePost?: boolean;
  /** How upload Locations are written. */
  location?: 'relative' | 'absolute' | 'relative-with-query';
  /** Send Docker-Content-Digest on manifest PUT (ECR sends none). */
  manifestDigestHeader?: boolean;
  /** Runs first; return true when it answered the request. */
  before?: (req: Recorded, res: ServerResponse) => boolean;
}

/**
 * An in-memory registry speaking enough of the distribution spec for the
 * engine's push, pull, inspect and delete.
 */
export function fakeRegistry(options: FakeRegistryOptions = {}) {
  const blobs = new Map<string, Buffer>();
  const manifests = new Map<string, Buffer>();
  const tags = new Map<string, string>();
  let origin = '';
  let session = 0;

  const handler: Handler = (req, res) => {
    if (options.before?.(req, res)) return;
    const url = new URL(req.url, 'http://x');
    const path = url.pathname;
    if (path === '/v2/') {
      res.writeHead(200).end();
      return;
    }
    let m = /^\/v2\/(.+)\/blobs\/uploads\/$/.exec(path);
    if (m && req.method === 'POST') {
      const digest = url.searchParams.get('digest');
      if (digest && options.singlePost) {
        blobs.set(digest, req.body);
        res.writeHead(201, { 'docker-content-digest': digest }).end();
        return;
      }
      const id = `s${++session}`;
      const rel = `/v2/${m[1]}/blobs/uploads/${id}`;
      const location =
        options.location === 'absolute'
          ? `${origin}${rel}?_state=abc%3D%3D`
          : options.location === 'relative'
            ? rel
            : `${rel}?_state=abc%3D%3D`;
      res.writeHead(202, { location, 'docker-upload-uuid': id }).end();
      return;
    }
    m = /^\/v2\/(.+)\/blobs\/uploads\/(s\d+)$/.exec(path);
    if (m && req.method === 'PUT') {
      const digest = url.searchParams.get('digest') ?? '';
      if (sha256(req.body) !== digest) {
        sendError(res, 400, 'DIGEST_INVALID');
        return;
      }
      blobs.set(digest, req.body);
      res.writeHead(201, { 'docker-content-digest': digest }).end();
      return;
    }
    m = /^\/v2\/(.+)\/blobs\/(sha256:[a-f0-9]+)$/.exec(path);
    if (m) {
      const blob = blobs.get(m[2]!);
      if (!blob) {
        sendError(res, 404, 'BLOB_UNKNOWN');
        return;
      }
      res.writeHead(200, { 'content-length': String(blob.length) });
      res.end(req.method === 'HEAD' ? undefined : blob);
      return;
    }
    m = /^\/v2\/(.+)\/manifests\/([^/]+)$/.exec(path);
    if (m) {
      const ref = m[2]!;
      if (req.method === 'PUT') {
        const digest = sha256(req.body);
        manifests.set(digest, req.body);
        tags.set(ref, digest);
        res.writeHead(
          201,
          options.manifestDigestHeader === false
            ? {}
            : {
                'docker-content-digest': digest,
                location: `/v2/${m[1]}/manifests/${digest}`,
              },
        );
        res.end();
        return;
      }
      const digest = ref.startsWith('sha256:') ? ref : tags.get(ref);
      const bytes = digest && manifests.get(digest);
      if (req.method === 'DELETE') {
        if (!bytes || !digest) {
          sendError(res, 404, 'MANIFEST_UNKNOWN');
          return;
        }
        manifests.delete(digest);
        for (const [t, d] of tags) if (d === digest) tags.delete(t);
        res.writeHead(202).end();
        return;
      }
      if (!bytes || !digest) {
        sendError(res, 404, 'MANIFEST_UNKNOWN');
        return;
      }
      res.writeHead(200, {
        'content-type': 'application/vnd.oci.image.manifest.v1+json',
        'docker-content-digest': digest,
        'content-length': String(bytes.length),
      });
      res.end(req.method === 'HEAD' ? undefined : bytes);
      return;
    }
    sendError(res, 404, 'NOT_FOUND');
  };

  return {
    handler,
    blobs,
    manifests,
    tags,
    /** Tell the fake its own origin, for absolute Locations. */
    setOrigin(value: string) {
      origin = value;
    },
  };
}

export interface FetchCall {
  method: string;
  url: string;
  start: number;
  end: number;
}

/**
 * Wraps fetch to record when each request started and answered, in one
 * sequence, and bounds the operation's sequential round trips from both
 * sides without knowing which request waited for which:
 * `rounds()` is the longest chain of requests each started after the
 * previous answered (at least the true depth; parallel branches that drift
 * apart can chain and add one), `waves()` counts the times the client went
 * from idle to busy (at most the true depth, since the engine starts nothing
 * without awaiting an answer).
 */
export function recordingFetch(inner: typeof fetch = fetch) {
  const calls: FetchCall[] = [];
  let seq = 0;
  const wrapped: typeof fetch = async (input, init) => {
    const call: FetchCall = {
      method: init?.method ?? 'GET',
      url: input instanceof Request ? input.url : input.toString(),
      start: ++seq,
      end: Number.POSITIVE_INFINITY,
    };
    calls.push(call);
    try {
      return await inner(input, init);
    } finally {
      call.end = ++seq;
    }
  };

  return {
    fetch: wrapped,
    calls,
    /** Forgets what was recorded (between arrange and act). */
    reset() {
      calls.length = 0;
    },
    rounds(filter: (c: FetchCall) => boolean = () => true): number {
      const selected = calls.filter(filter);
      const round = new Map<FetchCall, number>();
      for (const call of [...selected].sort((a, b) => a.start - b.start)) {
        let r = 1;
        for (const [other, n] of round) {
          if (other.end < call.start) r = Math.max(r, n + 1);
        }
        round.set(call, r);
      }
      return Math.max(0, ...round.values());
    },
    waves(filter: (c: FetchCall) => boolean = () => true): number {
      const events = calls
        .filter(filter)
        .flatMap((c) => [
          { at: c.start, delta: 1 },
          { at: c.end, delta: -1 },
        ])
        .sort((a, b) => a.at - b.at);
      let inFlight = 0;
      let waves = 0;
      for (const event of events) {
        if (event.delta === 1 && inFlight === 0) waves++;
        inFlight += event.delta;
      }
      return waves;
    },
  };
}
