import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import http from 'node:http';
import { recordingStream } from '../../dev/graph-sim/content.js';
import { LEARNER } from '../support/graph.js';
import { startTestMongo, type TestMongo } from '../support/mongo.js';
import { startTabWorld, type TabWorld } from '../support/tab.js';

const GIB = 1024 * 1024 * 1024;
/** Generous: a buffered recording would need over 1 GiB; streaming needs a few chunks. */
const MAX_RSS_GROWTH = 256 * 1024 * 1024;

/**
 * A 1 GiB recording streamed from the simulated Graph, through the app, to a client that hashes
 * it as it arrives. Everything runs in this process, so the process's resident memory bounds
 * the app's: it must stay flat while a gigabyte passes.
 */
describe('downloads: a 1 GiB recording streams in flat memory', function () {
  this.timeout(240_000);
  let mongo: TestMongo;
  let t: TabWorld;

  before(async () => {
    mongo = await startTestMongo();
    t = await startTabWorld(mongo, { recordingBytes: GIB });
  });
  after(async () => {
    await t?.w.stop();
    await mongo.stop();
  });

  it('delivers every byte, unchanged, and the resident memory stays within the bound', async () => {
    const links = await t.api(
      `/api/tab/links?recordingId=${encodeURIComponent(t.recording._id)}`,
      await t.token(LEARNER),
      { method: 'POST' },
    );
    assert.equal(links.status, 200, links.text);
    global.gc?.();
    const baseline = process.memoryUsage().rss;
    let peak = baseline;
    const sampler = setInterval(() => {
      peak = Math.max(peak, process.memoryUsage().rss);
    }, 25);
    const hash = createHash('sha256');
    let received = 0;
    try {
      await new Promise<void>((resolve, reject) => {
        http
          .get(`${t.url}${links.json.downloadUrl}`, (res) => {
            assert.equal(res.statusCode, 200);
            assert.equal(res.headers['content-length'], String(GIB));
            res.on('data', (c: Buffer) => {
              received += c.length;
              hash.update(c);
            });
            res.on('end', resolve);
            res.on('error', reject);
          })
          .on('error', reject);
      });
    } finally {
      clearInterval(sampler);
    }
    assert.equal(received, GIB);
    const expected = createHash('sha256');
    for await (const c of recordingStream(t.recording._id, GIB)) expected.update(c as Buffer);
    assert.equal(hash.digest('hex'), expected.digest('hex'), 'the bytes match');
    const growth = peak - baseline;
    console.log(`      resident memory grew by ${(growth / 1048576).toFixed(1)} MiB over 1 GiB`);
    assert.ok(growth < MAX_RSS_GROWTH, `grew ${(growth / 1048576).toFixed(1)} MiB`);
  });
});
