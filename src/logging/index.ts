import { pino, stdSerializers, type Logger, type DestinationStream } from 'pino';

export type { Logger } from 'pino';

/**
 * Paths pino removes before a line is written. Secrets must never reach logs, whatever a
 * caller passes in.
 */
const REDACT = [
  'req.headers.authorization',
  'req.headers.cookie',
  'headers.authorization',
  '*.password',
  '*.secret',
  '*.clientSecret',
  '*.clientState',
  '*.token',
  '*.accessToken',
  '*.mongodbUri',
  'mongodbUri',
];

export interface LoggerOptions {
  level: string;
  /** Where lines go; stdout by default. Tests pass a capturing stream. */
  destination?: DestinationStream;
  name?: string;
}

/** Structured JSON logs (pino). One root logger per process, passed down explicitly. */
export function createLogger(options: LoggerOptions): Logger {
  return pino(
    {
      level: options.level,
      name: options.name ?? 'classroom-recorder',
      redact: { paths: REDACT, censor: '[redacted]' },
      serializers: { err: stdSerializers.err },
    },
    options.destination,
  );
}
