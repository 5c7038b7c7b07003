import { randomUUID } from 'node:crypto';
import type { Config } from '../config/index.js';
import { DownloadLinks, registerDownloadRoutes } from '../downloads/index.js';
import { createDispatcher } from '../graph/index.js';
import { MeetingScheduler } from '../meetings/index.js';
import type { RouteRegistrar } from '../server/index.js';
import { Reconciler } from './reconciler.js';
import { SubscriptionManager } from './subscriptions.js';
import { loadDecryptionKey, NotificationVerifier, type DecryptionKey } from './verify.js';
import { registerWebhookRoutes } from './webhook.js';
import { SyncWorker, type ClassPoster } from './worker.js';

export { DownloadLinks } from '../downloads/index.js';
export { Reconciler, type ReconcileResult } from './reconciler.js';
export { MAX_SUBSCRIPTION_MINUTES, SubscriptionManager } from './subscriptions.js';
export {
  clientStateMatches,
  decryptContent,
  hashClientState,
  loadDecryptionKey,
  NotificationVerifier,
  NOTIFICATION_PUBLISHER_APP_ID,
  type DecryptionKey,
} from './verify.js';
export { changeDedupeKey } from './webhook.js';
export {
  formatDuration,
  recordingCardData,
  SyncWorker,
  type ClassPoster,
  type RecordingCardData,
} from './worker.js';

/** The running parts, for tests and the admin report. */
export interface SyncRuntime {
  links: DownloadLinks;
  worker: SyncWorker;
  reconciler: Reconciler;
  subscriptions?: SubscriptionManager;
  /** Runs a subscription round soon (a new organizer needs subscriptions now, not in 30 s). */
  refreshSubscriptions(): void;
}

export interface SyncOptions {
  /** Posts recording cards (the bot's adapter). */
  poster: ClassPoster;
  /** Shared with the bot, which mints the links this app's download route checks. */
  links?: DownloadLinks;
  now?: () => Date;
  instanceId?: string;
  /** Tests speed these up. */
  timing?: {
    workerPollMs?: number;
    leaseMs?: number;
    backoffBaseMs?: number;
    managerTickMs?: number;
    managerLeaseMs?: number;
  };
  /** Receives the runtime once built (tests, the bot's download action). */
  onReady?: (runtime: SyncRuntime) => void;
  /** Whether to start the background parts (workers, manager, reconciler). */
  background?: boolean;
}

/**
 * Recording sync: the webhook (`/api/notifications`, `/api/lifecycle`), the download route,
 * and the background workers, subscription manager and reconciler. Needs Graph.
 */
export function syncRoutes(config: Config, options: SyncOptions): RouteRegistrar {
  return (server, { store, logger, graph }) => {
    const now = options.now ?? (() => new Date());
    const instanceId = options.instanceId ?? `${process.pid}-${randomUUID().slice(0, 8)}`;
    // The bot's signer when given: without SECRET_DOWNLOAD_LINK_KEY each signer has its own
    // random key, and links the bot minted would not pass this route's check.
    const links =
      options.links ??
      new DownloadLinks(config.sync.downloadLinkKey, config.sync.downloadLinkTtlSeconds, now);
    if (!graph || !config.graph) {
      logger.warn('recording sync is off: no Microsoft Graph access is configured');
      return;
    }
    const log = logger.child({ component: 'sync' });
    if (!config.sync.downloadLinkKey)
      log.warn('SECRET_DOWNLOAD_LINK_KEY is not set: download links work on this instance only');
    let decryptionKey: DecryptionKey | undefined;
    if (config.sync.notificationCertificateFile)
      decryptionKey = loadDecryptionKey(config.sync.notificationCertificateFile);
    const t = options.timing ?? {};

    const subscriptions = config.sync.publicBaseUrl
      ? new SubscriptionManager({
          store,
          graph,
          logger,
          now,
          tenantId: config.graph.tenantId,
          publicBaseUrl: config.sync.publicBaseUrl,
          scope: config.sync.subscriptionScope,
          decryptionKey,
          instanceId,
          leaseMs: t.managerLeaseMs,
          onResync: (reason) => reconciler.runSoon(reason),
        })
      : undefined;
    const worker = new SyncWorker({
      store,
      graph,
      logger,
      poster: options.poster,
      now,
      instanceId,
      subscriptions,
      concurrency: config.sync.workers,
      pollMs: t.workerPollMs,
      leaseMs: t.leaseMs ?? config.sync.leaseSeconds * 1000,
      backoffBaseMs: t.backoffBaseMs,
    });
    const reconciler: Reconciler = new Reconciler({
      store,
      graph,
      logger,
      now,
      tenantId: config.graph.tenantId,
      scheduler: new MeetingScheduler({ store, graph, logger, now }),
      onEnqueued: () => worker.kick(),
    });
    const dispatcher = createDispatcher(config.graph.caFile);
    const verifier = new NotificationVerifier({
      appId: config.graph.clientId,
      tenantId: config.graph.tenantId,
      authorityHost: config.graph.authorityHost,
      dispatcher,
      decryptionKey,
      subscriptions: store.subscriptions,
      now,
    });
    registerWebhookRoutes(server, {
      store,
      logger,
      verifier,
      now,
      onAccepted: () => worker.kick(),
    });
    registerDownloadRoutes(server, { store, graph, logger, links, now });
    let managerTimer: NodeJS.Timeout | undefined;
    let ticking: Promise<unknown> | undefined;
    let tickAgain = false;
    let started = false;
    const tick = (): void => {
      if (!subscriptions || !started) return;
      if (ticking) {
        tickAgain = true;
        return;
      }
      ticking = subscriptions
        .tick()
        .catch((err: unknown) => log.warn({ err }, 'subscription round failed; retrying'))
        .finally(() => {
          ticking = undefined;
          if (tickAgain) {
            tickAgain = false;
            tick();
          }
        });
    };
    options.onReady?.({ links, worker, reconciler, subscriptions, refreshSubscriptions: tick });
    return {
      start() {
        if (options.background === false) return;
        started = true;
        worker.start();
        reconciler.start(config.sync.reconcileIntervalSeconds * 1000);
        if (subscriptions) {
          managerTimer = setInterval(tick, t.managerTickMs ?? 30_000);
          managerTimer.unref();
          tick();
        } else
          log.warn(
            'PUBLIC_BASE_URL is not set: no Graph subscriptions; the reconciler finds recordings',
          );
      },
      async stop() {
        started = false;
        if (managerTimer) clearInterval(managerTimer);
        await ticking;
        await reconciler.stop();
        await worker.stop();
        await subscriptions?.release().catch(() => undefined);
        await dispatcher.close();
      },
    };
  };
}
