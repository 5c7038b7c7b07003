import fs from 'node:fs';
import { MongoClient } from 'mongodb';
import { z } from 'zod';
import { ConfigError } from '../errors/index.js';

export type Env = Record<string, string | undefined>;

/** Validated settings of the app process. */
export interface Config {
  port: number;
  host: string;
  mongodbUri: string;
  mongodbDb: string;
  mongodbServerSelectionTimeoutMs: number;
  mongodbHeartbeatMs: number;
  logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
  maxBodyBytes: number;
  shutdownTimeoutMs: number;
  /** Microsoft Graph access; absent when no Entra app is configured. */
  graph: GraphConfig | undefined;
  /** Bot Framework credentials; absent in local mode (the Playground needs none). */
  bot: BotConfig | undefined;
  /** Zone for typed times when Teams does not tell the user's own. */
  defaultTimeZone: string;
  /** Replaces the default recording-consent wording. */
  consentNoticeText: string | undefined;
  /** Members of this Entra group may schedule anywhere (besides team owners). */
  instructorGroupId: string | undefined;
  /** Members of this Entra group may read reports. */
  adminGroupId: string | undefined;
  /** Recording sync: subscriptions, webhook, workers, reconciler, download links. */
  sync: SyncConfig;
  /** The channel tab: its static files and its API's SSO settings. */
  tab: TabConfig;
}

export interface TabConfig {
  /** The built tab (`npm run build` writes it). */
  staticDir: string;
  /** The SSO audience in v1 form, `api://{domain}/{clientId}`; undefined without an Entra app. */
  applicationIdUri: string | undefined;
  /**
   * Local mode only: a marked sign-in page that picks a demo user of the simulated tenant.
   * Refused unless Entra is on loopback (the simulator).
   */
  localSignIn: boolean;
}

export interface SyncConfig {
  /**
   * Where Graph reaches this app (notification and lifecycle URLs are built on it). Without it
   * no subscriptions are made, and the reconciler alone finds recordings.
   */
  publicBaseUrl: string | undefined;
  /** Per organizer (users/{id}/onlineMeetings/getAllRecordings) or the whole tenant. */
  subscriptionScope: 'organizer' | 'tenant';
  /** PEM with the certificate (and key) Graph encrypts rich notifications for. */
  notificationCertificateFile: string | undefined;
  /** Signs download links; when unset, a random per-process key (one instance only). */
  downloadLinkKey: string | undefined;
  downloadLinkTtlSeconds: number;
  workers: number;
  /** How long a worker holds an inbox item; a crashed worker's items are retried after it. */
  leaseSeconds: number;
  reconcileIntervalSeconds: number;
}

export interface BotConfig {
  appId: string;
  password: string;
  /** Single-tenant bots authenticate in this tenant. */
  tenantId: string | undefined;
}

/** The Entra app the app calls Graph as (app-only, client credentials). */
export interface GraphConfig {
  tenantId: string;
  clientId: string;
  /** One of the two credentials is set. */
  clientSecret: string | undefined;
  /** PEM file holding the certificate and its private key. */
  clientCertificateFile: string | undefined;
  authorityHost: string;
  baseUrl: string;
  /** Extra CA to trust for Graph and Entra ID (local mode: the simulator's). */
  caFile: string | undefined;
}

/** Settings of the local launcher (`npm start`), on top of the app's. */
export interface LauncherConfig {
  envName: string;
  localMongoPort: number;
  localDataDir: string;
  graphSimPort: number;
  localTimeScale: number;
  /** Start the Microsoft 365 Agents Playground with the app (PLAYGROUND=off to skip it). */
  playground: boolean;
  playgroundPort: number;
  /** Set when the user points at their own MongoDB; the local server is then not started. */
  mongodbUri: string | undefined;
}

const int = (min: number, max: number) =>
  z
    .string()
    .regex(/^\d+$/, { message: 'must be a whole number' })
    .transform(Number)
    .refine((n) => n >= min && n <= max, { message: `must be between ${min} and ${max}` });

const mongoUri = z.string().superRefine((uri, ctx) => {
  try {
    // The driver's own parser: the constructor validates without connecting.
    new MongoClient(uri);
  } catch (err) {
    // The driver's message may quote parts of the value; the value may hold a password.
    const secret = /\/\/([^@/]*)@/.exec(uri)?.[1];
    let reason = (err as Error).message.split(uri).join('<value>');
    if (secret) reason = reason.split(secret).join('***');
    ctx.addIssue({
      code: 'custom',
      message: `is not a valid MongoDB connection string (${reason})`,
    });
  }
});

const dbName = z.string().regex(/^[^/\\. "$*<>:|?]{1,63}$/, {
  message: 'is not a valid database name (1-63 characters, none of / \\ . " $ * < > : | ?)',
});

/** How to fix each variable, shown after the problem. */
const FIX: Record<string, string> = {
  PORT: 'Set PORT to a free TCP port, e.g. PORT=3978.',
  HOST: 'Set HOST to an interface address, e.g. HOST=0.0.0.0 or HOST=127.0.0.1.',
  MONGODB_URI:
    'Set MONGODB_URI to a connection string such as mongodb://127.0.0.1:27017/classroom, or unset it so that `npm start` runs the local server.',
  MONGODB_DB: 'Set MONGODB_DB to a database name such as classroom_recorder.',
  MONGODB_SERVER_SELECTION_TIMEOUT_MS: 'Set it in milliseconds, e.g. 5000.',
  MONGODB_HEARTBEAT_MS: 'Set it in milliseconds, e.g. 2000 (the driver needs at least 500).',
  LOG_LEVEL: 'Use one of fatal, error, warn, info, debug, trace, silent.',
  MAX_BODY_BYTES: 'Set it in bytes, e.g. 1048576 for 1 MiB.',
  SHUTDOWN_TIMEOUT_MS: 'Set it in milliseconds, e.g. 10000.',
  TAB_STATIC_DIR: 'Point it at the built tab (npm run build writes dist/tab).',
  AAD_APP_ID_URI: 'Set it to the application ID URI of the Entra app: api://{domain}/{client id}.',
  TAB_LOCAL_SIGN_IN: 'Use true (local mode only) or false.',
  ENV_NAME: 'Name a file env/.env.<ENV_NAME>, e.g. ENV_NAME=local.',
  LOCAL_MONGO_PORT: 'Set it to a free TCP port, e.g. 27117, or 0 for any free port.',
  LOCAL_DATA_DIR: 'Set it to a writable folder, e.g. .data.',
  AAD_APP_TENANT_ID: 'Set it to the directory (tenant) id of the Entra app registration, a GUID.',
  AAD_APP_CLIENT_ID: 'Set it to the application (client) id of the Entra app registration, a GUID.',
  SECRET_AAD_APP_CLIENT_SECRET:
    'Set it to a client secret value of the Entra app (keep it in env/.env.<name>.user or a vault).',
  AAD_APP_CLIENT_CERTIFICATE_FILE:
    'Point it at a PEM file with the certificate registered on the Entra app and its private key.',
  AAD_APP_OAUTH_AUTHORITY_HOST: 'Set it to https://login.microsoftonline.com (or leave it unset).',
  GRAPH_BASE_URL: 'Set it to https://graph.microsoft.com (or leave it unset).',
  GRAPH_CA_FILE: 'Point it at a PEM file, or leave it unset to trust only the system CAs.',
  BOT_ID:
    "Set it to the bot registration's Microsoft App ID (a GUID), together with SECRET_BOT_PASSWORD, or unset both for local mode.",
  SECRET_BOT_PASSWORD:
    "Set it to the bot registration's client secret (in a .user file or a vault), together with BOT_ID.",
  INSTRUCTOR_GROUP_ID:
    'Set it to the object id (a GUID) of the Entra group of instructors, or unset it so only team owners schedule.',
  ADMIN_GROUP_ID:
    'Set it to the object id (a GUID) of the Entra group of admins who may read reports.',
  CONSENT_NOTICE_TEXT: 'Shorten the text, or unset it to use the default notice.',
  DEFAULT_TIME_ZONE: 'Use an IANA zone such as Europe/Berlin or America/New_York.',
  GRAPH_SIM_PORT: 'Set it to a free TCP port, e.g. 8443, or 0 for any free port.',
  LOCAL_TIME_SCALE: 'Set it to how many times faster meetings run locally, e.g. 120.',
  PUBLIC_BASE_URL:
    'Set it to the https address Graph can reach this app at, e.g. https://recorder.school.example, or unset it to sync by polling only.',
  SUBSCRIPTION_SCOPE: 'Use organizer (the default) or tenant.',
  NOTIFICATION_CERT_FILE:
    'Point it at a PEM file with a certificate and its private key, or unset it for notifications without resource data.',
  SECRET_DOWNLOAD_LINK_KEY:
    'Set it to a random secret of at least 32 characters (the same on every instance), e.g. from `openssl rand -base64 48`.',
  DOWNLOAD_LINK_TTL_SECONDS: 'Set it in seconds, e.g. 300.',
  SYNC_WORKERS: 'Set how many notifications one instance works on at once, e.g. 2.',
  RECONCILE_INTERVAL_SECONDS: 'Set it in seconds, e.g. 300.',
  SYNC_LEASE_SECONDS: 'Set it in seconds, e.g. 60 (longer than a card post can take).',
};

const guid = z.string().regex(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i, {
  message: 'must be a GUID',
});
const httpsUrl = z
  .string()
  .url({ message: 'must be a URL' })
  .refine((u) => u.startsWith('https://'), { message: 'must be an https URL' })
  .transform((u) => u.replace(/\/+$/, ''));
const existingFile = z
  .string()
  .refine((f) => fs.existsSync(f), { message: 'names a file that does not exist' });

const appSchema = z.object({
  PORT: int(0, 65535).default(3978),
  HOST: z.string().min(1, { message: 'must not be empty' }).default('0.0.0.0'),
  MONGODB_URI: z.string({ message: 'is not set' }).pipe(mongoUri),
  MONGODB_DB: dbName.default('classroom_recorder'),
  MONGODB_SERVER_SELECTION_TIMEOUT_MS: int(100, 600_000).default(5000),
  MONGODB_HEARTBEAT_MS: int(500, 600_000).default(2000),
  LOG_LEVEL: z
    .enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'], {
      message: 'is not a log level',
    })
    .default('info'),
  MAX_BODY_BYTES: int(1024, 64 * 1024 * 1024).default(1024 * 1024),
  SHUTDOWN_TIMEOUT_MS: int(0, 600_000).default(10_000),
  AAD_APP_TENANT_ID: guid.optional(),
  AAD_APP_CLIENT_ID: guid.optional(),
  SECRET_AAD_APP_CLIENT_SECRET: z.string().optional(),
  AAD_APP_CLIENT_CERTIFICATE_FILE: existingFile.optional(),
  AAD_APP_OAUTH_AUTHORITY_HOST: httpsUrl.default('https://login.microsoftonline.com'),
  GRAPH_BASE_URL: httpsUrl.default('https://graph.microsoft.com'),
  GRAPH_CA_FILE: existingFile.optional(),
  INSTRUCTOR_GROUP_ID: guid.optional(),
  ADMIN_GROUP_ID: guid.optional(),
  CONSENT_NOTICE_TEXT: z
    .string()
    .max(2000, { message: 'must be at most 2000 characters' })
    .optional(),
  BOT_ID: guid.optional(),
  PUBLIC_BASE_URL: z
    .string()
    .url({ message: 'must be a URL' })
    .refine((u) => /^https:\/\//.test(u) || /^http:\/\/(127\.0\.0\.1|localhost)[:/]/.test(u), {
      message: 'must be an https URL (plain http only on loopback, for local mode)',
    })
    .transform((u) => u.replace(/\/+$/, ''))
    .optional(),
  SUBSCRIPTION_SCOPE: z
    .enum(['organizer', 'tenant'], { message: 'must be organizer or tenant' })
    .default('organizer'),
  NOTIFICATION_CERT_FILE: existingFile.optional(),
  SECRET_DOWNLOAD_LINK_KEY: z
    .string()
    .min(32, { message: 'must be at least 32 characters' })
    .optional(),
  DOWNLOAD_LINK_TTL_SECONDS: int(10, 3600).default(300),
  SYNC_WORKERS: int(1, 32).default(2),
  SYNC_LEASE_SECONDS: int(1, 3600).default(60),
  RECONCILE_INTERVAL_SECONDS: int(1, 86_400).default(300),
  SECRET_BOT_PASSWORD: z.string().optional(),
  TAB_STATIC_DIR: z.string().min(1).default('dist/tab'),
  AAD_APP_ID_URI: z
    .string()
    .regex(/^api:\/\/[^\s/]+(\/[^\s/]+)*\/[0-9a-fA-F-]{36}$/, {
      message: 'must look like api://{domain}/{client id}',
    })
    .optional(),
  TAB_LOCAL_SIGN_IN: z.enum(['true', 'false'], { message: 'must be true or false' }).optional(),
  DEFAULT_TIME_ZONE: z
    .string()
    .refine(
      (zone) => {
        try {
          new Intl.DateTimeFormat('en-US', { timeZone: zone });
          return true;
        } catch {
          return false; // RangeError: unknown zone
        }
      },
      { message: 'is not an IANA time zone' },
    )
    .default('UTC'),
});

const GRAPH_IDENTITY = ['AAD_APP_TENANT_ID', 'AAD_APP_CLIENT_ID'] as const;

const launcherSchema = z.object({
  ENV_NAME: z
    .string()
    .regex(/^[a-z0-9-]+$/, { message: 'must be lower-case letters, digits or dashes' })
    .default('local'),
  LOCAL_MONGO_PORT: int(0, 65535).default(27117),
  LOCAL_DATA_DIR: z.string().min(1, { message: 'must not be empty' }).default('.data'),
  GRAPH_SIM_PORT: int(0, 65535).default(8443),
  PLAYGROUND: z.enum(['on', 'off'], { message: 'must be on or off' }).default('on'),
  PLAYGROUND_PORT: int(1, 65535).default(56150),
  LOCAL_TIME_SCALE: z
    .string()
    .regex(/^\d+(\.\d+)?$/, { message: 'must be a positive number' })
    .transform(Number)
    .refine((n) => n > 0 && n <= 100_000, { message: 'must be between 0 and 100000' })
    .default(120),
  MONGODB_URI: mongoUri.optional(),
});

/** Empty strings count as unset, so `FOO=` in an env file means "use the default". */
function present(env: Env): Env {
  return Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ''));
}

function parse<S extends z.ZodType>(schema: S, env: Env): z.output<S> {
  const result = schema.safeParse(present(env));
  if (result.success) return result.data;
  const issue = result.error.issues[0]!;
  const variable = String(issue.path[0] ?? 'environment');
  // Never echo the value: it may be a secret.
  throw new ConfigError(
    variable,
    issue.message,
    FIX[variable] ?? 'See the configuration table in README.md.',
  );
}

/** Reads and validates the app's settings. Throws ConfigError naming the first bad variable. */
export function loadConfig(env: Env): Config {
  const e = parse(appSchema, env);
  // The Entra app comes as a set: tenant, client and one credential (secret or certificate),
  // or nothing at all (Graph features off).
  const credential =
    e.SECRET_AAD_APP_CLIENT_SECRET !== undefined || e.AAD_APP_CLIENT_CERTIFICATE_FILE !== undefined;
  const given = [
    ...GRAPH_IDENTITY.filter((k) => e[k] !== undefined),
    ...(credential ? ['a credential'] : []),
  ];
  if (given.length > 0 && given.length < GRAPH_IDENTITY.length + 1) {
    const missing =
      GRAPH_IDENTITY.find((k) => e[k] === undefined) ?? 'SECRET_AAD_APP_CLIENT_SECRET';
    throw new ConfigError(
      missing,
      `is not set, but ${given.join(' and ')} ${given.length > 1 ? 'are' : 'is'}`,
      FIX[missing]!,
    );
  }
  if (
    e.SECRET_AAD_APP_CLIENT_SECRET !== undefined &&
    e.AAD_APP_CLIENT_CERTIFICATE_FILE !== undefined
  ) {
    throw new ConfigError(
      'AAD_APP_CLIENT_CERTIFICATE_FILE',
      'is set together with SECRET_AAD_APP_CLIENT_SECRET',
      'Use one credential: unset one of the two.',
    );
  }
  const graph: GraphConfig | undefined =
    given.length === 0
      ? undefined
      : {
          tenantId: e.AAD_APP_TENANT_ID!,
          clientId: e.AAD_APP_CLIENT_ID!,
          clientSecret: e.SECRET_AAD_APP_CLIENT_SECRET,
          clientCertificateFile: e.AAD_APP_CLIENT_CERTIFICATE_FILE,
          authorityHost: e.AAD_APP_OAUTH_AUTHORITY_HOST,
          baseUrl: e.GRAPH_BASE_URL,
          caFile: e.GRAPH_CA_FILE,
        };
  if ((e.BOT_ID === undefined) !== (e.SECRET_BOT_PASSWORD === undefined)) {
    const missing = e.BOT_ID === undefined ? 'BOT_ID' : 'SECRET_BOT_PASSWORD';
    throw new ConfigError(
      missing,
      `is not set, but ${missing === 'BOT_ID' ? 'SECRET_BOT_PASSWORD' : 'BOT_ID'} is`,
      FIX[missing]!,
    );
  }
  const localSignIn = e.TAB_LOCAL_SIGN_IN === 'true';
  if (
    localSignIn &&
    !/^https:\/\/(127\.0\.0\.1|localhost)[:/]/.test(`${e.AAD_APP_OAUTH_AUTHORITY_HOST}/`)
  )
    throw new ConfigError(
      'TAB_LOCAL_SIGN_IN',
      'is true, but Entra ID is not the local simulator',
      'Unset TAB_LOCAL_SIGN_IN: the demo sign-in exists for local mode only.',
    );
  if (e.AAD_APP_ID_URI && graph && !e.AAD_APP_ID_URI.endsWith(`/${graph.clientId}`))
    throw new ConfigError(
      'AAD_APP_ID_URI',
      'does not end with AAD_APP_CLIENT_ID',
      'Set it to api://{your domain}/{AAD_APP_CLIENT_ID}, as in the Entra app registration.',
    );
  const publicHost = e.PUBLIC_BASE_URL ? new URL(e.PUBLIC_BASE_URL).host : 'localhost';
  const tab: TabConfig = {
    staticDir: e.TAB_STATIC_DIR,
    applicationIdUri:
      e.AAD_APP_ID_URI ?? (graph ? `api://${publicHost}/${graph.clientId}` : undefined),
    localSignIn,
  };
  const bot: BotConfig | undefined = e.BOT_ID
    ? { appId: e.BOT_ID, password: e.SECRET_BOT_PASSWORD!, tenantId: e.AAD_APP_TENANT_ID }
    : undefined;
  return {
    graph,
    bot,
    defaultTimeZone: e.DEFAULT_TIME_ZONE,
    consentNoticeText: e.CONSENT_NOTICE_TEXT,
    instructorGroupId: e.INSTRUCTOR_GROUP_ID,
    adminGroupId: e.ADMIN_GROUP_ID,
    sync: {
      publicBaseUrl: e.PUBLIC_BASE_URL,
      subscriptionScope: e.SUBSCRIPTION_SCOPE,
      notificationCertificateFile: e.NOTIFICATION_CERT_FILE,
      downloadLinkKey: e.SECRET_DOWNLOAD_LINK_KEY,
      downloadLinkTtlSeconds: e.DOWNLOAD_LINK_TTL_SECONDS,
      workers: e.SYNC_WORKERS,
      leaseSeconds: e.SYNC_LEASE_SECONDS,
      reconcileIntervalSeconds: e.RECONCILE_INTERVAL_SECONDS,
    },
    tab,
    port: e.PORT,
    host: e.HOST,
    mongodbUri: e.MONGODB_URI,
    mongodbDb: e.MONGODB_DB,
    mongodbServerSelectionTimeoutMs: e.MONGODB_SERVER_SELECTION_TIMEOUT_MS,
    mongodbHeartbeatMs: e.MONGODB_HEARTBEAT_MS,
    logLevel: e.LOG_LEVEL,
    maxBodyBytes: e.MAX_BODY_BYTES,
    shutdownTimeoutMs: e.SHUTDOWN_TIMEOUT_MS,
  };
}

export function loadLauncherConfig(env: Env): LauncherConfig {
  const e = parse(launcherSchema, env);
  return {
    envName: e.ENV_NAME,
    localMongoPort: e.LOCAL_MONGO_PORT,
    localDataDir: e.LOCAL_DATA_DIR,
    graphSimPort: e.GRAPH_SIM_PORT,
    localTimeScale: e.LOCAL_TIME_SCALE,
    playground: e.PLAYGROUND === 'on',
    playgroundPort: e.PLAYGROUND_PORT,
    mongodbUri: e.MONGODB_URI,
  };
}

/** A connection string safe to print: credentials replaced. */
export function redactUri(uri: string): string {
  return uri.replace(/^(mongodb(?:\+srv)?:\/\/)[^@/]*@/, '$1***@');
}
