import net from 'node:net';
import { Commands } from './commands.js';
import { Engine } from './engine.js';
import { Journal } from './journal.js';
import { ProtocolError, encodeMsgReply, encodeReply, parseMessage, splitMessages } from './wire.js';

export { Engine } from './engine.js';

export interface MongoServerOptions {
  /** TCP port; 0 picks a free one. */
  port?: number;
  host?: string;
  /** Data directory. Without one the server keeps data in memory only. */
  dbPath?: string;
  /** How often the TTL monitor runs. mongod's default is 60 s. */
  ttlIntervalMs?: number;
  /** fsync every journal append (default true). */
  fsync?: boolean;
  now?: () => Date;
  /** Receives one line per notable event (connections are not logged). */
  log?: (line: string) => void;
}

export interface RunningMongoServer {
  readonly port: number;
  readonly host: string;
  /** A connection string for the official driver. */
  readonly uri: string;
  /** Runs one TTL pass now; returns how many documents it removed. */
  expireNow(): number;
  /** Stops listening, drops open connections and releases the data directory. */
  close(): Promise<void>;
}

/**
 * Starts the local MongoDB-compatible server: the MongoDB wire protocol over TCP, so that the
 * official driver talks to it exactly as it would to mongod.
 */
export async function startMongoServer(
  options: MongoServerOptions = {},
): Promise<RunningMongoServer> {
  const now = options.now ?? (() => new Date());
  const log = options.log ?? (() => undefined);
  const engine = new Engine(
    options.dbPath ? new Journal({ dir: options.dbPath, fsync: options.fsync }) : undefined,
  );
  const commands = new Commands({ engine, now });
  const sockets = new Set<net.Socket>();
  let connectionId = 0;

  const server = net.createServer((socket) => {
    const ctx = { connectionId: ++connectionId, legacy: false };
    sockets.add(socket);
    socket.setNoDelay(true);
    let pending: Buffer = Buffer.alloc(0);
    socket.on('data', (chunk: Buffer) => {
      pending = pending.length ? Buffer.concat([pending, chunk]) : chunk;
      try {
        const { messages, rest } = splitMessages(pending);
        pending = rest;
        for (const raw of messages) {
          const req = parseMessage(raw);
          if (req.kind === 'query') {
            if (!req.collection.endsWith('.$cmd'))
              throw new ProtocolError('legacy OP_QUERY is only accepted for commands');
            const reply = commands.run(req.query, { ...ctx, legacy: true });
            socket.write(encodeReply(req.header.requestId, reply));
          } else {
            const reply = commands.run(req.command, ctx);
            if (!req.moreToCome) socket.write(encodeMsgReply(req.header.requestId, reply));
          }
        }
      } catch (err) {
        // A malformed message leaves the stream unframed: mongod closes the connection too.
        log(`closing connection ${ctx.connectionId}: ${(err as Error).message}`);
        socket.destroy();
      }
    });
    socket.on('error', () => socket.destroy()); // peer resets are routine; 'close' cleans up
    socket.on('close', () => sockets.delete(socket));
  });

  const host = options.host ?? '127.0.0.1';
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as net.AddressInfo).port;
  const ttl = setInterval(() => {
    engine.expire(now());
    commands.reapCursors();
  }, options.ttlIntervalMs ?? 60_000);
  ttl.unref();

  let closed: Promise<void> | undefined;
  return {
    port,
    host,
    uri: `mongodb://${host}:${port}/?directConnection=true`,
    expireNow: () => engine.expire(now()),
    close() {
      closed ??= new Promise<void>((resolve) => {
        clearInterval(ttl);
        for (const s of sockets) s.destroy();
        server.close(() => {
          engine.close();
          resolve();
        });
      });
      return closed;
    },
  };
}
