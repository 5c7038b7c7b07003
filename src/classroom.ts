import { classroomBotRoutes, ConnectorPoster, createAdapter } from '../bot/index.js';
import type { Config } from './config/index.js';
import { DownloadLinks } from './downloads/index.js';
import type { Logger } from './logging/index.js';
import type { RouteRegistrar } from './server/index.js';
import { syncRoutes, type SyncOptions, type SyncRuntime } from './sync/index.js';
import { tabRoutes } from './tab-api/index.js';

export interface ClassroomOptions {
  logger: Logger;
  /** The app's clock (tests use the simulator's). */
  now?: () => Date;
  /** Scheduling's retry delay (tests make it short). */
  retryDelayMs?: number;
  /** Sync timings (tests make them short). */
  timing?: SyncOptions['timing'];
  /** Receives the sync's running parts once built. */
  onSync?: (runtime: SyncRuntime) => void;
}

/**
 * The product's capabilities, wired together: one Bot Framework adapter for the bot's turns and
 * the sync's proactive cards, one link signer for the bot and the tab (which mint download and
 * play links) and the download route (which checks them), the channel tab and its API, and a newly scheduled meeting's organizer subscribed at
 * once. main.ts runs this; the end-to-end tests run the same wiring.
 */
export function classroomRoutes(config: Config, options: ClassroomOptions): RouteRegistrar[] {
  const now = options.now ?? (() => new Date());
  const adapter = createAdapter(config.bot, options.logger);
  const links = new DownloadLinks(
    config.sync.downloadLinkKey,
    config.sync.downloadLinkTtlSeconds,
    now,
  );
  let sync: SyncRuntime | undefined;
  return [
    classroomBotRoutes(config, {
      now,
      retryDelayMs: options.retryDelayMs,
      adapter,
      links,
      onMeetingEnabled: () => sync?.refreshSubscriptions(),
    }),
    syncRoutes(config, {
      poster: new ConnectorPoster(adapter, config.bot?.appId ?? ''),
      links,
      now,
      timing: options.timing,
      onReady: (runtime) => {
        sync = runtime;
        options.onSync?.(runtime);
      },
    }),
    tabRoutes(config, { links, now }),
  ];
}
