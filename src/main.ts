import { loadConfig } from './config/index.js';
import { ConfigError } from './errors/index.js';
import { classroomRoutes } from './classroom.js';
import { createLogger } from './logging/index.js';
import { createApp } from './server/index.js';

/**
 * The app process. Reads the environment once, fails fast on bad config with one line, and
 * shuts down cleanly on SIGTERM/SIGINT (or when the launcher that forked it goes away).
 */
async function main(): Promise<void> {
  let config;
  try {
    config = loadConfig(process.env);
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`config error: ${err.message}\n`);
      process.exit(1);
    }
    throw err;
  }
  const logger = createLogger({ level: config.logLevel });
  const app = createApp({ config, logger, routes: classroomRoutes(config, { logger }) });
  const { url, port } = await app.start();
  if (process.send) process.send({ type: 'listening', url, port });

  let stopping = false;
  const stop = (reason: string): void => {
    if (stopping) return;
    stopping = true;
    app.logger.info({ reason }, 'stop requested');
    app.stop().then(
      () => process.exit(0),
      (err: unknown) => {
        app.logger.error({ err }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('disconnect', () => stop('parent exited'));
}

main().catch((err: unknown) => {
  process.stderr.write(
    `fatal: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`,
  );
  process.exit(1);
});
