import { randomUUID } from 'node:crypto';
import restify, { type Request, type Response, type Server } from 'restify';
import type { Logger } from '../logging/index.js';
import { sendError } from './errors.js';

const REQUEST_ID = /^[A-Za-z0-9._-]{1,64}$/;

declare module 'restify' {
  interface Request {
    /** Our request id: the caller's x-request-id when well-formed, otherwise a new UUID. */
    requestId: string;
    logger: Logger;
  }
}

export interface HttpServerOptions {
  logger: Logger;
  maxBodyBytes: number;
  /** While true, requests on kept-alive connections are told to close. */
  isShuttingDown: () => boolean;
}

/**
 * The restify server with the cross-cutting edges: request ids, access logs, body size limit
 * and JSON errors. Routes are registered by the composition root.
 */
export function createHttpServer(options: HttpServerOptions): Server {
  const server = restify.createServer({
    name: 'classroom-recorder',
    handleUncaughtExceptions: false,
  });
  const log = options.logger.child({ component: 'http' });

  server.pre((req: Request, res: Response, next) => {
    const incoming = req.header('x-request-id');
    req.requestId = incoming && REQUEST_ID.test(incoming) ? incoming : randomUUID();
    req.logger = log.child({ reqId: req.requestId });
    res.setHeader('x-request-id', req.requestId);
    if (options.isShuttingDown()) res.setHeader('connection', 'close');
    return next();
  });
  server.use(restify.plugins.bodyReader({ maxBodySize: options.maxBodyBytes }));

  server.on('after', (req: Request, res: Response, _route: unknown, err: unknown) => {
    // The path only: query strings can carry tokens (Graph's validationToken, for one).
    const entry = {
      method: req.method,
      path: req.getPath(),
      status: res.statusCode,
      ms: Date.now() - req.time(),
    };
    // A client's mistake (a 4xx: a probe, a wrong method, a bad body) is not our failure.
    if (err && res.statusCode < 500)
      req.logger.info({ ...entry, code: (err as { code?: string }).code }, 'request refused');
    else if (err) req.logger.error({ ...entry, err }, 'request failed');
    else if (res.statusCode >= 500) req.logger.warn(entry, 'request answered unavailable');
    else req.logger.info(entry, 'request');
  });

  // restify's own errors (no route, wrong method, body too large) get our JSON shape.
  server.on('restifyError', (req: Request, res: Response, err: Error, callback: () => void) => {
    if (!res.headersSent) sendError(res, err, req.requestId);
    return callback();
  });

  return server;
}
