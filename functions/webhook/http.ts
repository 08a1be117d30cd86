/**
 * Serves the webhook handler over plain HTTP (node:http), so the local stack
 * runs the same code path as Lambda behind API Gateway: each request becomes
 * an HTTP API (payload format 2.0) event, and the handler's result is written
 * back as the response.
 */
import { randomUUID } from 'node:crypto';
import type {
  IncomingMessage,
  OutgoingHttpHeaders,
  ServerResponse,
} from 'node:http';

import type {
  APIGatewayProxyEventV2,
  APIGatewayProxyStructuredResultV2,
  Context,
} from 'aws-lambda';

import { localLambdaContext } from '../../shared/lambda-context.js';
import { silentLog, type Log } from '../../shared/log.js';

/** API Gateway HTTP APIs refuse payloads over 10 MB before Lambda runs. */
export const MAX_REQUEST_BYTES = 10 * 1024 * 1024;

export type HttpApiHandler = (
  event: APIGatewayProxyEventV2,
  context: Context,
) => Promise<APIGatewayProxyStructuredResultV2>;

/**
 * Turns a request and its complete body into an HTTP API event. The body is
 * passed base64-encoded, so the handler sees the exact bytes that were
 * signed.
 */
export function toApiGatewayEvent(
  request: IncomingMessage,
  body: Buffer,
  now: Date = new Date(),
): APIGatewayProxyEventV2 {
  const url = new URL(request.url ?? '/', 'http://localhost');
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(request.headers)) {
    if (value === undefined || name === 'cookie') continue;
    headers[name] = Array.isArray(value) ? value.join(',') : value;
  }
  const query: Record<string, string> = {};
  for (const [name, value] of url.searchParams) {
    query[name] = name in query ? `${query[name]},${value}` : value;
  }
  const method = request.method ?? 'GET';
  const requestId = randomUUID();
  const host = headers.host ?? 'localhost';

  return {
    version: '2.0',
    routeKey: '$default',
    rawPath: url.pathname,
    rawQueryString: url.search.slice(1),
    ...(request.headers.cookie === undefined
      ? {}
      : { cookies: request.headers.cookie.split(/;\s*/) }),
    headers,
    ...(url.search === '' ? {} : { queryStringParameters: query }),
    requestContext: {
      accountId: 'local',
      apiId: 'local',
      domainName: host,
      domainPrefix: host.split('.')[0] ?? host,
      http: {
        method,
        path: url.pathname,
        protocol: `HTTP/${request.httpVersion}`,
        sourceIp: request.socket.remoteAddress ?? '127.0.0.1',
        userAgent: headers['user-agent'] ?? '',
      },
      requestId,
      routeKey: '$default',
      stage: '$default',
      time: now.toUTCString(),
      timeEpoch: now.getTime(),
    },
    body: body.toString('base64'),
    isBase64Encoded: true,
  };
}

/** Writes a handler's result as the HTTP response. */
export function writeApiGatewayResult(
  response: ServerResponse,
  result: APIGatewayProxyStructuredResultV2,
): void {
  const body =
    result.body === undefined
      ? Buffer.alloc(0)
      : Buffer.from(result.body, result.isBase64Encoded ? 'base64' : 'utf8');
  const headers: OutgoingHttpHeaders = { 'content-length': body.length };
  for (const [name, value] of Object.entries(result.headers ?? {})) {
    headers[name] = typeof value === 'boolean' ? String(value) : value;
  }
  if (result.cookies !== undefined && result.cookies.length > 0) {
    headers['set-cookie'] = result.cookies;
  }
  response.writeHead(result.statusCode ?? 200, headers);
  response.end(body);
}

/**
 * A `node:http` request listener that serves `handler`. Bodies over
 * `maxRequestBytes` get 413 without reaching the handler, as API Gateway
 * does; a handler that throws gets 500, as Lambda's failure would.
 */
export function createHttpListener(
  handler: HttpApiHandler,
  options: { maxRequestBytes?: number; log?: Log; functionName?: string } = {},
): (request: IncomingMessage, response: ServerResponse) => void {
  const maxRequestBytes = options.maxRequestBytes ?? MAX_REQUEST_BYTES;
  const log = options.log ?? silentLog;
  const functionName = options.functionName ?? 'webhook';

  return (request, response) => {
    void serve(request, response).catch((error: unknown) => {
      log.error('http: handler failed', {
        error: error instanceof Error ? error.name : 'unknown',
        detail: error instanceof Error ? error.message : undefined,
      });
      if (!response.headersSent) {
        writeApiGatewayResult(response, {
          statusCode: 500,
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ message: 'Internal error.' }),
        });
      } else {
        response.destroy();
      }
    });
  };

  async function serve(
    request: IncomingMessage,
    response: ServerResponse,
  ): Promise<void> {
    const body = await readBody(request, maxRequestBytes);
    if (body === undefined) {
      writeApiGatewayResult(response, {
        statusCode: 413,
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({
          message: `Request body over ${maxRequestBytes} bytes.`,
          limitBytes: maxRequestBytes,
        }),
      });
      return;
    }
    const event = toApiGatewayEvent(request, body);
    const result = await handler(
      event,
      localLambdaContext({
        functionName,
        timeoutMs: 30_000,
        memoryLimitInMB: 256,
        requestId: event.requestContext.requestId,
      }),
    );
    writeApiGatewayResult(response, result);
  }
}

/**
 * The whole body, or `undefined` when it passes `limit` bytes. The rest of
 * an oversized body is read and dropped, so the 413 reaches the client
 * instead of a reset connection.
 */
function readBody(
  request: IncomingMessage,
  limit: number,
): Promise<Buffer | undefined> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    request.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size <= limit) chunks.push(chunk);
    });
    request.once('end', () =>
      resolve(size > limit ? undefined : Buffer.concat(chunks)),
    );
    request.once('error', reject);
  });
}
