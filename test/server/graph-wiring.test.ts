import assert from 'node:assert/strict';
import { loadConfig } from '../../src/config/index.js';
import { createApp } from '../../src/server/index.js';
import { graphEnv, startSim, type SimHandle } from '../support/graph.js';
import { silentLogger } from '../support/logger.js';
import { startTestMongo, uniqueDbName, type TestMongo } from '../support/mongo.js';

describe('server: Graph wiring from configuration', () => {
  let h: SimHandle;
  let mongo: TestMongo;

  before(async () => {
    h = await startSim();
    mongo = await startTestMongo();
  });
  after(async () => {
    await mongo.stop();
    await h.stop();
  });

  it('builds the Graph layer from AAD_APP_* and GRAPH_* settings, and it reaches the configured tenant', async () => {
    const config = loadConfig({
      MONGODB_URI: mongo.uri,
      MONGODB_DB: uniqueDbName('wiring'),
      PORT: '0',
      HOST: '127.0.0.1',
      ...graphEnv(h.sim),
    });
    const app = createApp({ config, logger: silentLogger() });
    await app.start();
    try {
      assert.ok(app.graph);
      assert.deepEqual(await app.graph.listSubscriptions(), []);
      assert.ok(
        h.sim.requests.some((r) =>
          r.path.startsWith(`/${h.sim.state.tenant.id}/oauth2/v2.0/token`),
        ),
      );
    } finally {
      await app.stop();
    }
  });

  it('has no Graph layer when no Entra app is configured', () => {
    const app = createApp({
      config: loadConfig({ MONGODB_URI: mongo.uri }),
      logger: silentLogger(),
    });
    assert.equal(app.graph, undefined);
  });
});
