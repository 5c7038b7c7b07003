import { parseArgs } from 'node:util';
import { startMongoServer } from './index.js';

/**
 * `node --import tsx dev/mongo/main.ts --port 27117 --dbpath .data/mongo`
 * Runs the local MongoDB-compatible server as its own process. With an IPC channel (when the
 * launcher forks it) it reports its port and exits when the parent goes away.
 */
const { values } = parseArgs({
  options: {
    port: { type: 'string', default: '27117' },
    host: { type: 'string', default: '127.0.0.1' },
    dbpath: { type: 'string', default: '.data/mongo' },
    'ttl-interval-ms': { type: 'string', default: '60000' },
  },
});

function fail(message: string): never {
  process.stderr.write(`mongo: ${message}\n`);
  process.exit(1);
}

const port = Number(values.port);
if (!Number.isInteger(port) || port < 0 || port > 65535)
  fail(`--port must be 0-65535, got "${values.port}"`);
const ttlIntervalMs = Number(values['ttl-interval-ms']);
if (!Number.isInteger(ttlIntervalMs) || ttlIntervalMs < 10)
  fail('--ttl-interval-ms must be an integer >= 10');

try {
  const server = await startMongoServer({
    port,
    host: values.host,
    dbPath: values.dbpath,
    ttlIntervalMs,
    log: (line) => process.stderr.write(`mongo: ${line}\n`),
  });
  const stop = (): void => {
    void server.close().then(() => process.exit(0));
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
  process.on('disconnect', stop);
  if (process.send) process.send({ type: 'listening', port: server.port, uri: server.uri });
  else process.stdout.write(`mongo: listening on ${server.uri} (data in ${values.dbpath})\n`);
} catch (err) {
  fail((err as Error).message);
}
