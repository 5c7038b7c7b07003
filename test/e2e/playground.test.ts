import assert from 'node:assert/strict';
import { classroomRoutes } from '../../src/classroom.js';
import { freePort, LINK_KEY } from '../support/sync.js';
import { DEMO, demoTenant } from '../../dev/graph-sim/tenant.js';
import { loadConfig } from '../../src/config/index.js';
import { createApp, type App } from '../../src/server/index.js';
import { startSim, type SimHandle } from '../support/graph.js';
import { silentLogger } from '../support/logger.js';
import { eventually, startTestMongo, uniqueDbName, type TestMongo } from '../support/mongo.js';
import {
  cardOf,
  headingOf,
  PG,
  playgroundConfigAs,
  startPlayground,
  type Playground,
} from '../support/playground.js';

const NOW = new Date('2030-03-01T08:00:00Z');
const SECRET = 'e2e-demo-secret';
const LEARNER_EMAILS = [
  'ada@school.example',
  'ben@school.example',
  'chen@school.example',
  'dina@school.example',
  'emil@school.example',
];

/**
 * End to end, as `npm start` runs it: the Microsoft 365 Agents Playground (from npm) with the
 * repo's .m365agentsplayground.yml, the app, the Graph simulator with the demo tenant, and the
 * MongoDB-compatible server. Driven through the Playground's HTTP API; replies are read from
 * the WebSocket its web client listens on.
 */
describe('end to end: scheduling through the Agents Playground', function () {
  this.timeout(60_000);
  let mongo: TestMongo;
  let h: SimHandle;
  let app: App;
  let pg: Playground;
  let zone: string;
  let appUrl: string;

  let learnerConfig: { path: string; remove(): void };

  before(async () => {
    mongo = await startTestMongo();
    learnerConfig = playgroundConfigAs(PG.learner);
  });
  after(async () => {
    await mongo.stop();
    learnerConfig.remove();
  });
  beforeEach(async () => {
    h = await startSim({ tenant: demoTenant(SECRET), startTime: NOW });
    const port = await freePort();
    const config = loadConfig({
      MONGODB_URI: mongo.uri,
      MONGODB_DB: uniqueDbName('e2e'),
      PORT: String(port),
      PUBLIC_BASE_URL: `http://127.0.0.1:${port}`,
      SECRET_DOWNLOAD_LINK_KEY: LINK_KEY,
      HOST: '127.0.0.1',
      AAD_APP_TENANT_ID: DEMO.tenantId,
      AAD_APP_CLIENT_ID: DEMO.appClientId,
      SECRET_AAD_APP_CLIENT_SECRET: SECRET,
      AAD_APP_OAUTH_AUTHORITY_HOST: h.sim.url,
      GRAPH_BASE_URL: h.sim.url,
      GRAPH_CA_FILE: h.sim.caPath,
    });
    // The app as main.ts wires it, on the simulator's (Graph's) protocol clock.
    const logger = silentLogger();
    app = createApp({
      config,
      logger,
      routes: classroomRoutes(config, {
        logger,
        now: () => h.sim.clock.protocolNow(),
        retryDelayMs: 1,
        timing: { workerPollMs: 50, managerTickMs: 200 },
      }),
    });
    appUrl = (await app.start()).url;
    pg = await startPlayground(appUrl);
    // The Playground sends the machine's own zone with each activity; the bot schedules in it.
    const cfg = (await (await fetch(`${pg.base}/_internal/v1/config`)).json()) as {
      internalConfig: { localTimezone: string };
    };
    zone = cfg.internalConfig.localTimezone;
  });
  afterEach(async () => {
    await pg?.stop();
    await app?.stop();
    await h?.stop();
  });

  const textOf = (e: { message?: { text?: string } }) => e.message?.text ?? '';
  const replyIn = (thread: string, pattern: RegExp, from: number) =>
    pg.waitFor(
      (e) =>
        e.action === 'createMessage' &&
        e.actionConversationId === thread &&
        e.message?.from.id === PG.bot.id &&
        pattern.test(textOf(e)),
      `a reply matching ${pattern}`,
      from,
    );
  const cardIn = (thread: string, heading: RegExp, from: number, action = 'createMessage') =>
    pg.waitFor(
      (e) => e.action === action && e.actionConversationId === thread && heading.test(headingOf(e)),
      `a card headed ${heading}`,
      from,
    );

  it('schedules by text in the class channel: event with the class, recording on, consent notice', async () => {
    const { thread, mark } = await pg.say(
      PG.general,
      'schedule "Biology 101 – Week 3" tomorrow 10:00 for 60 min',
    );
    await replyIn(thread, /^Scheduled \*\*Biology 101 – Week 3\*\*/, mark);
    const notice = await cardIn(thread, /^Recording notice/, mark);
    assert.match(JSON.stringify(cardOf(notice)), /By joining the meeting, you consent/);
    assert.ok(
      pg.events.slice(mark).some((e) => e.action === 'typing'),
      'a typing indicator while Graph works',
    );

    const events = [...h.sim.state.events.values()];
    assert.equal(events.length, 1);
    assert.equal(events[0]!.subject, 'Biology 101 – Week 3');
    assert.deepEqual(events[0]!.start, { dateTime: '2030-03-02T10:00:00', timeZone: zone });
    assert.deepEqual(
      events[0]!.attendees.map((a) => a.emailAddress.address).sort(),
      LEARNER_EMAILS,
    );
    const meetings = [...h.sim.state.meetings.values()];
    assert.equal(meetings.length, 1);
    assert.equal(meetings[0]!.recordAutomatically, true);
    const stored = await app.store.db.collection('meetings').findOne({});
    assert.equal(stored?.recordingStatus, 'enabled');
    assert.equal(await app.store.db.collection('notices').countDocuments(), 1);
  });

  it('schedules by card: the form replaces itself, and a double submit makes one meeting', async () => {
    const { thread, mark } = await pg.say(PG.general, 'schedule');
    const form = await cardIn(thread, /^Schedule a class meeting/, mark);
    const card = cardOf(form);
    const picker = card.body.find((b) => b.id === 'classChannel') as
      { choices: { title: string; value: string }[]; value: string } | undefined;
    assert.equal(picker?.value, PG.general, 'the channel it was asked in is the default class');
    const value = {
      ...card.actions![0]!.data,
      title: 'Cell division lab',
      date: '2030-03-03',
      time: '14:30',
      duration: '90',
      classChannel: PG.general,
      description: 'Bring your lab coat',
    };
    const m1 = await pg.submit(thread, form.message!.messageId, value);
    await cardIn(thread, /^Class meeting scheduled/, m1, 'updateMessage');
    const m2 = await pg.submit(thread, form.message!.messageId, value);
    await cardIn(thread, /^Class meeting scheduled/, m2, 'updateMessage');

    assert.equal(h.sim.state.events.size, 1, 'a double click is one meeting');
    const event = [...h.sim.state.events.values()][0]!;
    assert.deepEqual(event.start, { dateTime: '2030-03-03T14:30:00', timeZone: zone });
    assert.deepEqual(event.end, { dateTime: '2030-03-03T16:00:00', timeZone: zone });
    assert.equal([...h.sim.state.meetings.values()][0]!.recordAutomatically, true);
    const notices = pg.botMessages(thread).filter((e) => /^Recording notice/.test(headingOf(e)));
    assert.equal(notices.length, 1, 'one consent notice');
  });

  it('keeps recording on when asked to turn it off, says so, and audits the attempt', async () => {
    const { thread, mark } = await pg.say(
      PG.general,
      'schedule "Genetics" tomorrow 11:00 for 45 min without recording',
    );
    const reply = await replyIn(thread, /^Scheduled \*\*Genetics\*\*/, mark);
    assert.match(textOf(reply), /Recording is mandatory for class meetings/);
    assert.equal([...h.sim.state.meetings.values()][0]!.recordAutomatically, true);
    const audit = await app.store.audit.list({ action: 'recording.override' });
    assert.equal(audit.length, 1);
    assert.equal(audit[0]!.actor.id, DEMO.instructorId);
  });

  it('tells the instructor when the access policy is missing, and stores failed_policy', async () => {
    h.sim.state.tenant.apps[0]!.accessPolicyUsers = [];
    const { thread, mark } = await pg.say(PG.general, 'schedule "Ecology" tomorrow 09:00');
    const reply = await replyIn(thread, /^I couldn't finish scheduling \*\*Ecology\*\*/, mark);
    assert.match(textOf(reply), /application access policy/i);
    const stored = await app.store.db.collection('meetings').findOne({ title: 'Ecology' });
    assert.equal(stored?.recordingStatus, 'failed_policy');
  });

  it('tells the instructor when a Graph permission is missing, and stores failed_permission', async () => {
    // Before the app's first token: Entra puts the granted roles into each token it issues.
    h.sim.state.tenant.apps[0]!.roles = h.sim.state.tenant.apps[0]!.roles.filter(
      (r) => r !== 'OnlineMeetings.ReadWrite.All',
    );
    const { thread, mark } = await pg.say(PG.general, 'schedule "Botany" tomorrow 13:00');
    const reply = await replyIn(thread, /^I couldn't finish scheduling \*\*Botany\*\*/, mark);
    assert.match(textOf(reply), /OnlineMeetings\.ReadWrite\.All/);
    const stored = await app.store.db.collection('meetings').findOne({ title: 'Botany' });
    assert.equal(stored?.recordingStatus, 'failed_permission');
  });

  it('retries a 429 from Graph and still schedules once', async () => {
    h.sim.injectFault({
      method: 'POST',
      path: '/events',
      status: 429,
      retryAfterSeconds: 1,
      count: 1,
    });
    const { thread, mark } = await pg.say(PG.general, 'schedule "Anatomy" tomorrow 15:00');
    await replyIn(thread, /^Scheduled \*\*Anatomy\*\*/, mark);
    assert.equal(h.sim.state.events.size, 1);
    const posts = h.sim.requests.filter((r) => r.method === 'POST' && r.path.endsWith('/events'));
    assert.deepEqual(
      posts.map((r) => r.status),
      [429, 201],
    );
  });

  it('posts the recording card in the channel when the meeting ends, and Download returns the file', async () => {
    const { thread, mark } = await pg.say(
      PG.general,
      'schedule "Biology 101 – Week 3" tomorrow 10:00 for 60 min',
    );
    await replyIn(thread, /^Scheduled/, mark);
    assert.ok(
      await eventually(async () => h.sim.state.subscriptions.size === 2, 10_000),
      'subscribed',
    );
    const meeting = [...h.sim.state.meetings.values()][0]!;
    const before = pg.events.length;
    h.sim.endMeeting(meeting);
    const card = await pg.waitFor(
      (e) => e.action === 'createMessage' && headingOf(e) === 'New class recording',
      'the recording card',
      before,
    );
    // A new post in the class channel (General), not a reply in the scheduling thread.
    const post = card.message!.postConversationId ?? card.actionConversationId;
    assert.notEqual(post, thread);
    assert.ok(post.startsWith(PG.general));
    const download = cardOf(card).actions!.find(
      (a) => (a as { verb?: string }).verb === 'downloadRecording',
    ) as { data: Record<string, unknown> };
    const response = await pg.invoke(post, card.message!.messageId, {
      action: { type: 'Action.Execute', verb: 'downloadRecording', data: download.data },
    });
    const url = (response.value as { actions: { title: string; url?: string }[] }).actions.find(
      (a) => a.title === 'Download now',
    )!.url!;
    const file = await fetch(url);
    assert.equal(file.status, 200);
    assert.equal((await file.arrayBuffer()).byteLength, h.sim.state.tenant.recordingBytes);
    assert.equal((await app.store.db.collection('recordings').findOne({}))?.downloadCount, 1);
  });

  it('refuses a learner politely and schedules nothing', async () => {
    // The Playground types as its configured current user: a second one, signed in as Ada.
    const learner = await startPlayground(appUrl, learnerConfig.path);
    try {
      const { thread, mark } = await learner.say(PG.general, 'schedule "Party" tomorrow 18:00');
      await learner.waitFor(
        (e) =>
          e.actionConversationId === thread &&
          /^Sorry, only the class team's owners can schedule class meetings\./.test(textOf(e)),
        'the refusal',
        mark,
      );
    } finally {
      await learner.stop();
    }
    assert.equal(h.sim.state.events.size, 0);
    assert.equal(await app.store.db.collection('meetings').countDocuments(), 0);
  });
});
