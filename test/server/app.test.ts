import assert from 'node:assert/strict';
import { startMongoServer } from '../../dev/mongo/index.js';
import { loadConfig } from '../../src/config/index.js';
import { StoreUnavailableError } from '../../src/errors/index.js';
import { createApp, type App, type RouteRegistrar } from '../../src/server/index.js';
import { captureLogger } from '../support/logger.js';
import { eventually, startTestMongo, uniqueDbName, type TestMongo } from '../support/mongo.js';

/** Lets a test hold a request in flight and finish it later. */
let slowEntered: () => void = () => undefined;
let releaseSlow: () => void = () => undefined;

/** Test-only routes, registered through the same hook the capabilities use. */
const testRoutes: RouteRegistrar = (server) => {
  server.post('/test/echo', async (req, res) => {
    res.json(200, { bytes: (req.body as Buffer | undefined)?.length ?? 0 });
  });
  server.get('/test/slow', async (_req, res) => {
    await new Promise<void>((r) => {
      releaseSlow = r;
      slowEntered();
    });
    res.json(200, { finished: true });
  });
  server.get('/test/boom', async () => {
    throw new Error('driver said: password=hunter2 at 10.0.0.1');
  });
  server.get('/test/store-down', async () => {
    throw new StoreUnavailableError('test', new Error('no server'));
  });
};

function holdSlowRequest(base: string): { response: Promise<Response>; entered: Promise<void> } {
  const entered = new Promise<void>((r) => {
    slowEntered = r;
  });
  return { response: fetch(`${base}/test/slow`), entered };
}

describe('server: the composition root and its HTTP edges', () => {
  let mongo: TestMongo;
  let app: App;
  let base: string;
  let logs: () => string[];

  async function startApp(uri: string, extra: Record<string, string> = {}): Promise<void> {
    const capture = captureLogger();
    logs = capture.lines;
    const config = loadConfig({
      MONGODB_URI: uri,
      MONGODB_DB: uniqueDbName('app'),
      PORT: '0',
      HOST: '127.0.0.1',
      MAX_BODY_BYTES: '2048',
      MONGODB_SERVER_SELECTION_TIMEOUT_MS: '1000',
      MONGODB_HEARTBEAT_MS: '500',
      ...extra,
    });
    app = createApp({ config, logger: capture.logger, routes: [testRoutes] });
    base = (await app.start()).url;
  }

  const ready = async () => (await fetch(`${base}/readyz`)).status === 200;
  const notReady = async () => (await fetch(`${base}/readyz`)).status === 503;

  before(async () => {
    mongo = await startTestMongo();
  });
  after(async () => {
    await mongo.stop();
  });
  afterEach(async () => {
    await app?.stop();
  });

  it('answers /healthz and, once MongoDB is prepared, /readyz', async () => {
    await startApp(mongo.uri);
    const health = await fetch(`${base}/healthz`);
    assert.equal(health.status, 200);
    assert.deepEqual(await health.json(), { status: 'ok' });
    assert.equal(await eventually(ready, 5000), true);
    assert.deepEqual(await (await fetch(`${base}/readyz`)).json(), { status: 'ready' });
  });

  it('turns /readyz 503 when MongoDB stops and 200 when it is back, without a restart', async function () {
    if (!mongo.local) this.skip();
    await startApp(mongo.uri);
    assert.equal(await eventually(ready, 5000), true);
    await mongo.local.close();
    assert.equal(await eventually(notReady, 5000), true, '503 within 5 s');
    const body = (await (await fetch(`${base}/readyz`)).json()) as { reason: string };
    assert.equal(body.reason, 'mongodb unreachable');
    mongo.local = await startMongoServer(mongo.localOptions);
    assert.equal(await eventually(ready, 5000), true, '200 within 5 s');
  });

  it('starts before MongoDB does and becomes ready when it appears', async function () {
    if (!mongo.local) this.skip();
    const port = mongo.local.port;
    await mongo.local.close();
    await startApp(mongo.uri);
    assert.equal((await fetch(`${base}/healthz`)).status, 200, 'alive without MongoDB');
    assert.equal(await notReady(), true);
    mongo.local = await startMongoServer({ ...mongo.localOptions, port });
    const became = await eventually(ready, 10_000);
    assert.equal(became, true, `not ready; logs:\n${logs().slice(-5).join('\n')}`);
  });

  it('answers unknown routes and wrong methods with JSON errors and the request id', async () => {
    await startApp(mongo.uri);
    const res = await fetch(`${base}/nope`, { headers: { 'x-request-id': 'trace-123' } });
    assert.equal(res.status, 404);
    assert.equal(res.headers.get('x-request-id'), 'trace-123');
    assert.deepEqual(await res.json(), {
      error: { code: 'NOT_FOUND', message: 'No such route.', requestId: 'trace-123' },
    });
    const wrong = await fetch(`${base}/healthz`, { method: 'DELETE' });
    assert.equal(wrong.status, 405);
    assert.equal(
      ((await wrong.json()) as { error: { code: string } }).error.code,
      'METHOD_NOT_ALLOWED',
    );
  });

  it('replaces a malformed request id with its own', async () => {
    await startApp(mongo.uri);
    const res = await fetch(`${base}/healthz`, {
      headers: { 'x-request-id': 'bad id\twith spaces' },
    });
    assert.match(res.headers.get('x-request-id') ?? '', /^[0-9a-f-]{36}$/);
  });

  it('refuses bodies over MAX_BODY_BYTES with 413', async () => {
    await startApp(mongo.uri);
    const small = await fetch(`${base}/test/echo`, {
      method: 'POST',
      body: 'x'.repeat(2048),
      headers: { 'content-type': 'text/plain' },
    });
    assert.deepEqual(await small.json(), { bytes: 2048 });
    const big = await fetch(`${base}/test/echo`, {
      method: 'POST',
      body: 'x'.repeat(2049),
      headers: { 'content-type': 'text/plain' },
    });
    assert.equal(big.status, 413);
    assert.equal(
      ((await big.json()) as { error: { code: string } }).error.code,
      'PAYLOAD_TOO_LARGE',
    );
  });

  it('hides internal error details from clients but logs them with the stack', async () => {
    await startApp(mongo.uri);
    const res = await fetch(`${base}/test/boom`);
    assert.equal(res.status, 500);
    const text = await res.text();
    assert.doesNotMatch(text, /hunter2|10\.0\.0\.1|at .*\.ts/);
    assert.equal((JSON.parse(text) as { error: { code: string } }).error.code, 'INTERNAL');
    const line = logs().find((l) => l.includes('"path":"/test/boom"'));
    assert.ok(line, 'the failure was logged');
    assert.match(line, /"stack":"Error: driver said/);
  });

  it('maps StoreUnavailableError to 503', async () => {
    await startApp(mongo.uri);
    const res = await fetch(`${base}/test/store-down`);
    assert.equal(res.status, 503);
    assert.equal(
      ((await res.json()) as { error: { code: string } }).error.code,
      'STORE_UNAVAILABLE',
    );
  });

  it('keeps tokens out of the logs: no query strings, no authorization headers', async () => {
    await startApp(mongo.uri);
    await fetch(`${base}/healthz?validationToken=SECRET-TOKEN-1`, {
      headers: { authorization: 'Bearer SECRET-TOKEN-2' },
    });
    const all = logs().join('\n');
    assert.match(all, /"path":"\/healthz"/);
    assert.doesNotMatch(all, /SECRET-TOKEN/);
  });

  it('on stop, finishes in-flight requests, refuses new connections, then closes MongoDB', async () => {
    await startApp(mongo.uri, { SHUTDOWN_TIMEOUT_MS: '10000' });
    const slow = holdSlowRequest(base);
    await slow.entered;
    let stopped = false;
    const stopping = app.stop().then(() => (stopped = true));
    await assert.rejects(fetch(`${base}/healthz`), 'new connections are refused');
    assert.equal(stopped, false, 'stop waits for the in-flight request');
    releaseSlow();
    const res = await slow.response;
    assert.equal(res.status, 200);
    assert.deepEqual(await res.json(), { finished: true });
    await stopping;
    assert.equal(await app.store.ping(300), false, 'MongoDB client closed');
  });

  it('on stop, cuts requests that outlast SHUTDOWN_TIMEOUT_MS', async () => {
    await startApp(mongo.uri, { SHUTDOWN_TIMEOUT_MS: '200' });
    const slow = holdSlowRequest(base);
    await slow.entered;
    await app.stop();
    await assert.rejects(slow.response);
    assert.ok(logs().some((l) => l.includes('in-flight requests did not finish')));
    releaseSlow();
  });
});
