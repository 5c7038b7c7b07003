import assert from 'node:assert/strict';
import type { GraphApi } from '../../src/graph/index.js';
import { MeetingScheduler, wallClock, type ScheduleRequest } from '../../src/meetings/index.js';
import { createStore, type Store } from '../../src/store/index.js';
import { LEARNER, ORGANIZER, graphFor, startSim, type SimHandle } from '../support/graph.js';
import { captureLogger } from '../support/logger.js';
import { startTestMongo, uniqueDbName, type TestMongo } from '../support/mongo.js';

const NOW = new Date('2030-03-01T12:00:00Z');

function request(overrides: Partial<ScheduleRequest> = {}): ScheduleRequest {
  return {
    requestKey: 'activity-1',
    organizer: { id: ORGANIZER, name: 'Ina Organizer' },
    title: 'Biology 101 – Week 3',
    start: new Date('2030-03-02T09:00:00Z'),
    end: new Date('2030-03-02T10:00:00Z'),
    timeZone: 'Europe/Berlin',
    attendees: [{ address: 'leo@test.example', name: 'Leo Learner' }],
    classRef: {
      conversationId: '19:class@thread.tacv2',
      teamId: 'team-1',
      channelId: '19:class@thread.tacv2',
    },
    source: 'command',
    ...overrides,
  };
}

describe('meetings: scheduling always-recorded class meetings (simulator + MongoDB)', () => {
  let h: SimHandle;
  let mongo: TestMongo;
  let store: Store;
  let graph: GraphApi;
  let scheduler: MeetingScheduler;
  let logs: () => string[];

  before(async () => {
    mongo = await startTestMongo();
  });
  after(async () => {
    await mongo.stop();
  });
  beforeEach(async () => {
    h = await startSim({ startTime: NOW });
    graph = graphFor(h.sim);
    const capture = captureLogger('warn');
    logs = capture.lines;
    store = createStore({ uri: mongo.uri, dbName: uniqueDbName('sched'), logger: capture.logger });
    await store.ensureIndexes();
    scheduler = new MeetingScheduler({
      store,
      graph,
      logger: capture.logger,
      now: () => NOW,
      retryDelayMs: 1,
    });
  });
  afterEach(async () => {
    await store.db.dropDatabase();
    await store.close();
    await graph.close();
    await h.stop();
  });

  it('creates the event with the class as attendees and turns on automatic recording', async () => {
    const r = await scheduler.schedule(request());
    assert.equal(r.created, true);
    assert.equal(r.meeting.recordingStatus, 'enabled');
    const events = [...h.sim.state.events.values()];
    assert.equal(events.length, 1);
    assert.deepEqual(
      events[0]!.attendees.map((a) => a.emailAddress.address),
      ['leo@test.example'],
    );
    assert.deepEqual(events[0]!.start, {
      dateTime: '2030-03-02T10:00:00',
      timeZone: 'Europe/Berlin',
    });
    const online = h.sim.state.meetings.get(r.meeting.onlineMeetingId!)!;
    assert.equal(online.recordAutomatically, true);
    assert.equal(online.allowTranscription, true);
    assert.deepEqual(online.attendeeIds, [LEARNER]);
    const stored = await store.meetings.get(r.meeting._id);
    assert.equal(stored?.recordingStatus, 'enabled');
    assert.equal(stored?.joinWebUrl, online.joinWebUrl);
    assert.equal(stored?.eventId, events[0]!.id);
  });

  it('makes one meeting from a repeated request, even while the first is in flight', async () => {
    const [a, b] = await Promise.all([
      scheduler.schedule(request()),
      scheduler.schedule(request()),
    ]);
    const again = await scheduler.schedule(request());
    assert.equal(h.sim.state.events.size, 1);
    assert.equal(await store.db.collection('meetings').countDocuments(), 1);
    assert.equal(a.meeting._id, b.meeting._id);
    assert.equal(again.created, false);
    assert.equal(again.meeting.recordingStatus, 'enabled');
  });

  it('overrides and audits every attempt to turn recording off', async () => {
    const r = await scheduler.schedule(
      request({
        requestedRecording: {
          recordAutomatically: false,
          allowTranscription: false,
          freeText: '--no-record',
        },
        source: 'form',
      }),
    );
    assert.equal(r.meeting.recordingStatus, 'enabled');
    assert.equal(
      h.sim.state.meetings.get(r.meeting.onlineMeetingId!)!.recordAutomatically,
      true,
      'recording stays on',
    );
    assert.deepEqual(
      r.overrides.map((o) => o.field),
      ['recordAutomatically', 'allowTranscription', 'text'],
    );
    const audit = await store.audit.list({
      meetingId: r.meeting._id,
      action: 'recording.override',
    });
    assert.deepEqual(audit.map((e) => e.details.field).sort(), [
      'allowTranscription',
      'recordAutomatically',
      'text',
    ]);
    assert.ok(
      audit.every(
        (e) =>
          e.actor.id === ORGANIZER &&
          e.details.source === 'form' &&
          e.at.getTime() === NOW.getTime(),
      ),
    );
    assert.equal(logs().filter((l) => l.includes('recording is mandatory')).length, 3);
  });

  it('ends in failed_policy with a clear reason when the access policy is missing, and resumes once it exists', async () => {
    h.sim.state.tenant.apps[0]!.accessPolicyUsers = [];
    const r = await scheduler.schedule(request());
    assert.equal(r.meeting.recordingStatus, 'failed_policy');
    assert.match(r.meeting.failureReason!, /application access policy/);
    assert.equal((await store.meetings.get(r.meeting._id))?.recordingStatus, 'failed_policy');
    h.sim.state.tenant.apps[0]!.accessPolicyUsers = [ORGANIZER];
    const retried = await scheduler.schedule(request());
    assert.equal(retried.meeting.recordingStatus, 'enabled');
    assert.equal(h.sim.state.events.size, 1, 'the event was not created twice');
    assert.equal((await store.meetings.get(r.meeting._id))?.failureReason, undefined);
  });

  it('ends in failed_permission when a Graph permission is missing', async () => {
    h.sim.state.tenant.apps[0]!.roles = ['Calendars.ReadWrite', 'OnlineMeetings.Read.All'];
    const r = await scheduler.schedule(request());
    assert.equal(r.meeting.recordingStatus, 'failed_permission');
    assert.match(r.meeting.failureReason!, /OnlineMeetings\.ReadWrite\.All/);
  });

  it('retries through Graph throttling and still schedules exactly once', async () => {
    h.sim.injectFault({
      method: 'POST',
      path: '/events',
      status: 429,
      retryAfterSeconds: 0,
      count: 5,
    });
    h.sim.injectFault({
      method: 'PATCH',
      path: '/onlineMeetings/',
      status: 503,
      retryAfterSeconds: 0,
      count: 1,
    });
    const r = await scheduler.schedule(request());
    assert.equal(r.meeting.recordingStatus, 'enabled');
    assert.equal(h.sim.state.events.size, 1);
    const posts = h.sim.requests
      .filter((q) => q.method === 'POST' && q.path.endsWith('/events'))
      .map((q) => q.status);
    assert.deepEqual(posts, [429, 429, 429, 429, 429, 201]);
  });

  it('turns recording back on when it was switched off outside the app, and audits it', async () => {
    const { meeting } = await scheduler.schedule(request());
    const stored = (await store.meetings.get(meeting._id))!;
    assert.deepEqual(await scheduler.reenforce(stored), [], 'nothing to do while it is on');
    // Someone edits the meeting options in Teams: recording and transcription off.
    const online = h.sim.state.meetings.get(stored.onlineMeetingId!)!;
    online.recordAutomatically = false;
    online.allowTranscription = false;
    const corrected = await scheduler.reenforce(stored);
    assert.deepEqual(
      corrected.map((c) => c.field),
      ['recordAutomatically', 'allowTranscription'],
    );
    assert.equal(online.recordAutomatically, true);
    assert.equal(online.allowTranscription, true);
    const audit = await store.audit.list({ action: 'recording.override' });
    assert.deepEqual(audit.map((e) => [e.meetingId, e.details.field, e.details.source]).sort(), [
      [meeting._id, 'allowTranscription', 'external-edit'],
      [meeting._id, 'recordAutomatically', 'external-edit'],
    ]);
    assert.ok(logs().some((l) => /turned off outside the app/.test(l)));
  });

  it('formats event times as wall-clock time in the class zone', () => {
    assert.equal(
      wallClock(new Date('2030-07-01T08:00:00Z'), 'Europe/Berlin'),
      '2030-07-01T10:00:00',
    );
    assert.equal(wallClock(new Date('2030-07-01T08:00:00Z'), 'UTC'), '2030-07-01T08:00:00');
  });
});
