import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import http from 'node:http';
import { recordingStream } from '../../dev/graph-sim/content.js';
import { bytesOf } from '../support/browser.js';
import { LEARNER } from '../support/graph.js';
import { eventually, startTestMongo, type TestMongo } from '../support/mongo.js';
import { startTabWorld, type TabWorld } from '../support/tab.js';

/**
 * The one streaming path (src/downloads) as the tab's player and Download use it: Range and
 * 206 for seeking, 416 past the end, the right headers, and counters that tell views from
 * downloads.
 */
describe('downloads: streaming, ranges and counters', function () {
  this.timeout(60_000);
  let mongo: TestMongo;
  let t: TabWorld;
  let size: number;
  let links: { playUrl: string; downloadUrl: string };

  before(async () => {
    mongo = await startTestMongo();
    // No SECRET_DOWNLOAD_LINK_KEY: the tab's links must still pass the download route's check
    // (regression: the sync made its own signer with its own random key).
    t = await startTabWorld(mongo, { env: { SECRET_DOWNLOAD_LINK_KEY: '' } });
    size = t.w.sim.state.tenant.recordingBytes;
  });
  after(async () => {
    await t?.w.stop();
    await mongo.stop();
  });
  beforeEach(async () => {
    const r = await t.api(
      `/api/tab/links?recordingId=${encodeURIComponent(t.recording._id)}`,
      await t.token(LEARNER),
      { method: 'POST' },
    );
    assert.equal(r.status, 200, r.text);
    links = r.json;
  });

  const expected = (start: number, end: number) =>
    bytesOf(recordingStream(t.recording._id, size, start, end));
  const get = (path: string, range?: string) =>
    fetch(`${t.url}${path}`, { headers: range ? { range } : {} });
  const stats = async () => (await t.w.store.recordings.get(t.recording._id))!;

  it('serves byte ranges a player asks for: first bytes, middle, suffix', async () => {
    const cases: [string, number, number][] = [
      ['bytes=0-99', 0, 99],
      [`bytes=${size / 2}-${size / 2 + 4095}`, size / 2, size / 2 + 4095],
      ['bytes=-1000', size - 1000, size - 1],
      [`bytes=${size - 10}-`, size - 10, size - 1],
      [`bytes=${size - 10}-${size + 500}`, size - 10, size - 1],
    ];
    for (const [range, start, end] of cases) {
      const res = await get(links.playUrl, range);
      assert.equal(res.status, 206, range);
      assert.equal(res.headers.get('content-range'), `bytes ${start}-${end}/${size}`, range);
      assert.equal(res.headers.get('content-length'), String(end - start + 1), range);
      assert.equal(res.headers.get('content-type'), 'video/mp4');
      assert.equal(res.headers.get('accept-ranges'), 'bytes');
      assert.match(res.headers.get('content-disposition')!, /^inline; filename=/);
      assert.deepEqual(Buffer.from(await res.arrayBuffer()), await expected(start, end), range);
    }
  });

  it('answers 416 with the size for a range past the end, 400 for several ranges', async () => {
    for (const range of [`bytes=${size}-`, `bytes=${size + 100}-${size + 200}`]) {
      const res = await get(links.playUrl, range);
      assert.equal(res.status, 416, range);
      assert.equal(res.headers.get('content-range'), `bytes */${size}`);
      assert.equal((await res.arrayBuffer()).byteLength, 0);
    }
    const multi = await get(links.playUrl, 'bytes=0-1,5-6');
    assert.equal(multi.status, 400);
  });

  it('serves a whole download as an attachment with its length, and counts it once', async () => {
    const before = await stats();
    const res = await get(links.downloadUrl);
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('content-length'), String(size));
    assert.match(res.headers.get('content-disposition')!, /^attachment; filename="Biology 101/);
    const body = Buffer.from(await res.arrayBuffer());
    assert.equal(
      createHash('sha256').update(body).digest('hex'),
      createHash('sha256')
        .update(await expected(0, size - 1))
        .digest('hex'),
    );
    assert.ok(
      await eventually(
        async () => (await stats()).downloadCount === before.downloadCount + 1,
        5000,
      ),
    );
    const audit = await t.w.store.audit.list({ action: 'recording.download' });
    const mine = audit.filter((a) => a.recordingId === t.recording._id && a.actor.id === LEARNER);
    assert.equal(mine.at(0)?.details.bytes, size);
    assert.equal((await stats()).viewCount ?? 0, before.viewCount ?? 0, 'a download is no view');
  });

  it('counts a play as one view; the player’s seeks are neither views nor downloads', async () => {
    const before = await stats();
    // What a video element does: start at 0, then seek around.
    (await get(links.playUrl, 'bytes=0-')).body?.cancel();
    await (await get(links.playUrl, 'bytes=5000-9999')).arrayBuffer();
    await (await get(links.playUrl, 'bytes=-2048')).arrayBuffer();
    // The same player reading from the start again (a seek back, a retry): still one view.
    await (await get(links.playUrl, 'bytes=0-1023')).arrayBuffer();
    await (await get(links.playUrl, `bytes=${size / 4}-`)).body?.cancel();
    assert.ok(
      await eventually(async () => (await stats()).viewCount === (before.viewCount ?? 0) + 1, 5000),
    );
    await new Promise((r) => setTimeout(r, 200));
    const after = await stats();
    assert.equal(after.viewCount, (before.viewCount ?? 0) + 1);
    assert.equal(after.downloadCount, before.downloadCount, 'player reads are not downloads');
    const aborted = await t.w.store.audit.list({ action: 'recording.download.aborted' });
    assert.equal(aborted.length, 0, 'abandoned player reads are not aborted downloads');
  });

  it('records an aborted download as aborted, without counting it', async () => {
    const before = await stats();
    await new Promise<void>((resolve, reject) => {
      const req = http.get(`${t.url}${links.downloadUrl}`, (res) => {
        let got = 0;
        res.on('data', (c: Buffer) => {
          got += c.length;
          if (got > 64 * 1024) {
            req.destroy();
            resolve();
          }
        });
        res.on('error', () => undefined);
      });
      req.on('error', (err) => (err.message.includes('socket hang up') ? undefined : reject(err)));
    });
    assert.ok(
      await eventually(
        async () =>
          (await t.w.store.audit.list({ action: 'recording.download.aborted' })).length === 1,
        5000,
      ),
      'audited as aborted',
    );
    const [entry] = await t.w.store.audit.list({ action: 'recording.download.aborted' });
    assert.equal(entry!.actor.id, LEARNER);
    assert.ok((entry!.details.bytes as number) < size);
    assert.equal((await stats()).downloadCount, before.downloadCount);
  });

  it('refuses a play link whose signature was altered, or that has expired', async () => {
    const forged = links.playUrl.replace(/.(?=$)/, (c) => (c === 'A' ? 'B' : 'A'));
    assert.equal((await get(forged, 'bytes=0-9')).status, 403);
    t.w.sim.clock.advance(5 * 3600_000);
    assert.equal((await get(links.playUrl, 'bytes=0-9')).status, 403);
    assert.equal((await get(links.downloadUrl)).status, 403);
  });
});
