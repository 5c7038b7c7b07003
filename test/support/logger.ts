import { Writable } from 'node:stream';
import { createLogger, type Logger } from '../../src/logging/index.js';

/** A real pino logger whose lines are kept in memory for assertions. */
export function captureLogger(level = 'debug'): { logger: Logger; lines: () => string[] } {
  const chunks: string[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _enc, done) {
      chunks.push(chunk.toString('utf8'));
      done();
    },
  });
  const logger = createLogger({ level, destination });
  return { logger, lines: () => chunks.join('').split('\n').filter(Boolean) };
}

export function silentLogger(): Logger {
  return createLogger({ level: 'silent' });
}
