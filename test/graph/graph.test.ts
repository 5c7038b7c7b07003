import assert from 'node:assert/strict';
import { GraphRequestError } from '../../src/errors/index.js';
import { GraphApi } from '../../src/graph/index.js';
import { silentLogger } from '../support/logger.js';
import { makeEncryptionCertificate } from '../support/notifications.js';
import { LEARNER, ORGANIZER, graphFor, startSim, type SimHandle } from '../support/graph.js';

const START = '2030-03-02T09:00:00';
const END = '2030-03-02T10:00:00';

describe("graph: the app's Graph layer against the simulator (HTTPS, verification on)", () => {
  let h: SimHandle;
  let graph: GraphApi;

  beforeEach(async () => {
    h = await startSim({ startTime: new Date('2030-03-01T00:00:00Z') });
    graph = graphFor(h.sim);
  });
  afterEach(async () => {
    await graph.close();
    await h.stop();
  });

  async function scheduleClass(transactionId = 'tx-1') {
    const event = await graph.createEvent(ORGANIZER, {
      subject: 'Biology 101 – Week 3',
      start: { dateTime: START, timeZone: 'UTC' },
      end: { dateTime: END, timeZone: 'UTC' },
      attendees: [{ address: 'leo@test.example', name: 'Leo Learner' }],
      transactionId,
    });
    const meeting = await graph.findMeetingByJoinUrl(ORGANIZER, event.onlineMeeting!.joinUrl);
    assert.ok(meeting, 'the onlineMeeting is found by join URL');
    return { event, meeting };
  }

  it('gets a token with msal-node, creates an event, finds its meeting and turns on recording', async () => {
    const { event, meeting } = await scheduleClass();
    assert.equal(event.isOnlineMeeting, true);
    assert.match(
      event.onlineMeeting!.joinUrl,
      /^https:\/\/teams\.microsoft\.com\/l\/meetup-join\//,
    );
    assert.equal(meeting.joinWebUrl, event.onlineMeeting!.joinUrl);
    const patched = await graph.updateMeeting(ORGANIZER, meeting.id, {
      startDateTime: meeting.startDateTime,
      endDateTime: meeting.endDateTime,
      recordAutomatically: true,
      allowRecording: true,
      allowTranscription: true,
    });
    assert.equal(patched.recordAutomatically, true);
    assert.equal((await graph.getMeeting(ORGANIZER, meeting.id)).recordAutomatically, true);
    const graphCalls = h.sim.requests
      .filter((r) => r.path.startsWith('/v1.0/'))
      .map(
        (r) =>
          `${r.method} ${r.path.split('?')[0]!.replace(/onlineMeetings\/[^/]+/, 'onlineMeetings/{id}')} ${r.status}`,
      );
    assert.deepEqual(graphCalls, [
      `POST /v1.0/users/${ORGANIZER}/events 201`,
      `GET /v1.0/users/${ORGANIZER}/onlineMeetings 200`,
      `PATCH /v1.0/users/${ORGANIZER}/onlineMeetings/{id} 200`,
      `GET /v1.0/users/${ORGANIZER}/onlineMeetings/{id} 200`,
    ]);
    assert.ok(
      h.sim.requests.some((r) => r.path.includes('/oauth2/v2.0/token') && r.status === 200),
      'msal used the token endpoint',
    );
  });

  it('uses transactionId so a retried create returns the same event', async () => {
    const a = await scheduleClass('same-request');
    const b = await scheduleClass('same-request');
    assert.equal(a.event.id, b.event.id);
    assert.equal(h.sim.state.events.size, 1);
  });

  it('lists recordings and transcripts after the meeting ends, and streams content with Range', async () => {
    const { meeting } = await scheduleClass();
    await graph.updateMeeting(ORGANIZER, meeting.id, {
      startDateTime: meeting.startDateTime,
      endDateTime: meeting.endDateTime,
      recordAutomatically: true,
      allowTranscription: true,
    });
    h.sim.endMeeting(h.sim.state.meetings.get(meeting.id)!);
    const [recording] = await graph.listRecordings(ORGANIZER, meeting.id);
    assert.ok(recording);
    assert.equal(
      (await graph.getRecording(ORGANIZER, meeting.id, recording.id)).meetingId,
      meeting.id,
    );
    const full = await graph.getRecordingContent(ORGANIZER, meeting.id, recording.id);
    assert.equal(full.status, 200);
    assert.equal(full.contentType, 'video/mp4');
    const bytes: Buffer[] = [];
    for await (const chunk of full.stream) bytes.push(chunk as Buffer);
    const all = Buffer.concat(bytes);
    assert.equal(all.length, 256 * 1024);
    assert.equal(all.subarray(8, 12).toString('ascii'), 'WAVE', 'a playable stand-in');
    const slice = await graph.getRecordingContent(
      ORGANIZER,
      meeting.id,
      recording.id,
      'bytes=1000-1999',
    );
    assert.equal(slice.status, 206);
    assert.equal(slice.contentRange, `bytes 1000-1999/${256 * 1024}`);
    const part: Buffer[] = [];
    for await (const chunk of slice.stream) part.push(chunk as Buffer);
    assert.deepEqual(Buffer.concat(part), all.subarray(1000, 2000));

    const [transcript] = await graph.listTranscripts(ORGANIZER, meeting.id);
    assert.ok(transcript);
    const vtt = await graph.getTranscriptVtt(ORGANIZER, meeting.id, transcript.id);
    assert.match(vtt, /^WEBVTT/);
    assert.match(vtt, /<v Ina Organizer>/);
  });

  it('follows getAllRecordings delta: a full round, then only what is new', async () => {
    const first = await graph.recordingsDelta(ORGANIZER);
    assert.deepEqual(first.items, []);
    const { meeting } = await scheduleClass();
    await graph.updateMeeting(ORGANIZER, meeting.id, {
      startDateTime: meeting.startDateTime,
      endDateTime: meeting.endDateTime,
      recordAutomatically: true,
    });
    h.sim.endMeeting(h.sim.state.meetings.get(meeting.id)!);
    const second = await graph.recordingsDelta(ORGANIZER, first.deltaLink);
    assert.equal(second.items.length, 1);
    const third = await graph.recordingsDelta(ORGANIZER, second.deltaLink);
    assert.deepEqual(third.items, []);
  });

  it('retries a 429 with Retry-After and then succeeds', async () => {
    h.sim.injectFault({
      method: 'POST',
      path: '/events',
      status: 429,
      retryAfterSeconds: 0,
      count: 2,
    });
    const { event } = await scheduleClass();
    assert.ok(event.id);
    const posts = h.sim.requests.filter((r) => r.method === 'POST' && r.path.endsWith('/events'));
    assert.deepEqual(
      posts.map((r) => r.status),
      [429, 429, 201],
    );
  });

  it('gives up after the retry bound with GRAPH_THROTTLED', async () => {
    h.sim.injectFault({ path: '/events', status: 429, retryAfterSeconds: 0, count: 10 });
    await assert.rejects(
      scheduleClass(),
      (err: unknown) =>
        err instanceof GraphRequestError &&
        err.code === 'GRAPH_THROTTLED' &&
        err.details.status === 429,
    );
    assert.equal(
      h.sim.requests.filter((r) => r.path.endsWith('/events')).length,
      4,
      'one try plus three retries',
    );
  });

  it('names the missing application access policy and how to fix it', async () => {
    h.sim.state.tenant.apps[0]!.accessPolicyUsers = [];
    await assert.rejects(
      graph.findMeetingByJoinUrl(ORGANIZER, 'https://teams.microsoft.com/l/meetup-join/x'),
      (err: unknown) => {
        assert.ok(err instanceof GraphRequestError);
        assert.equal(err.code, 'GRAPH_ACCESS_POLICY_MISSING');
        assert.equal(err.details.status, 403);
        assert.ok(err.details.requestId, 'carries the Graph request id');
        assert.match(err.message, /Grant-CsApplicationAccessPolicy/);
        assert.match(err.message, new RegExp(ORGANIZER));
        return true;
      },
    );
  });

  it('names the missing permission', async () => {
    h.sim.state.tenant.apps[0]!.roles = ['OnlineMeetings.ReadWrite.All'];
    await assert.rejects(
      scheduleClass(),
      (err: unknown) =>
        err instanceof GraphRequestError &&
        err.code === 'GRAPH_PERMISSION_MISSING' &&
        /Calendars\.ReadWrite/.test(err.message) &&
        /Grant admin consent/.test(err.message),
    );
  });

  it('reports a wrong client secret as GRAPH_AUTH_FAILED without leaking it', async () => {
    const wrong = graphFor(h.sim, { clientSecret: 'not-the-secret-XYZ' });
    try {
      await assert.rejects(wrong.getEvent(ORGANIZER, 'x'), (err: unknown) => {
        assert.ok(err instanceof GraphRequestError);
        assert.equal(err.code, 'GRAPH_AUTH_FAILED');
        assert.match(err.message, /SECRET_AAD_APP_CLIENT_SECRET/);
        assert.match(err.message, /AADSTS7000215/);
        assert.doesNotMatch(err.message, /XYZ/);
        return true;
      });
    } finally {
      await wrong.close();
    }
  });

  it('authenticates with a certificate (client assertion) instead of a secret', async () => {
    const { certificateBase64, privateKeyPem } = await makeEncryptionCertificate();
    const certificatePem = `-----BEGIN CERTIFICATE-----\n${certificateBase64.replace(/.{64}/g, '$&\n')}\n-----END CERTIFICATE-----\n`;
    const withCert = (key: string) =>
      new GraphApi({
        tenantId: h.sim.state.tenant.id,
        clientId: h.sim.state.tenant.apps[0]!.clientId,
        clientCertificate: { certificatePem, privateKeyPem: key },
        authorityHost: h.sim.url,
        graphBaseUrl: h.sim.url,
        extraCaFile: h.sim.caPath,
        logger: silentLogger(),
      });
    const unregistered = withCert(privateKeyPem);
    try {
      await assert.rejects(
        unregistered.listSubscriptions(),
        (err: unknown) =>
          err instanceof GraphRequestError &&
          err.code === 'GRAPH_AUTH_FAILED' &&
          /AADSTS700027/.test(err.message),
      );
    } finally {
      await unregistered.close();
    }
    h.sim.state.tenant.apps[0]!.certificates = [certificatePem];
    const registered = withCert(privateKeyPem);
    try {
      assert.deepEqual(await registered.listSubscriptions(), []);
    } finally {
      await registered.close();
    }
    const other = await makeEncryptionCertificate();
    const forged = withCert(other.privateKeyPem);
    try {
      await assert.rejects(
        forged.listSubscriptions(),
        (err: unknown) => err instanceof GraphRequestError && /AADSTS700027/.test(err.message),
      );
    } finally {
      await forged.close();
    }
  });

  it('refuses to talk to a server whose certificate it does not trust', async () => {
    const untrusting = new GraphApi({
      tenantId: h.sim.state.tenant.id,
      clientId: 'x',
      clientSecret: 'y',
      authorityHost: h.sim.url,
      graphBaseUrl: h.sim.url,
      logger: silentLogger(),
    });
    try {
      await assert.rejects(
        untrusting.getEvent(ORGANIZER, 'x'),
        (err: unknown) => err instanceof GraphRequestError,
      );
      assert.equal(h.sim.requests.length, 0, 'no request got through');
    } finally {
      await untrusting.close();
    }
  });

  it('maps 404 and deletes idempotently', async () => {
    await assert.rejects(
      graph.getEvent(ORGANIZER, 'missing'),
      (err: unknown) => err instanceof GraphRequestError && err.code === 'GRAPH_NOT_FOUND',
    );
    const { event } = await scheduleClass();
    assert.equal(await graph.deleteEvent(ORGANIZER, event.id), true);
    assert.equal(await graph.deleteEvent(ORGANIZER, event.id), false);
    void LEARNER;
  });
});
