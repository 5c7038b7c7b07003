import assert from 'node:assert/strict';
import { fork, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { MongoClient } from 'mongodb';
import { tempDir } from '../../support/mongo.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');

/** Runs dev/mongo as its own process, as `npm run mongo:dev` does, and waits for its port. */
async function startProcess(dbPath: string): Promise<{ child: ChildProcess; uri: string }> {
  const child = fork(path.join(root, 'dev/mongo/main.ts'), ['--port', '0', '--dbpath', dbPath], {
    execArgv: ['--import', 'tsx'],
    stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
  });
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const uri = await new Promise<string>((resolve, reject) => {
    child.once('message', (m: { uri: string }) => resolve(m.uri));
    child.once('exit', (code) => reject(new Error(`mongo exited ${code}: ${stderr}`)));
  });
  return { child, uri };
}

describe('dev/mongo: crash safety', function () {
  this.timeout(60_000);

  it('keeps every acknowledged write and reopens its data dir after SIGKILL mid-write', async () => {
    const data = tempDir('cr-crash-');
    try {
      const first = await startProcess(data.dir);
      const client = new MongoClient(first.uri, {
        serverSelectionTimeoutMS: 1000,
        retryWrites: false,
      });
      const coll = client.db('crash').collection<{ n: number; pad: string }>('items');
      await coll.createIndex({ n: 1 }, { unique: true });
      const acknowledged: number[] = [];
      const writers = [0, 1, 2, 3].map(async (w) => {
        for (let i = w; ; i += 4) {
          try {
            await coll.insertOne({ n: i, pad: 'x'.repeat(500) });
            acknowledged.push(i);
          } catch {
            return; // the server is gone: this write was never acknowledged
          }
          if (acknowledged.length === 150) first.child.kill('SIGKILL');
        }
      });
      await Promise.all(writers);
      await client.close();
      assert.ok(acknowledged.length >= 150);

      const second = await startProcess(data.dir);
      const reopened = new MongoClient(second.uri, { serverSelectionTimeoutMS: 1000 });
      try {
        const items = reopened.db('crash').collection('items');
        const stored = new Set((await items.find({}).toArray()).map((d) => d.n as number));
        const lost = acknowledged.filter((n) => !stored.has(n));
        assert.deepEqual(lost, [], 'acknowledged writes survive');
        // The unique index survived too, and the server takes new writes.
        await assert.rejects(
          items.insertOne({ n: acknowledged[0] }),
          (err: { code?: number }) => err.code === 11000,
        );
        await items.insertOne({ n: -1 });
      } finally {
        await reopened.close();
        second.child.kill('SIGTERM');
        await new Promise((r) => second.child.once('exit', r));
      }
    } finally {
      data.remove();
    }
  });
});
