import https from 'node:https';
import type { AddressInfo } from 'node:net';
import tls from 'node:tls';
import { Agent } from 'undici';
import { SimClock } from './clock.js';
import { Delivery, type DeliveryOptions, type DeliveryRecord } from './delivery.js';
import { registerControlRoutes, type Fault, type RequestRecord } from './control.js';
import { registerEntraRoutes } from './entra.js';
import { registerGraphRoutes } from './graph.js';
import { GraphHttpError, Router, makeCtx, newRequestId, sendGraphError } from './http.js';
import { Identity } from './identity.js';
import { SimState, type SimMeeting } from './state.js';
import { loadOrCreateTls } from './tls.js';
import { demoTenant, type SimTenant } from './tenant.js';

export {
  DEMO,
  bareTenant,
  demoTenant,
  type SimApp,
  type SimTenant,
  type SimUser,
} from './tenant.js';
export { MAX_SUBSCRIPTION_MINUTES } from './graph.js';
export { NOTIFICATION_PUBLISHER_APP_ID } from './identity.js';
export type { DeliveryRecord } from './delivery.js';
export type { Fault, RequestRecord } from './control.js';

export interface GraphSimOptions {
  port?: number;
  /** Where the CA and server certificate live (created on first start). */
  tlsDir: string;
  tenant?: SimTenant;
  /** Meeting-time speed-up (60: an hour passes in a minute). */
  timeScale?: number;
  /** Simulated start time; real time by default. */
  startTime?: Date;
  /** How often meetings and subscriptions are checked, in real milliseconds. */
  tickMs?: number;
  delivery?: Pick<
    DeliveryOptions,
    'batchWindowMs' | 'responseTimeoutMs' | 'retryBaseMs' | 'retryMaxMs' | 'giveUpAfterMs'
  >;
}

export interface RunningGraphSim {
  /** https://127.0.0.1:{port} */
  readonly url: string;
  readonly port: number;
  /** PEM of the CA that clients must trust, and its path. */
  readonly ca: string;
  readonly caPath: string;
  readonly state: SimState;
  readonly clock: SimClock;
  readonly deliveries: DeliveryRecord[];
  readonly requests: RequestRecord[];
  /** Authority for msal-node: https://127.0.0.1:{port}/{tenantId} */
  authority(): string;
  endMeeting(meeting: SimMeeting): void;
  injectFault(fault: Fault): void;
  /** Resolves once no notification is queued, in flight or waiting for a retry. */
  deliveriesSettled(timeoutMs?: number): Promise<void>;
  close(): Promise<void>;
}

/** Starts the Graph + Entra ID simulator over HTTPS on 127.0.0.1. */
export async function startGraphSim(options: GraphSimOptions): Promise<RunningGraphSim> {
  const material = await loadOrCreateTls(options.tlsDir);
  const identity = await Identity.create();
  const state = new SimState(options.tenant ?? demoTenant());
  const clock = new SimClock(Date.now, options.startTime, options.timeScale ?? 1);
  const dispatcher = new Agent({ connect: { ca: [...tls.rootCertificates, material.ca] } });
  const delivery = new Delivery({
    identity,
    dispatcher,
    nowMs: () => clock.protocolNowMs(),
    ...options.delivery,
  });
  const faults: Fault[] = [];
  const requests: RequestRecord[] = [];
  let baseUrl = '';
  const router = new Router();
  registerEntraRoutes(router, { state, identity, baseUrl: () => baseUrl });
  const graph = registerGraphRoutes(router, {
    state,
    identity,
    clock,
    delivery,
    dispatcher,
    baseUrl: () => baseUrl,
  });
  registerControlRoutes(router, {
    state,
    clock,
    delivery,
    faults,
    requests,
    endMeeting: graph.endMeeting,
    identity,
    baseUrl: () => baseUrl,
  });

  const server = https.createServer({ cert: material.cert, key: material.key }, (req, res) => {
    const url = new URL(req.url ?? '/', baseUrl);
    const requestId = newRequestId();
    const clientRequestId =
      typeof req.headers['client-request-id'] === 'string'
        ? req.headers['client-request-id']
        : undefined;
    const isGraph = url.pathname.startsWith('/v1.0/');
    res.on('finish', () => {
      if (!url.pathname.startsWith('/_sim/'))
        requests.push({
          method: req.method ?? '',
          path: url.pathname + url.search,
          status: res.statusCode,
          at: clock.now().toISOString(),
        });
    });
    const run = async () => {
      if (isGraph) {
        const fault = faults.find(
          (f) =>
            f.count > 0 &&
            (!f.method || f.method === req.method) &&
            (!f.path || url.pathname.includes(f.path)),
        );
        if (fault) {
          fault.count--;
          if (fault.latencyMs) await new Promise((r) => setTimeout(r, fault.latencyMs));
          if (fault.status === 429) {
            throw new GraphHttpError(
              429,
              'TooManyRequests',
              'Too many requests. Retry after the time in the Retry-After header.',
              fault.retryAfterSeconds !== undefined
                ? { 'retry-after': String(fault.retryAfterSeconds) }
                : {},
            );
          }
          if (fault.status)
            throw new GraphHttpError(
              fault.status,
              fault.status === 503 ? 'ServiceUnavailable' : 'InternalServerError',
              'The service is temporarily unavailable.',
              fault.retryAfterSeconds !== undefined
                ? { 'retry-after': String(fault.retryAfterSeconds) }
                : {},
            );
        }
      }
      // OData function calls may arrive with ( ) ' percent-encoded; other escapes stay, so
      // ids that contain an encoded '/' remain one segment.
      const routePath = url.pathname.replace(/%2[789]/gi, (m) => decodeURIComponent(m));
      const found = router.match(req.method ?? 'GET', routePath);
      if (!('handler' in found)) {
        throw found.methodMismatch
          ? new GraphHttpError(
              405,
              'Request_BadRequest',
              `The HTTP method '${req.method}' is not allowed for this resource.`,
            )
          : new GraphHttpError(
              400,
              'BadRequest',
              `Resource not found for the segment '${url.pathname.split('/').filter(Boolean).pop() ?? ''}'.`,
            );
      }
      res.setHeader('request-id', requestId);
      res.setHeader('client-request-id', clientRequestId ?? requestId);
      await found.handler(makeCtx(req, res, url, found.params, requestId));
    };
    run().catch((err: unknown) => {
      if (res.headersSent) {
        res.destroy();
        return;
      }
      const e =
        err instanceof GraphHttpError
          ? err
          : new GraphHttpError(500, 'InternalServerError', (err as Error).message);
      sendGraphError(res, e, requestId, clientRequestId);
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, '127.0.0.1', () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  baseUrl = `https://127.0.0.1:${port}`;
  const tick = setInterval(graph.sweep, options.tickMs ?? 100);
  tick.unref();

  return {
    url: baseUrl,
    port,
    ca: material.ca,
    caPath: material.caPath,
    state,
    clock,
    deliveries: delivery.log,
    requests,
    authority: () => `${baseUrl}/${state.tenant.id}`,
    endMeeting: graph.endMeeting,
    injectFault: (fault) => faults.push(fault),
    async deliveriesSettled(timeoutMs = 10_000) {
      const deadline = Date.now() + timeoutMs;
      while (delivery.busy) {
        if (Date.now() > deadline) throw new Error('notifications did not settle in time');
        await new Promise((r) => setTimeout(r, 20));
      }
    },
    async close() {
      clearInterval(tick);
      delivery.close();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await dispatcher.close();
    },
  };
}
