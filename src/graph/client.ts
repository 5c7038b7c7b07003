import { X509Certificate, createHash } from 'node:crypto';
import { ConfidentialClientApplication, LogLevel } from '@azure/msal-node';
import {
  Client,
  RetryHandler,
  RetryHandlerOptions,
  type Context,
  type Middleware,
} from '@microsoft/microsoft-graph-client';
import { fetch, type Dispatcher } from 'undici';
import type { Logger } from '../logging/index.js';
import { msalNetworkClient } from './transport.js';

export interface GraphCredentials {
  tenantId: string;
  clientId: string;
  /** Exactly one of clientSecret and clientCertificate. */
  clientSecret?: string;
  /** A certificate registered on the Entra app, with its private key (both PEM). */
  clientCertificate?: { certificatePem: string; privateKeyPem: string };
  /** Entra ID host, e.g. https://login.microsoftonline.com (or the simulator). */
  authorityHost: string;
}

export interface GraphClientOptions extends GraphCredentials {
  /** Graph's root, e.g. https://graph.microsoft.com (or the simulator). */
  graphBaseUrl: string;
  dispatcher: Dispatcher;
  logger: Logger;
  /** Retries of 429/503/504 answers; Retry-After is honoured, jitter is added. */
  maxRetries?: number;
  retryDelaySeconds?: number;
}

/** Puts the app-only token on requests to Graph's own origin, and nowhere else. */
class AuthMiddleware implements Middleware {
  private next?: Middleware;
  constructor(
    private readonly origin: string,
    private readonly token: () => Promise<string>,
  ) {}

  async execute(context: Context): Promise<void> {
    const url = typeof context.request === 'string' ? context.request : context.request.url;
    if (new URL(url).origin === this.origin) {
      const options = (context.options ??= {});
      const value = `Bearer ${await this.token()}`;
      if (options.headers instanceof Headers) options.headers.set('Authorization', value);
      else
        options.headers = {
          ...(options.headers as Record<string, string> | undefined),
          Authorization: value,
        };
    }
    await this.next!.execute(context);
  }

  setNext(next: Middleware): void {
    this.next = next;
  }
}

/** The last link: sends the request with undici over our dispatcher (trusted CAs, pooling). */
class UndiciHttpHandler implements Middleware {
  constructor(private readonly dispatcher: Dispatcher) {}

  async execute(context: Context): Promise<void> {
    const url = typeof context.request === 'string' ? context.request : context.request.url;
    const options = context.options ?? {};
    const headers =
      options.headers instanceof Headers
        ? Object.fromEntries(options.headers)
        : (options.headers as Record<string, string> | undefined);
    const res = await fetch(url, {
      method: options.method,
      headers,
      body: options.body as string | undefined,
      dispatcher: this.dispatcher,
    });
    context.response = res as unknown as Response;
  }
}

export interface GraphClients {
  client: Client;
  /** An app-only token for Graph (msal caches it until shortly before expiry). */
  token(): Promise<string>;
}

/**
 * msal-node's ConfidentialClientApplication (client secret, in-memory token cache) and the
 * graph-client with retry middleware, both over the given dispatcher.
 */
export function createGraphClients(options: GraphClientOptions): GraphClients {
  const authorityHost = options.authorityHost.replace(/\/$/, '');
  const log = options.logger.child({ component: 'msal' });
  const msal = new ConfidentialClientApplication({
    auth: {
      clientId: options.clientId,
      ...(options.clientCertificate
        ? { clientCertificate: certificateCredential(options.clientCertificate) }
        : { clientSecret: options.clientSecret }),
      authority: `${authorityHost}/${options.tenantId}`,
      knownAuthorities: [new URL(authorityHost).host],
    },
    system: {
      networkClient: msalNetworkClient(options.dispatcher),
      loggerOptions: {
        piiLoggingEnabled: false,
        logLevel: LogLevel.Warning,
        loggerCallback: (level, message) => {
          if (level <= LogLevel.Warning) log.warn({ msal: message }, 'msal');
        },
      },
    },
  });
  const graphOrigin = new URL(options.graphBaseUrl).origin;
  const scopes = ['https://graph.microsoft.com/.default'];
  const token = async (): Promise<string> => {
    const result = await msal.acquireTokenByClientCredential({ scopes });
    if (!result?.accessToken) throw new Error('msal returned no access token');
    return result.accessToken;
  };

  const auth = new AuthMiddleware(graphOrigin, token);
  const retry = new RetryHandler(
    new RetryHandlerOptions(options.retryDelaySeconds ?? 1, options.maxRetries ?? 3),
  );
  const http = new UndiciHttpHandler(options.dispatcher);
  auth.setNext(retry);
  retry.setNext(http);
  const client = Client.initWithMiddleware({
    middleware: auth,
    baseUrl: graphOrigin,
    defaultVersion: 'v1.0',
  });
  return { client, token };
}

/** msal-node's certificate credential: SHA-256 thumbprint, key, and the x5c chain. */
function certificateCredential(c: { certificatePem: string; privateKeyPem: string }) {
  const cert = new X509Certificate(c.certificatePem);
  return {
    thumbprintSha256: createHash('sha256').update(cert.raw).digest('hex'),
    privateKey: c.privateKeyPem,
    x5c: c.certificatePem,
  };
}
