/**
 * A registry that fails at random: an HTTP proxy on 127.0.0.1 in front of a
 * real registry. While faults are on it alternates flaky spells (each
 * request may get a 500, a 429 with `Retry-After`, a dropped connection
 * before or after the registry saw it, or a delay) with outages (the port
 * refuses connections). Once faults are off it forwards every request
 * unchanged. Decisions come from a seeded PRNG, so a seed names a run.
 */
import {
  createServer,
  request as httpRequest,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';

export type FaultKind =
  | 'status-500'
  | 'status-429'
  | 'drop-before'
  | 'drop-after'
  | 'delay'
  | 'outage';

export interface FaultProxyOptions {
  /** The real registry, `127.0.0.1:PORT`. */
  target: string;
  seed: number;
  /** Chance that a request in a flaky spell is faulted; 0.3. */
  faultRate?: number;
  /** Flaky spell length range in ms; [1500, 3000]. */
  flakyMs?: [number, number];
  /** Outage length range in ms; [800, 2000]. */
  outageMs?: [number, number];
}

export interface FaultProxy {
  /** `127.0.0.1:PORT`, stable across outages. */
  host: string;
  /** Starts the random spells and outages. */
  startFaults(): void;
  /** Ends the current outage and forwards everything from now on. */
  recover(): Promise<void>;
  /** Refuses connections until {@link recover}. */
  goDown(): Promise<void>;
  /** Requests answered per fault kind, outages, and forwarded requests. */
  readonly counts: Readonly<Record<FaultKind | 'forwarded', number>>;
  close(): Promise<void>;
}

/** mulberry32: small, fast, good enough to pick faults reproducibly. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'transfer-encoding',
  'upgrade',
]);

export async function startFaultProxy(
  options: FaultProxyOptions,
): Promise<FaultProxy> {
  const random = seededRandom(options.seed);
  const between = ([low, high]: [number, number]): number =>
    Math.round(low + random() * (high - low));
  const faultRate = options.faultRate ?? 0.3;
  const flakyMs = options.flakyMs ?? [1500, 3000];
  const outageMs = options.outageMs ?? [800, 2000];
  const [targetHost, targetPort] = splitHost(options.target);

  const counts: Record<FaultKind | 'forwarded', number> = {
    'status-500': 0,
    'status-429': 0,
    'drop-before': 0,
    'drop-after': 0,
    delay: 0,
    outage: 0,
    forwarded: 0,
  };
  let mode: 'healthy' | 'flaky' | 'down' = 'healthy';
  let schedule: NodeJS.Timeout | undefined;
  let faulting = false;
  let closed = false;
  let failure: Error | undefined;
  const sockets = new Set<Socket>();

  const forward = (
    incoming: IncomingMessage,
    outgoing: ServerResponse,
    dropAfter: boolean,
  ): void => {
    const headers = { ...incoming.headers };
    for (const name of HOP_BY_HOP) delete headers[name];
    const upstream = httpRequest(
      {
        host: targetHost,
        port: targetPort,
        method: incoming.method,
        path: incoming.url,
        // The Host header stays the proxy's, so the registry's upload
        // Locations lead back through the proxy.
        headers,
      },
      (answer) => {
        if (dropAfter) {
          // The registry did the work; the client never hears of it.
          answer.resume();
          answer.on('end', () => incoming.socket.destroy());
          return;
        }
        const back: Record<string, string | string[]> = {};
        for (const [name, value] of Object.entries(answer.headers)) {
          if (value !== undefined && !HOP_BY_HOP.has(name)) back[name] = value;
        }
        outgoing.writeHead(answer.statusCode ?? 502, back);
        answer.pipe(outgoing);
      },
    );
    upstream.on('error', () => incoming.socket.destroy());
    incoming.pipe(upstream);
  };

  const server: Server = createServer((incoming, outgoing) => {
    if (mode !== 'flaky' || random() >= faultRate) {
      counts.forwarded += 1;
      forward(incoming, outgoing, false);
      return;
    }
    const pick = random();
    if (pick < 0.3) {
      counts['status-500'] += 1;
      incoming.resume();
      outgoing.writeHead(500, { 'content-type': 'application/json' });
      outgoing.end(
        '{"errors":[{"code":"UNKNOWN","message":"injected fault"}]}',
      );
    } else if (pick < 0.55) {
      counts['status-429'] += 1;
      incoming.resume();
      outgoing.writeHead(429, {
        'content-type': 'application/json',
        'retry-after': random() < 0.5 ? '0' : '1',
      });
      outgoing.end(
        '{"errors":[{"code":"TOOMANYREQUESTS","message":"injected fault"}]}',
      );
    } else if (pick < 0.7) {
      counts['drop-before'] += 1;
      incoming.socket.destroy();
    } else if (pick < 0.8) {
      counts['drop-after'] += 1;
      forward(incoming, outgoing, true);
    } else {
      counts.delay += 1;
      const wait = between([50, 400]);
      incoming.pause();
      setTimeout(() => {
        incoming.resume();
        forward(incoming, outgoing, false);
      }, wait).unref();
    }
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  server.on('clientError', (_error, socket) => socket.destroy());

  await listen(server, 0);
  const port = (server.address() as AddressInfo).port;

  const takeDown = async (): Promise<void> => {
    if (mode === 'down') return;
    mode = 'down';
    counts.outage += 1;
    for (const socket of sockets) socket.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  };
  const bringUp = async (next: 'healthy' | 'flaky'): Promise<void> => {
    if (mode === 'down' && !closed) {
      // Another process could take the port during an outage; loopback
      // ports are rarely reused that fast, so a few tries settle it.
      for (let attempt = 0; ; attempt++) {
        try {
          await listen(server, port);
          break;
        } catch (error) {
          if (attempt >= 20) {
            throw new Error(
              `fault proxy: cannot listen on 127.0.0.1:${port} again after an outage: ${String(error)}`,
            );
          }
          await sleep(50);
        }
      }
    }
    mode = next;
  };

  /** Ends a flaky spell with an outage, which ends with the next spell. */
  const outage = async (): Promise<void> => {
    if (!faulting) return;
    await takeDown();
    await sleep(between(outageMs));
    if (!faulting) return;
    await bringUp('flaky');
    schedule = setTimeout(startOutage, between(flakyMs));
  };
  const startOutage = (): void => {
    outage().catch((error: unknown) => {
      failure = error instanceof Error ? error : new Error(String(error));
    });
  };

  return {
    host: `127.0.0.1:${port}`,
    counts,
    startFaults() {
      faulting = true;
      mode = 'flaky';
      schedule = setTimeout(startOutage, between(flakyMs));
    },
    async recover() {
      faulting = false;
      clearTimeout(schedule);
      await bringUp('healthy');
      if (failure !== undefined) throw failure;
    },
    async goDown() {
      faulting = false;
      clearTimeout(schedule);
      await takeDown();
    },
    async close() {
      faulting = false;
      clearTimeout(schedule);
      closed = true;
      for (const socket of sockets) socket.destroy();
      if (mode !== 'down') {
        await new Promise<void>((resolve) => server.close(() => resolve()));
      }
    },
  };
}

function splitHost(host: string): [string, number] {
  const colon = host.lastIndexOf(':');
  return [host.slice(0, colon), Number(host.slice(colon + 1))];
}

function listen(server: Server, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
}
