import type { Server } from 'restify';

export interface Readiness {
  /** Why the app is not ready, or undefined when it is. */
  check(): Promise<string | undefined>;
}

/**
 * `/healthz`: the process is alive. `/readyz`: it can do its work (MongoDB reachable,
 * indexes in place, not shutting down). Both are public and reveal nothing sensitive.
 */
export function registerHealthRoutes(server: Server, readiness: Readiness): void {
  server.get('/healthz', async (_req, res) => {
    res.json(200, { status: 'ok' });
  });
  server.get('/readyz', async (_req, res) => {
    const reason = await readiness.check();
    if (reason) res.json(503, { status: 'unavailable', reason });
    else res.json(200, { status: 'ready' });
  });
}
