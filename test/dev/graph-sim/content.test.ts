import assert from 'node:assert/strict';
import { ORGANIZER, startSim, type SimHandle } from '../../support/graph.js';
import { simClient } from '../../support/sim-http.js';
import { Agent, request } from 'undici';

const GIB = 1024 * 1024 * 1024;

/**
 * Acceptance: a meeting ended through the control API produces a 1 GB recording that streams
 * with flat memory, and a Range request returns exactly its slice.
 */
describe('dev/graph-sim: recording content', function () {
  this.timeout(120_000);
  let h: SimHandle;
  let api: ReturnType<typeof simClient>;

  before(async () => {
    h = await startSim({ startTime: new Date('2030-03-01T00:00:00Z') });
    api = simClient(h.sim);
  });
  after(async () => {
    await api.close();
    await h.stop();
  });

  it('streams a 1 GB recording with flat memory and serves exact Range slices', async () => {
    const token = await api.token();
    const meeting = await api.classMeeting(token, 'Long lab', 3);
    const meetingId = meeting.id;
    await api.request(
      'PATCH',
      `/v1.0/users/${ORGANIZER}/onlineMeetings/${encodeURIComponent(meetingId)}`,
      {
        token,
        body: {
          startDateTime: meeting.startDateTime,
          endDateTime: meeting.endDateTime,
          recordAutomatically: true,
        },
      },
    );
    const ended = await api.request('POST', `/_sim/meetings/${encodeURIComponent(meetingId)}/end`, {
      body: { recordingBytes: GIB },
    });
    assert.equal(ended.status, 200);
    const recording = ended.json.artifacts.find((a: { kind: string }) => a.kind === 'recording');
    const path = `/v1.0/users/${ORGANIZER}/onlineMeetings/${encodeURIComponent(meetingId)}/recordings/${encodeURIComponent(recording.id)}/content`;
    const dispatcher = new Agent({ connect: { ca: h.sim.ca } });
    try {
      const full = await request(`${h.sim.url}${path}`, {
        headers: { authorization: `Bearer ${token}` },
        dispatcher,
      });
      assert.equal(full.statusCode, 200);
      assert.equal(full.headers['content-type'], 'video/mp4');
      assert.equal(Number(full.headers['content-length']), GIB);
      global.gc?.();
      const baseline = process.memoryUsage().rss;
      let peak = baseline;
      let total = 0;
      let sample = Buffer.alloc(0);
      for await (const chunk of full.body) {
        if (total <= 5_000_000 && total + chunk.length > 5_000_000)
          sample = Buffer.from(chunk.subarray(5_000_000 - total, 5_000_000 - total + 64));
        total += chunk.length;
        if ((total & 0x3ffffff) < chunk.length) peak = Math.max(peak, process.memoryUsage().rss);
      }
      assert.equal(total, GIB);
      assert.ok(
        peak - baseline < 150 * 1024 * 1024,
        `rss grew by ${Math.round((peak - baseline) / 1048576)} MiB while streaming 1 GiB`,
      );

      const slice = await request(`${h.sim.url}${path}`, {
        headers: { authorization: `Bearer ${token}`, range: 'bytes=5000000-5000063' },
        dispatcher,
      });
      assert.equal(slice.statusCode, 206);
      assert.equal(slice.headers['content-range'], `bytes 5000000-5000063/${GIB}`);
      assert.deepEqual(Buffer.from(await slice.body.arrayBuffer()), sample);

      const tail = await request(`${h.sim.url}${path}`, {
        headers: { authorization: `Bearer ${token}`, range: 'bytes=-10' },
        dispatcher,
      });
      assert.equal(tail.statusCode, 206);
      assert.equal(tail.headers['content-range'], `bytes ${GIB - 10}-${GIB - 1}/${GIB}`);
      await tail.body.arrayBuffer();

      const bad = await request(`${h.sim.url}${path}`, {
        headers: { authorization: `Bearer ${token}`, range: `bytes=${GIB}-` },
        dispatcher,
      });
      assert.equal(bad.statusCode, 416);
      assert.equal(bad.headers['content-range'], `bytes */${GIB}`);
      await bad.body.arrayBuffer();
    } finally {
      await dispatcher.close();
    }
  });
});
