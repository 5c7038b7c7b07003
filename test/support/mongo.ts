import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import {
  startMongoServer,
  type MongoServerOptions,
  type RunningMongoServer,
} from '../../dev/mongo/index.js';

/** A temporary folder removed by the returned cleanup. */
export function tempDir(prefix = 'cr-test-'): { dir: string; remove(): void } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  return { dir, remove: () => fs.rmSync(dir, { recursive: true, force: true }) };
}

/** A database name no other test uses, so tests never see each other's data. */
export function uniqueDbName(prefix = 't'): string {
  return `${prefix}_${randomBytes(6).toString('hex')}`;
}

/** A MongoDB to test against: MONGODB_URI when set, otherwise a fresh local server. */
export interface TestMongo {
  uri: string;
  /** The local server, when the target is local (restart tests need it). */
  local?: RunningMongoServer;
  /** Options the local server was started with, to restart it on the same port and data. */
  localOptions?: MongoServerOptions;
  external: boolean;
  stop(): Promise<void>;
}

export async function startTestMongo(options: MongoServerOptions = {}): Promise<TestMongo> {
  const external = process.env.MONGODB_URI;
  if (external) return { uri: external, external: true, stop: async () => undefined };
  const tmp = tempDir('cr-mongo-');
  const localOptions: MongoServerOptions = {
    dbPath: tmp.dir,
    ttlIntervalMs: 100,
    fsync: false,
    ...options,
  };
  const local = await startMongoServer(localOptions);
  const handle: TestMongo = {
    uri: local.uri,
    local,
    localOptions: { ...localOptions, port: local.port },
    external: false,
    async stop() {
      await handle.local?.close();
      tmp.remove();
    },
  };
  return handle;
}

/** Polls `check` until it returns true or `timeoutMs` passes. Resolves to the last answer. */
export async function eventually(
  check: () => Promise<boolean>,
  timeoutMs: number,
  intervalMs = 50,
): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return true;
    if (Date.now() > deadline) return false;
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}
