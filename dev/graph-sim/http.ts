import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';

export type Params = Record<string, string>;
export interface Ctx {
  req: IncomingMessage;
  res: ServerResponse;
  url: URL;
  params: Params;
  requestId: string;
  /** The parsed body (JSON or form), read on demand with a size limit. */
  body<T = unknown>(): Promise<T>;
  rawBody(): Promise<Buffer>;
}
export type Handler = (ctx: Ctx) => Promise<void> | void;

interface Route {
  method: string;
  pattern: RegExp;
  keys: string[];
  handler: Handler;
}

/**
 * A small router: patterns like `/v1.0/users/:user/events/:id`. A segment `:name` matches one
 * path segment; OData function segments such as `getAllRecordings(...)` are matched by regex
 * routes added with `addRegex`.
 */
export class Router {
  private readonly routes: Route[] = [];

  add(method: string, path: string, handler: Handler): void {
    const keys: string[] = [];
    const source = path.replace(/[.]/g, '\\.').replace(/:([A-Za-z]+)/g, (_m, k: string) => {
      keys.push(k);
      return '([^/]+)';
    });
    this.routes.push({ method, pattern: new RegExp(`^${source}$`), keys, handler });
  }

  /** Regex routes are tried before `:param` routes, so `getAllRecordings(...)` is never taken for an id. */
  addRegex(method: string, pattern: RegExp, keys: string[], handler: Handler): void {
    this.routes.unshift({ method, pattern, keys, handler });
  }

  /** Finds a handler; `methodMismatch` tells a 405 from a 404. */
  match(
    method: string,
    path: string,
  ): { handler: Handler; params: Params } | { methodMismatch: boolean } {
    let methodMismatch = false;
    for (const r of this.routes) {
      const m = r.pattern.exec(path);
      if (!m) continue;
      if (r.method !== method) {
        methodMismatch = true;
        continue;
      }
      const params: Params = {};
      r.keys.forEach((k, i) => (params[k] = decodeURIComponent(m[i + 1]!)));
      return { handler: r.handler, params };
    }
    return { methodMismatch };
  }
}

const MAX_BODY = 4 * 1024 * 1024;

export function makeCtx(
  req: IncomingMessage,
  res: ServerResponse,
  url: URL,
  params: Params,
  requestId: string,
): Ctx {
  let raw: Promise<Buffer> | undefined;
  const rawBody = (): Promise<Buffer> =>
    (raw ??= new Promise<Buffer>((resolve, reject) => {
      const chunks: Buffer[] = [];
      let size = 0;
      req.on('data', (c: Buffer) => {
        size += c.length;
        if (size > MAX_BODY) {
          reject(
            new GraphHttpError(413, 'RequestEntityTooLarge', 'The request body is too large.'),
          );
          req.destroy();
          return;
        }
        chunks.push(c);
      });
      req.on('end', () => resolve(Buffer.concat(chunks)));
      req.on('error', reject);
    }));
  return {
    req,
    res,
    url,
    params,
    requestId,
    rawBody,
    async body<T>() {
      const buf = await rawBody();
      const type = (req.headers['content-type'] ?? '').split(';')[0]!.trim();
      if (type === 'application/x-www-form-urlencoded')
        return Object.fromEntries(new URLSearchParams(buf.toString('utf8'))) as T;
      if (buf.length === 0)
        throw new GraphHttpError(400, 'BadRequest', 'Empty Payload. JSON content expected.');
      try {
        return JSON.parse(buf.toString('utf8')) as T;
      } catch {
        throw new GraphHttpError(
          400,
          'BadRequest',
          'Unable to read JSON request payload. Please ensure Content-Type header is set and payload is of valid JSON format.',
        );
      }
    },
  };
}

/** An error answered in Graph's shape: `{ error: { code, message, innerError } }`. */
export class GraphHttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }
}

/**
 * Writes a complete response. Never chains `writeHead(...).end()`: restify, when loaded in the
 * same process (tests), replaces writeHead with one that returns nothing.
 */
export function reply(
  res: ServerResponse,
  status: number,
  headers: Record<string, string | number> = {},
  body?: string | Buffer,
): void {
  res.writeHead(status, headers);
  res.end(body);
}

export function sendJson(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type':
      'application/json;odata.metadata=minimal;odata.streaming=true;IEEE754Compatible=false;charset=utf-8',
    'content-length': Buffer.byteLength(text),
    ...headers,
  });
  res.end(text);
}

export function sendGraphError(
  res: ServerResponse,
  err: GraphHttpError,
  requestId: string,
  clientRequestId?: string,
): void {
  sendJson(
    res,
    err.status,
    {
      error: {
        code: err.code,
        message: err.message,
        innerError: {
          date: new Date().toISOString().replace(/\.\d+Z$/, ''),
          'request-id': requestId,
          'client-request-id': clientRequestId ?? requestId,
        },
      },
    },
    { 'request-id': requestId, 'client-request-id': clientRequestId ?? requestId, ...err.headers },
  );
}

export function newRequestId(): string {
  return randomUUID();
}
