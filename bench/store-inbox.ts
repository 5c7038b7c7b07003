import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { startMongoServer } from '../dev/mongo/index.js';
import { createLogger } from '../src/logging/index.js';
import { createStore } from '../src/store/index.js';

/**
 * The webhook's durable step: how long does storing one notification take, and how fast do
 * workers drain the inbox? Against MONGODB_URI when set, otherwise the local server with fsync
 * on (its default). Prints figures; asserts nothing.
 */
function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

export async function benchInbox(n = 1000): Promise<string[]> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cr-bench-'));
  const local = process.env.MONGODB_URI ? undefined : await startMongoServer({ dbPath: dir });
  const uri = process.env.MONGODB_URI ?? local!.uri;
  const store = createStore({
    uri,
    dbName: `bench_${process.pid}`,
    logger: createLogger({ level: 'silent' }),
  });
  try {
    await store.ensureIndexes();
    const latencies: number[] = [];
    const now = new Date();
    for (let i = 0; i < n; i++) {
      const t = performance.now();
      await store.inbox.enqueue(
        [
          {
            dedupeKey: `k${i}`,
            kind: 'change',
            subscriptionId: 's',
            tenantId: 't',
            payload: { resource: `r/${i}`, pad: 'x'.repeat(800) },
          },
        ],
        now,
      );
      latencies.push(performance.now() - t);
    }
    latencies.sort((a, b) => a - b);
    const t0 = performance.now();
    let drained = 0;
    for (;;) {
      const item = await store.inbox.claim('bench', now, 60_000);
      if (!item) break;
      await store.inbox.complete(item._id, 'bench', 'done', now, 86_400_000);
      drained++;
    }
    const seconds = (performance.now() - t0) / 1000;
    const target = process.env.MONGODB_URI ? 'MONGODB_URI' : 'local server, fsync on';
    return [
      `inbox enqueue (1 item, durable ack), ${n} runs [${target}]: p50 ${percentile(latencies, 50).toFixed(2)} ms, p95 ${percentile(latencies, 95).toFixed(2)} ms, p99 ${percentile(latencies, 99).toFixed(2)} ms`,
      `inbox claim+complete, ${drained} items: ${(drained / seconds).toFixed(0)} items/s`,
    ];
  } finally {
    await store.db.dropDatabase();
    await store.close();
    await local?.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
