import assert from 'node:assert/strict';
import { fork, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { graphEnv } from '../support/graph.js';
import { eventually, startTestMongo, type TestMongo } from '../support/mongo.js';
import { freePort, LINK_KEY, startSyncWorld, type SyncWorld } from '../support/sync.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

/** The real app process (src/main.ts), as deployed, on the given settings. */
function startApp(env: Record<string, string>): Promise<ChildProcess> {
  const child = fork(path.join(root, 'src/main.ts'), [], {
    cwd: root,
    env: { PATH: process.env.PATH ?? '', ...env },
    execArgv: ['--import', 'tsx', '--disable-warning=DEP0111'],
    stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
  });
  return new Promise((resolve, reject) => {
    child.once('message', () => resolve(child));
    child.once('exit', (code) => reject(new Error(`the app exited (${code}) before listening`)));
  });
}

describe('sync: a crash between the inbox write and the card post', function () {
  this.timeout(90_000);
  let mongo: TestMongo;
  let w: SyncWorld;
  let app: ChildProcess | undefined;

  before(async () => {
    mongo = await startTestMongo();
  });
  after(async () => {
    await mongo.stop();
  });
  afterEach(async () => {
    app?.kill('SIGKILL');
    await w?.stop();
  });

  it('still posts exactly one card after SIGKILL and a restart', async () => {
    w = await startSyncWorld(mongo, { realTime: true });
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    const env = {
      ...graphEnv(w.sim),
      MONGODB_URI: mongo.uri,
      MONGODB_DB: w.dbName,
      PORT: String(port),
      HOST: '127.0.0.1',
      LOG_LEVEL: 'silent',
      PUBLIC_BASE_URL: url,
      SECRET_DOWNLOAD_LINK_KEY: LINK_KEY,
      SYNC_LEASE_SECONDS: '2',
      DEFAULT_TIME_ZONE: 'Europe/Berlin',
    };
    app = await startApp(env);
    const res = await w.postActivity(url, w.activity('schedule "Anatomy" tomorrow 10:00'));
    assert.equal(res.status, 200);
    await w.subscribed();
    const meeting = await w.store.db.collection('meetings').findOne({ title: 'Anatomy' });
    assert.equal(meeting?.recordingStatus, 'enabled');

    // The card post hangs (the app is mid-post, the notification safely in the inbox)…
    w.connector.faults.push('hang');
    w.endMeeting(String(meeting!.onlineMeetingId));
    assert.ok(await eventually(async () => w.connector.hung() === 1, 15_000), 'post in flight');
    const item = await w.store.db.collection('inbox').findOne({ 'payload.artifact': 'recording' });
    assert.equal(item?.status, 'processing');
    // …and the process is killed outright.
    app.kill('SIGKILL');
    await new Promise((r) => app!.once('exit', r));

    app = await startApp(env);
    assert.ok(await eventually(async () => w.recordingCards().length === 1, 30_000), 'the card');
    await new Promise((r) => setTimeout(r, 3000)); // a further lease period: nothing else comes
    assert.equal(w.recordingCards().length, 1);
    const done = await w.store.db.collection('inbox').findOne({ 'payload.artifact': 'recording' });
    assert.equal(done?.status, 'done');
    assert.equal((await w.store.db.collection('recordings').findOne({}))?.card.state, 'posted');
  });
});
