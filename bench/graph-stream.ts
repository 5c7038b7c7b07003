import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { DEMO, demoTenant, startGraphSim } from '../dev/graph-sim/index.js';
import { GraphApi } from '../src/graph/index.js';
import { createLogger } from '../src/logging/index.js';

/**
 * Streams a 1 GiB recording from the Graph simulator through the app's Graph layer (msal token,
 * graph-client, HTTPS) and reports throughput and memory growth. Prints figures only.
 */
export async function benchGraphStream(bytes = 1024 * 1024 * 1024): Promise<string[]> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cr-bench-sim-'));
  const secret = 'bench-secret';
  const sim = await startGraphSim({
    tlsDir: dir,
    tenant: { ...demoTenant(secret), recordingBytes: bytes },
  });
  const graph = new GraphApi({
    tenantId: DEMO.tenantId,
    clientId: DEMO.appClientId,
    clientSecret: secret,
    authorityHost: sim.url,
    graphBaseUrl: sim.url,
    extraCaFile: sim.caPath,
    logger: createLogger({ level: 'silent' }),
  });
  try {
    const event = await graph.createEvent(DEMO.instructorId, {
      subject: 'Bench',
      start: { dateTime: '2030-01-01T09:00:00', timeZone: 'UTC' },
      end: { dateTime: '2030-01-01T10:00:00', timeZone: 'UTC' },
      attendees: [],
      transactionId: 'bench',
    });
    const meeting = (await graph.findMeetingByJoinUrl(
      DEMO.instructorId,
      event.onlineMeeting!.joinUrl,
    ))!;
    await graph.updateMeeting(DEMO.instructorId, meeting.id, {
      startDateTime: meeting.startDateTime,
      endDateTime: meeting.endDateTime,
      recordAutomatically: true,
    });
    sim.endMeeting(sim.state.meetings.get(meeting.id)!);
    const [recording] = await graph.listRecordings(DEMO.instructorId, meeting.id);
    const rssBefore = process.memoryUsage().rss;
    let peak = rssBefore;
    const t0 = performance.now();
    const content = await graph.getRecordingContent(DEMO.instructorId, meeting.id, recording!.id);
    let total = 0;
    for await (const chunk of content.stream) {
      total += (chunk as Buffer).length;
      if ((total & 0x3ffffff) < (chunk as Buffer).length)
        peak = Math.max(peak, process.memoryUsage().rss);
    }
    const seconds = (performance.now() - t0) / 1000;
    return [
      `graph recording stream, ${(total / 2 ** 30).toFixed(2)} GiB through msal + graph-client over HTTPS (simulator in-process): ${(total / 2 ** 20 / seconds).toFixed(0)} MiB/s, rss growth ${((peak - rssBefore) / 2 ** 20).toFixed(0)} MiB`,
    ];
  } finally {
    await graph.close();
    await sim.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
