import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { Agent, request } from 'undici';
import { startGraphSim } from '../dev/graph-sim/index.js';
import { bareTenant } from '../dev/graph-sim/tenant.js';
import { startMongoServer } from '../dev/mongo/index.js';
import { loadConfig } from '../src/config/index.js';
import { createLogger } from '../src/logging/index.js';
import { createApp } from '../src/server/index.js';
import { hashClientState, syncRoutes } from '../src/sync/index.js';

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

/**
 * The webhook under a fixed offered load (open loop: requests leave on schedule whether or not
 * earlier ones finished): valid notifications, each checked and stored durably before 202.
 * Prints ack latency p50/p99 and the rate actually sustained. Workers are off, so only the
 * webhook's own path is measured.
 */
export async function benchWebhook(rate = 200, seconds = 5): Promise<string[]> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cr-bench-webhook-'));
  const local = process.env.MONGODB_URI
    ? undefined
    : await startMongoServer({ dbPath: path.join(dir, 'db') });
  const uri = process.env.MONGODB_URI ?? local!.uri;
  const tenant = bareTenant({
    apps: [
      {
        clientId: '11111111-1111-4111-8111-111111111111',
        displayName: 'bench',
        secrets: ['s'],
        roles: [],
        accessPolicyUsers: [],
      },
    ],
  });
  const sim = await startGraphSim({ tlsDir: path.join(dir, 'tls'), tenant });
  const config = loadConfig({
    MONGODB_URI: uri,
    MONGODB_DB: `bench_webhook_${process.pid}`,
    PORT: '0',
    HOST: '127.0.0.1',
    LOG_LEVEL: 'silent',
    AAD_APP_TENANT_ID: tenant.id,
    AAD_APP_CLIENT_ID: tenant.apps[0]!.clientId,
    SECRET_AAD_APP_CLIENT_SECRET: 's',
    AAD_APP_OAUTH_AUTHORITY_HOST: sim.url,
    GRAPH_BASE_URL: sim.url,
    GRAPH_CA_FILE: sim.caPath,
  });
  const app = createApp({
    config,
    logger: createLogger({ level: 'silent' }),
    routes: [
      syncRoutes(config, {
        poster: { post: async () => 'x', update: async () => undefined },
        background: false,
      }),
    ],
  });
  const { url } = await app.start();
  const clientState = 'bench-client-state-0123456789';
  await app.store.ensureIndexes();
  await app.store.subscriptions.upsert({
    _id: 'sub-bench',
    resource: 'communications/onlineMeetings/getAllRecordings',
    changeType: 'created',
    tenantId: tenant.id,
    scope: 'tenant',
    clientStateHash: hashClientState(clientState),
    expirationDateTime: new Date(Date.now() + 86_400_000),
    createdAt: new Date(),
    updatedAt: new Date(),
  });
  const agent = new Agent({ connections: 64 });
  const total = rate * seconds;
  const latencies: number[] = [];
  let failed = 0;
  const started = performance.now();
  const inflight: Promise<void>[] = [];
  for (let i = 0; i < total; i++) {
    const due = started + (i * 1000) / rate;
    const wait = due - performance.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    const body = JSON.stringify({
      value: [
        {
          subscriptionId: 'sub-bench',
          changeType: 'created',
          clientState,
          tenantId: tenant.id,
          resource: `communications/onlineMeetings('m${i % 50}')/recordings('r${i}')`,
          resourceData: { id: `r${i}` },
        },
      ],
    });
    inflight.push(
      (async () => {
        const t = performance.now();
        const res = await request(`${url}/api/notifications`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body,
          dispatcher: agent,
        });
        await res.body.dump();
        if (res.statusCode === 202) latencies.push(performance.now() - t);
        else failed++;
      })(),
    );
  }
  await Promise.all(inflight);
  const elapsed = (performance.now() - started) / 1000;
  const stored = await app.store.db.collection('inbox').countDocuments();
  await agent.close();
  await app.store.db.dropDatabase();
  await app.stop();
  await sim.close();
  await local?.close();
  fs.rmSync(dir, { recursive: true, force: true });
  latencies.sort((a, b) => a - b);
  return [
    `webhook: offered ${rate}/s for ${seconds} s (${total} POSTs, one notification each, ${process.env.MONGODB_URI ? 'MONGODB_URI' : 'local server, fsync on'})`,
    `  ack latency p50 ${percentile(latencies, 50).toFixed(1)} ms, p99 ${percentile(latencies, 99).toFixed(1)} ms; sustained ${(latencies.length / elapsed).toFixed(0)}/s; stored ${stored}; non-202 ${failed}`,
  ];
}
