import assert from 'node:assert/strict';
import { classroomBotRoutes } from '../../bot/index.js';
import { loadConfig } from '../../src/config/index.js';
import { createApp, type App } from '../../src/server/index.js';
import { channelMessage, startConnector, type RosterMember } from '../support/connector.js';
import { graphEnv, LEARNER, ORGANIZER, startSim, type SimHandle } from '../support/graph.js';
import { silentLogger } from '../support/logger.js';
import { eventually, startTestMongo, uniqueDbName, type TestMongo } from '../support/mongo.js';

const NOW = new Date('2030-03-01T12:00:00Z');
const CHANNEL = '19:biology@thread.tacv2';
const TEAM_GROUP = '7d1c0b8e-2f43-4c0e-9a8b-1f2e3d4c5b6a';
const INSTRUCTORS = '3e9a7c1d-5b2f-4e8a-b1c3-9d8e7f6a5b4c';
const OTHER_INSTRUCTOR = '22222222-aaaa-4bbb-8ccc-000000000009';
const roster: RosterMember[] = [
  { id: '29:ina', name: 'Ina Organizer', aadObjectId: ORGANIZER, email: 'ina@test.example' },
  { id: '29:leo', name: 'Leo Learner', aadObjectId: LEARNER, email: 'leo@test.example' },
];

/**
 * The bot over its real HTTP endpoint: activities in as JSON, replies out to a Bot Connector
 * stand-in, Graph calls to the simulator, state in MongoDB.
 */
describe('bot: POST /api/messages', function () {
  this.timeout(30_000);
  let h: SimHandle;
  let mongo: TestMongo;
  let connector: Awaited<ReturnType<typeof startConnector>>;
  let app: App;
  let base: string;
  let seq = 0;

  before(async () => {
    mongo = await startTestMongo();
  });
  after(async () => {
    await mongo.stop();
  });
  beforeEach(async () => {
    h = await startSim({ startTime: NOW });
    // The class team: Ina owns it, Leo is a learner in it.
    h.sim.state.tenant.teams = [
      {
        id: TEAM_GROUP,
        displayName: 'Biology 101',
        owners: [ORGANIZER],
        members: [ORGANIZER, LEARNER],
        channels: [{ id: CHANNEL, displayName: 'General' }],
      },
    ];
    h.sim.state.tenant.groups = [
      { id: INSTRUCTORS, displayName: 'Instructors', members: [OTHER_INSTRUCTOR] },
    ];
    h.sim.state.tenant.users.push({
      id: OTHER_INSTRUCTOR,
      displayName: 'Omar Teacher',
      userPrincipalName: 'omar@test.example',
      mail: 'omar@test.example',
    });
    h.sim.state.tenant.apps[0]!.roles.push('TeamMember.Read.All', 'GroupMember.Read.All');
    h.sim.state.tenant.apps[0]!.accessPolicyUsers.push(OTHER_INSTRUCTOR);
    connector = await startConnector(roster, {
      'team-1': { name: 'Biology 101', aadGroupId: TEAM_GROUP },
    });
  });
  afterEach(async () => {
    await app?.stop();
    await connector.close();
    await h.stop();
  });

  async function startBotApp(extra: Record<string, string> = {}): Promise<void> {
    const config = loadConfig({
      MONGODB_URI: mongo.uri,
      MONGODB_DB: uniqueDbName('bot'),
      PORT: '0',
      HOST: '127.0.0.1',
      DEFAULT_TIME_ZONE: 'Europe/Berlin',
      ...graphEnv(h.sim),
      ...extra,
    });
    const logger = silentLogger();
    app = createApp({
      config,
      logger,
      routes: [classroomBotRoutes(config, { now: () => NOW, retryDelayMs: 1 })],
    });
    base = (await app.start()).url;
  }

  function message(text: string, overrides: Record<string, unknown> = {}) {
    return channelMessage(
      text,
      {
        id: `act-${++seq}`,
        serviceUrl: connector.serviceUrl,
        tenantId: h.sim.state.tenant.id,
        timestamp: NOW,
        channelId: CHANNEL,
        teamGroupId: TEAM_GROUP,
      },
      overrides,
    );
  }

  const post = (
    body: unknown,
    headers: Record<string, string> = { 'content-type': 'application/json' },
  ) =>
    fetch(`${base}/api/messages`, {
      method: 'POST',
      headers,
      body: typeof body === 'string' ? body : JSON.stringify(body),
    });

  it('answers help, and remembers the conversation for later posts', async () => {
    await startBotApp();
    const res = await post(message('help'));
    assert.equal(res.status, 200);
    assert.match(connector.texts()[0]!, /^Here is what I can do:/);
    assert.match(connector.texts()[0]!, /schedule "Title"/);
    const stored = await app.store.conversations.get(CHANNEL);
    assert.equal(stored?.kind, 'channel');
    assert.equal(stored?.teamId, 'team-1');
    assert.equal(stored?.serviceUrl, connector.serviceUrl);
  });

  it('schedules a class by text: event with the class as attendees, recording on, confirmation', async () => {
    await startBotApp();
    await post(message('schedule "Biology 101 – Week 3" tomorrow 10:00 for 60 min'));
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
    const online = h.sim.state.meetings.get(events[0]!.onlineMeetingId!)!;
    assert.equal(online.recordAutomatically, true);
    assert.ok(
      connector.activities.some((a) => a.activity.type === 'typing'),
      'typing indicator while Graph works',
    );
    assert.match(
      connector.texts().at(-1)!,
      /^Scheduled \*\*Biology 101 – Week 3\*\* for Sat, 2 Mar 2030, 10:00 .*It will be recorded automatically/s,
    );
    const [meeting] = await app.store.meetings.listByClass(CHANNEL);
    assert.equal(meeting?.recordingStatus, 'enabled');
  });

  it('makes one meeting from a duplicate activity', async () => {
    await startBotApp();
    const activity = message('schedule "Lab" tomorrow 14:00');
    await post(activity);
    await post(activity);
    assert.equal(h.sim.state.events.size, 1);
    assert.equal(await app.store.db.collection('meetings').countDocuments(), 1);
  });

  it('overrides a request to turn recording off, says so, and audits it', async () => {
    await startBotApp();
    await post(message('schedule "Private tutoring" tomorrow 10:00 --no-record'));
    assert.match(
      connector.texts().at(-1)!,
      /Recording is mandatory for class meetings, so I kept it on/,
    );
    const online = [...h.sim.state.meetings.values()][0]!;
    assert.equal(online.recordAutomatically, true);
    const audit = await app.store.audit.list({ action: 'recording.override' });
    assert.equal(audit.length, 1);
    assert.equal(audit[0]!.details.requested, '--no-record');
  });

  it('tells the instructor plainly when the access policy is missing', async () => {
    h.sim.state.tenant.apps[0]!.accessPolicyUsers = [];
    await startBotApp();
    await post(message('schedule "Chemistry" tomorrow 10:00'));
    assert.match(
      connector.texts().at(-1)!,
      /^I couldn't finish scheduling \*\*Chemistry\*\*: .*application access policy/s,
    );
    const [meeting] = await app.store.meetings.listByClass(CHANNEL);
    assert.equal(meeting?.recordingStatus, 'failed_policy');
  });

  it('answers text it cannot parse with help and an example', async () => {
    await startBotApp();
    await post(message('schedule "Biology" whenever'));
    assert.match(
      connector.texts().at(-1)!,
      /couldn't find a date and time.*For example: schedule "Biology 101/s,
    );
    await post(message('hello there'));
    assert.match(connector.texts().at(-1)!, /^I didn't catch that\. Here is what I can do/);
  });

  it('lists upcoming meetings with their recording status', async () => {
    await startBotApp();
    await post(message('schedule "Physics" tomorrow 10:00'));
    await post(message('list'));
    assert.match(
      connector.texts().at(-1)!,
      /Your upcoming class meetings:\n1\. \*\*Physics\*\*, Sat, 2 Mar 2030, 10:00 .*: recording on/,
    );
  });

  it('refuses malformed and mistyped requests at the edge', async () => {
    await startBotApp();
    assert.equal((await post('not json')).status, 400);
    assert.equal((await post({ type: 'message' })).status, 400);
    assert.equal((await post(message('help'), { 'content-type': 'text/plain' })).status, 415);
    assert.equal(connector.activities.length, 0);
  });

  it('requires a Bot Framework token when bot credentials are configured', async () => {
    await startBotApp({
      BOT_ID: '5a0f3a9e-7f7e-4e3c-9a51-9f1c2b3d4e5f',
      SECRET_BOT_PASSWORD: 'bot-secret',
    });
    const res = await post(message('help'));
    assert.equal(res.status, 401);
    const forged = await post(message('help'), {
      'content-type': 'application/json',
      authorization: 'Bearer not.a.jwt',
    });
    assert.equal(forged.status, 401);
    assert.ok(await eventually(async () => connector.activities.length === 0, 100));
  });

  const cards = () =>
    connector.activities
      .filter((a) => Array.isArray(a.activity.attachments))
      .map((a) => ({
        conversationId: a.conversationId,
        card: (a.activity.attachments as { content: { body: { text?: string }[] } }[])[0]!.content,
      }));

  it('posts the recording-consent notice to the class when a meeting is scheduled, once, and records it', async () => {
    await startBotApp({
      CONSENT_NOTICE_TEXT: 'Riverside records every class. Joining means you agree.',
    });
    const activity = message('schedule "Biology" tomorrow 10:00');
    await post(activity);
    await post(activity);
    assert.equal(cards().length, 1, 'one notice, even for a duplicate activity');
    assert.equal(cards()[0]!.conversationId, CHANNEL);
    assert.equal(cards()[0]!.card.body[0]!.text, 'Recording notice: this class will be recorded');
    assert.equal(
      cards()[0]!.card.body[2]!.text,
      'Riverside records every class. Joining means you agree.',
    );
    const [meeting] = await app.store.meetings.listByClass(CHANNEL);
    const notices = await app.store.notices.listByMeeting(meeting!._id);
    assert.deepEqual(
      notices.map((n) => [n.occasion, n.status, n.conversationId]),
      [['scheduled', 'sent', CHANNEL]],
    );
    assert.ok(notices[0]!.activityId, 'the posted activity id is kept');
  });

  it('repeats the notice in the meeting chat when Teams says the meeting started', async () => {
    await startBotApp();
    await post(message('schedule "Biology" tomorrow 10:00'));
    const [meeting] = await app.store.meetings.listByClass(CHANNEL);
    const meetingChat = '19:meeting_abc@thread.v2';
    const start = {
      type: 'event',
      name: 'application/vnd.microsoft.meetingStart',
      id: 'evt-1',
      channelId: 'msteams',
      serviceUrl: connector.serviceUrl,
      from: { id: '29:system' },
      recipient: { id: '28:bot' },
      conversation: {
        id: meetingChat,
        conversationType: 'groupChat',
        tenantId: h.sim.state.tenant.id,
      },
      channelData: { tenant: { id: h.sim.state.tenant.id }, meeting: { id: 'MCMx' } },
      value: {
        Id: 'MCMx',
        JoinUrl: meeting!.joinWebUrl,
        Title: 'Biology',
        MeetingType: 'Scheduled',
        StartTime: '2030-03-02T09:00:00Z',
      },
    };
    assert.equal((await post(start)).status, 200);
    await post(start);
    const inChat = cards().filter((c) => c.conversationId === meetingChat);
    assert.equal(inChat.length, 1);
    assert.equal(inChat[0]!.card.body[0]!.text, 'This meeting is being recorded');
    const notices = await app.store.notices.listByMeeting(meeting!._id);
    assert.deepEqual(notices.map((n) => n.occasion).sort(), ['scheduled', 'started']);
    const other = await post({
      ...start,
      id: 'evt-2',
      value: { ...start.value, JoinUrl: 'https://teams.microsoft.com/l/meetup-join/unknown' },
    });
    assert.equal(other.status, 200);
    assert.equal(
      cards().filter((c) => c.conversationId === meetingChat).length,
      1,
      'meetings the app did not schedule get nothing',
    );
  });

  it('cancels a meeting by title or number: the event goes, the record and audit stay', async () => {
    await startBotApp();
    await post(message('schedule "Physics" tomorrow 10:00'));
    await post(message('schedule "Physics lab" tomorrow 14:00'));
    await post(message('cancel Phys'));
    assert.match(connector.texts().at(-1)!, /^More than one meeting matches/);
    await post(message('cancel "Physics lab"'));
    assert.match(connector.texts().at(-1)!, /^Cancelled \*\*Physics lab\*\*/);
    assert.equal(h.sim.state.events.size, 1, 'the event was deleted in the calendar');
    await post(message('cancel 1'));
    assert.match(connector.texts().at(-1)!, /^Cancelled \*\*Physics\*\*/);
    assert.equal(h.sim.state.events.size, 0);
    await post(message('cancel Physics'));
    assert.match(connector.texts().at(-1)!, /no upcoming class meeting called "Physics"/);
    await post(message('list'));
    assert.match(connector.texts().at(-1)!, /^You have no upcoming class meetings/);
    assert.equal(
      await app.store.db.collection('meetings').countDocuments({ cancelledAt: { $exists: true } }),
      2,
    );
    const audit = await app.store.audit.list({ action: 'meeting.cancel' });
    assert.deepEqual(audit.map((e) => e.details.title).sort(), ['Physics', 'Physics lab']);
  });

  describe('the scheduling form', () => {
    async function openForm() {
      await post(message('schedule'));
      const sent = connector.activities.at(-1)!;
      const card = (
        sent.activity.attachments as {
          content: {
            body: { id?: string; label?: string }[];
            actions: { data: Record<string, string> }[];
          };
        }[]
      )[0]!.content;
      const replyId = `reply-${connector.activities.length}`;
      return { card, data: card.actions[0]!.data, replyId };
    }
    const submit = (replyId: string, value: Record<string, unknown>) =>
      post(message('', { replyToId: replyId, value }));
    const formCard = (i = -1) =>
      (
        connector.updates.at(i)!.activity.attachments as {
          content: { body: Record<string, unknown>[] };
        }[]
      )[0]!.content;

    it('offers the form for a bare "schedule", in the user\'s time zone', async () => {
      await startBotApp();
      const { card, data } = await openForm();
      assert.equal(data.action, 'scheduleForm');
      assert.match(data.formId!, /^[0-9a-f-]{36}$/);
      assert.equal(data.timeZone, 'Europe/Berlin');
      assert.ok(card.body.some((b) => b.label === 'Start time (Europe/Berlin)'));
    });

    it('schedules from the form once, however often it is submitted, and replaces the form', async () => {
      await startBotApp();
      const { data, replyId } = await openForm();
      const value = {
        ...data,
        title: 'Biology – lab',
        date: '2030-03-02',
        time: '10:00',
        duration: '90',
        description: 'Bring goggles',
      };
      await submit(replyId, value);
      await submit(replyId, value);
      assert.equal(h.sim.state.events.size, 1);
      const event = [...h.sim.state.events.values()][0]!;
      assert.deepEqual(event.start, { dateTime: '2030-03-02T10:00:00', timeZone: 'Europe/Berlin' });
      assert.deepEqual(event.end, { dateTime: '2030-03-02T11:30:00', timeZone: 'Europe/Berlin' });
      assert.equal(event.body.content, 'Bring goggles');
      assert.equal(connector.updates[0]!.activityId, replyId);
      assert.equal(formCard(0).body[0]!.text, 'Class meeting scheduled');
      assert.match(connector.texts().at(-1)!, /^Scheduled \*\*Biology – lab\*\*/);
    });

    it('offers the class channels the bot is in, and schedules into the picked one from a personal chat', async () => {
      await startBotApp();
      await post(message('help')); // the bot learns the class channel from a message in it
      const personal = {
        conversation: {
          id: 'a:personal-ina',
          conversationType: 'personal',
          tenantId: h.sim.state.tenant.id,
        },
        channelData: { tenant: { id: h.sim.state.tenant.id } },
      };
      await post(message('schedule', personal));
      const card = (
        connector.activities.at(-1)!.activity.attachments as {
          content: {
            body: { id?: string; choices?: { title: string; value: string }[] }[];
            actions: { data: Record<string, string> }[];
          };
        }[]
      )[0]!.content;
      const picker = card.body.find((b) => b.id === 'classChannel');
      assert.deepEqual(picker?.choices, [{ title: 'Biology 101 › General', value: CHANNEL }]);
      const replyToId = `reply-${connector.activities.length}`;
      const value = {
        ...card.actions[0]!.data,
        title: 'Field trip briefing',
        date: '2030-03-02',
        time: '09:00',
        duration: '30',
      };
      // A channel the bot does not know is refused on the form.
      await post(
        message('', { ...personal, replyToId, value: { ...value, classChannel: '19:x' } }),
      );
      assert.equal(
        formCard().body.find((b) => b.id === 'error')?.text,
        'Pick the class channel from the list.',
      );
      assert.equal(h.sim.state.events.size, 0);

      await post(
        message('', { ...personal, replyToId, value: { ...value, classChannel: CHANNEL } }),
      );
      const event = [...h.sim.state.events.values()][0]!;
      assert.deepEqual(
        event.attendees.map((a) => a.emailAddress.address),
        ['leo@test.example'],
      );
      const notice = connector.activities.find(
        (a) => a.conversationId === CHANNEL && Array.isArray(a.activity.attachments),
      );
      assert.ok(notice, 'the consent notice went to the class channel');
      assert.match(
        connector.texts().at(-1)!,
        /^I posted the recording notice in Biology 101 › General\./,
      );
      const meeting = await app.store.db.collection('meetings').findOne({});
      assert.equal(meeting?.class?.conversationId, CHANNEL);
      assert.equal(meeting?.class?.channelId, CHANNEL);
    });

    it('puts errors back on the form and keeps what the user typed', async () => {
      await startBotApp();
      const { data, replyId } = await openForm();
      await submit(replyId, {
        ...data,
        title: '',
        date: '2030-03-02',
        time: '10:00',
        duration: '60',
        description: 'kept',
      });
      let card = formCard();
      assert.equal(
        card.body.find((b) => b.id === 'error')?.text,
        'Give the class a title (up to 200 characters).',
      );
      assert.equal(card.body.find((b) => b.id === 'description')?.value, 'kept');
      assert.equal(card.body.find((b) => b.id === 'date')?.value, '2030-03-02');
      await submit(replyId, {
        ...data,
        title: 'Late',
        date: '2030-02-01',
        time: '10:00',
        duration: '60',
      });
      card = formCard();
      assert.equal(
        card.body.find((b) => b.id === 'error')?.text,
        'That time has already passed. Pick a time in the future.',
      );
      assert.equal(card.body.find((b) => b.id === 'title')?.value, 'Late');
      assert.equal(h.sim.state.events.size, 0);
    });

    it('overrides recording settings smuggled into a submission, and audits them', async () => {
      await startBotApp();
      const { data, replyId } = await openForm();
      await submit(replyId, {
        ...data,
        title: 'Quiet',
        date: '2030-03-02',
        time: '10:00',
        duration: '60',
        recordAutomatically: false,
      });
      const online = [...h.sim.state.meetings.values()][0]!;
      assert.equal(online.recordAutomatically, true);
      const audit = await app.store.audit.list({ action: 'recording.override' });
      assert.deepEqual(
        audit.map((e) => [e.details.field, e.details.source]),
        [['recordAutomatically', 'form']],
      );
    });
  });

  describe('who may schedule', () => {
    const learner = { id: '29:leo', name: 'Leo Learner', aadObjectId: LEARNER };

    it('refuses a learner politely, naming who can schedule, by text and by form', async () => {
      await startBotApp({ INSTRUCTOR_GROUP_ID: INSTRUCTORS });
      await post(message('schedule "Party" tomorrow 10:00', { from: learner }));
      assert.equal(
        connector.texts().at(-1),
        "Sorry, only the class team's owners and members of your school's instructor group can schedule class meetings. Ask one of them to schedule it, or ask your IT admin if you should be an instructor.",
      );
      const form = {
        action: 'scheduleForm',
        formId: '0b4f2c1e-9d8a-4e7b-8c6d-5a4b3c2d1e0f',
        timeZone: 'Europe/Berlin',
        title: 'Party',
        date: '2030-03-02',
        time: '10:00',
        duration: '60',
      };
      await post(message('', { from: learner, replyToId: 'reply-1', value: form }));
      assert.match(connector.texts().at(-1)!, /^Sorry, only the class team's owners/);
      assert.equal(h.sim.state.events.size, 0);
      assert.equal(await app.store.db.collection('meetings').countDocuments(), 0);
    });

    it('lets a member of the instructor group schedule from a personal chat', async () => {
      await startBotApp({ INSTRUCTOR_GROUP_ID: INSTRUCTORS });
      await post(
        message('schedule "Office hours" tomorrow 16:00', {
          from: { id: '29:omar', name: 'Omar Teacher', aadObjectId: OTHER_INSTRUCTOR },
          conversation: {
            id: 'a:personal-omar',
            conversationType: 'personal',
            tenantId: h.sim.state.tenant.id,
          },
          channelData: { tenant: { id: h.sim.state.tenant.id } },
        }),
      );
      assert.match(connector.texts().at(-1)!, /^Scheduled \*\*Office hours\*\*/);
    });

    it('only lets team owners schedule when no instructor group is configured', async () => {
      await startBotApp();
      await post(message('schedule "Owner class" tomorrow 10:00'));
      assert.match(connector.texts().at(-1)!, /^Scheduled/);
      await post(message('schedule "Not mine" tomorrow 11:00', { from: learner }));
      assert.match(connector.texts().at(-1)!, /^Sorry, only the class team's owners can schedule/);
    });

    it("asks the connector for the team's group when a channel message does not carry it", async () => {
      // Teams sends team.aadGroupId on installs and conversation updates, not on every message.
      await startBotApp();
      const channelData = { team: { id: 'team-1' }, tenant: { id: h.sim.state.tenant.id } };
      await post(message('schedule "Owner class" tomorrow 10:00', { channelData }));
      assert.match(connector.texts().at(-1)!, /^Scheduled \*\*Owner class\*\*/);
      await post(message('schedule "Not mine" tomorrow 11:00', { from: learner, channelData }));
      assert.match(connector.texts().at(-1)!, /^Sorry, only the class team's owners can schedule/);
      assert.equal(h.sim.state.events.size, 1);
    });

    it('says why when it cannot check roles (a missing Graph permission)', async () => {
      h.sim.state.tenant.apps[0]!.roles = h.sim.state.tenant.apps[0]!.roles.filter(
        (r) => r !== 'TeamMember.Read.All',
      );
      await startBotApp();
      await post(message('schedule "Biology" tomorrow 10:00'));
      assert.match(
        connector.texts().at(-1)!,
        /^I couldn't check whether you may schedule class meetings here: .*TeamMember\.Read\.All/s,
      );
      assert.equal(h.sim.state.events.size, 0);
    });
  });

  it('reports recording status and failures to admins only', async () => {
    await startBotApp({ ADMIN_GROUP_ID: INSTRUCTORS });
    await post(message('schedule "Works" tomorrow 10:00'));
    h.sim.state.tenant.apps[0]!.accessPolicyUsers = [OTHER_INSTRUCTOR];
    await post(message('schedule "Blocked" tomorrow 11:00'));
    await post(message('report'));
    assert.match(
      connector.texts().at(-1)!,
      /^Sorry, reports are only for members of the admin group/,
    );
    await post(
      message('report', {
        from: { id: '29:omar', name: 'Omar Teacher', aadObjectId: OTHER_INSTRUCTOR },
      }),
    );
    const report = connector.texts().at(-1)!;
    assert.match(report, /^\*\*Recording status, last 7 days\*\* \(2 meetings scheduled\)/);
    assert.match(report, /- recording on: 1\n/);
    assert.match(report, /- needs an access policy: 1\n/);
    assert.match(
      report,
      /\*\*Failures\*\*\n- \*\*Blocked\*\* \(.*organizer 22222222-aaaa-4bbb-8ccc-000000000001\): .*application access policy/s,
    );
  });
});
