import type { AddressInfo } from 'node:net';
import type { Server } from 'restify';
import fs from 'node:fs';
import type { Config } from '../config/index.js';
import { ConfigError } from '../errors/index.js';
import { GraphApi } from '../graph/index.js';
import { createLogger, type Logger } from '../logging/index.js';
import { createStore, type Store } from '../store/index.js';
import { registerHealthRoutes } from './health.js';
import { createHttpServer } from './http.js';

export { describe as describeError, sendError } from './errors.js';
export { readJsonBody } from './body.js';

/** Background work a capability runs while the app is up (workers, timers). */
export interface Service {
  start(): void | Promise<void>;
  /** Called before MongoDB closes; in-flight work should finish or be left to its lease. */
  stop(): Promise<void>;
}

/**
 * A capability's registration: its routes on the server, given the shared collaborators, and
 * optionally a service that starts once the app listens and stops before the store closes.
 */
export type RouteRegistrar = (
  server: Server,
  deps: { store: Store; logger: Logger; graph: GraphApi | undefined },
) => void | Service;

export interface AppOptions {
  config: Config;
  logger?: Logger;
  /** Injected for tests; otherwise built from config. */
  store?: Store;
  /** Injected for tests; otherwise built from config.graph (absent when no Entra app is set). */
  graph?: GraphApi;
  /** Routes of the capabilities, registered after the health routes. */
  routes?: RouteRegistrar[];
}

export interface App {
  readonly store: Store;
  readonly graph: GraphApi | undefined;
  readonly logger: Logger;
  /** Listens, and starts preparing MongoDB (indexes) in the background. */
  start(): Promise<{ url: string; port: number }>;
  /** Stops accepting, lets in-flight requests finish (up to the shutdown timeout), closes MongoDB. */
  stop(): Promise<void>;
}

const PING_TIMEOUT_MS = 1000;

/** Splits a PEM file into the certificate and the private key msal-node needs. */
function readCertificateFile(file: string): { certificatePem: string; privateKeyPem: string } {
  const pem = fs.readFileSync(file, 'utf8');
  const cert = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/.exec(pem)?.[0];
  const key = /-----BEGIN (?:RSA )?PRIVATE KEY-----[\s\S]+?-----END (?:RSA )?PRIVATE KEY-----/.exec(
    pem,
  )?.[0];
  if (!cert || !key) {
    throw new ConfigError(
      'AAD_APP_CLIENT_CERTIFICATE_FILE',
      'must hold one certificate and its private key in PEM',
      'Export both (e.g. cat cert.pem key.pem > app.pem).',
    );
  }
  return { certificatePem: cert, privateKeyPem: key };
}

/**
 * The composition root: builds every collaborator from config and wires the server. Nothing
 * happens until start().
 */
export function createApp(options: AppOptions): App {
  const { config } = options;
  const logger = options.logger ?? createLogger({ level: config.logLevel });
  const store =
    options.store ??
    createStore({
      uri: config.mongodbUri,
      dbName: config.mongodbDb,
      logger,
      serverSelectionTimeoutMs: config.mongodbServerSelectionTimeoutMs,
      heartbeatMs: config.mongodbHeartbeatMs,
    });

  const graph =
    options.graph ??
    (config.graph &&
      new GraphApi({
        tenantId: config.graph.tenantId,
        clientId: config.graph.clientId,
        clientSecret: config.graph.clientSecret,
        clientCertificate: config.graph.clientCertificateFile
          ? readCertificateFile(config.graph.clientCertificateFile)
          : undefined,
        authorityHost: config.graph.authorityHost,
        graphBaseUrl: config.graph.baseUrl,
        extraCaFile: config.graph.caFile,
        logger,
      }));

  let shuttingDown = false;
  let indexesReady = false;
  let bootstrap: Promise<void> | undefined;
  const server = createHttpServer({
    logger,
    maxBodyBytes: config.maxBodyBytes,
    isShuttingDown: () => shuttingDown,
  });

  registerHealthRoutes(server, {
    async check() {
      if (shuttingDown) return 'shutting down';
      if (!(await store.ping(PING_TIMEOUT_MS))) return 'mongodb unreachable';
      if (!indexesReady) return 'mongodb indexes not ready';
      return undefined;
    },
  });
  const services: Service[] = [];
  for (const register of options.routes ?? []) {
    const service = register(server, { store, logger, graph });
    if (service) services.push(service);
  }

  /** Retries index creation until it succeeds, so the app can start before MongoDB does. */
  async function prepareStore(): Promise<void> {
    let delay = 250;
    while (!shuttingDown) {
      try {
        await store.ensureIndexes();
        indexesReady = true;
        return;
      } catch (err) {
        logger.warn({ err, retryInMs: delay }, 'could not prepare MongoDB yet');
        await new Promise((r) => setTimeout(r, delay).unref());
        delay = Math.min(delay * 2, 5000);
      }
    }
  }

  return {
    store,
    graph,
    logger,
    async start() {
      await new Promise<void>((resolve, reject) => {
        server.server.once('error', reject);
        server.listen(config.port, config.host, () => {
          server.server.off('error', reject);
          resolve();
        });
      });
      bootstrap = prepareStore();
      for (const service of services) await service.start();
      const { port } = server.server.address() as AddressInfo;
      const host = config.host === '0.0.0.0' || config.host === '::' ? '127.0.0.1' : config.host;
      const url = `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
      logger.info(
        {
          url,
          graph: config.graph
            ? { baseUrl: config.graph.baseUrl, tenantId: config.graph.tenantId }
            : 'not configured',
        },
        'listening',
      );
      return { url, port };
    },
    async stop() {
      if (shuttingDown) return;
      shuttingDown = true;
      logger.info('shutting down');
      const http = server.server;
      const closed = new Promise<void>((resolve) => http.close(() => resolve()));
      // Connections that finish their request while we wait go idle; close them as they do.
      http.closeIdleConnections();
      const reaper = setInterval(() => http.closeIdleConnections(), 50);
      let timer: NodeJS.Timeout | undefined;
      const timedOut = new Promise<'timeout'>((resolve) => {
        timer = setTimeout(() => resolve('timeout'), config.shutdownTimeoutMs);
      });
      if ((await Promise.race([closed, timedOut])) === 'timeout') {
        logger.warn(
          { timeoutMs: config.shutdownTimeoutMs },
          'in-flight requests did not finish; closing connections',
        );
        http.closeAllConnections();
        await closed;
      }
      clearTimeout(timer);
      clearInterval(reaper);
      for (const service of services) await service.stop();
      await bootstrap;
      await store.close();
      await graph?.close();
      logger.info('stopped');
    },
  };
}
