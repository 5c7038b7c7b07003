import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { Agent, fetch as undiciFetch } from 'undici';
import { LEARNER, ORGANIZER } from '../support/graph.js';
import { eventually, startTestMongo, type TestMongo } from '../support/mongo.js';
import { CHANNEL, OUTSIDER, startSyncWorld, type SyncWorld } from '../support/sync.js';

/**
 * Recording sync end to end: the simulator delivers change notifications to the app's webhook
 * over HTTP (with its fault injection), workers post cards to a Bot Connector stand-in, and
 * MongoDB holds every step.
 */
describe('sync: one recording card per recording', function () {
  this.timeout(60_000);
  let mongo: TestMongo;
  let w: SyncWorld;

  before(async () => {
    mongo = await startTestMongo();
  });
  after(async () => {
    await mongo.stop();
  });
  afterEach(async () => {
    await w?.stop();
  });

  async function scheduledAndSubscribed(rich = false) {
    w = await startSyncWorld(mongo, { rich });
    await w.startInstance();
    const meeting = await w.schedule();
    await w.subscribed();
    return meeting;
  }
  const settle = async () => {
    await w.sim.deliveriesSettled();
    await eventually(
      async () =>
        (await w.store.db
          .collection('inbox')
          .countDocuments({ status: { $in: ['pending', 'processing'] } })) === 0,
      15_000,
    );
  };

  it('posts one card when a class recording is notified (rich notification), with the transcript', async () => {
    const meeting = await scheduledAndSubscribed(true);
    w.endMeeting(meeting.onlineMeetingId!);
    assert.ok(await eventually(async () => w.recordingCards().length === 1, 15_000), 'a card');
    await settle();
    const [card] = w.recordingCards();
    assert.equal(card!.conversationId, CHANNEL);
    const content = (card!.activity.attachments as { content: Record<string, unknown> }[])[0]!
      .content as {
      body: { text?: string; facts?: { title: string; value: string }[] }[];
      actions: { type: string; title: string; verb?: string; url?: string }[];
    };
    assert.equal(content.body[1]!.text, 'Biology 101 – Week 3');
    const facts = Object.fromEntries(content.body[2]!.facts!.map((f) => [f.title, f.value]));
    assert.equal(facts.Duration, '1 h');
    assert.equal(facts.Organizer, 'Ina Organizer');
    assert.deepEqual(
      content.actions.map((a) => [a.type, a.title]),
      [
        ['Action.Execute', 'Download'],
        ['Action.OpenUrl', 'View'],
      ],
    );
    assert.equal(content.actions[1]!.url, meeting.joinWebUrl);
    // The transcript came in the same batch: the card says so, on the first post or in place.
    const transcriptShown = () => {
      const last = w.recordingCardUpdates().at(-1) ?? card!;
      return JSON.stringify(last.activity).includes('"value":"available"');
    };
    assert.ok(await eventually(async () => transcriptShown(), 5000), 'transcript on the card');
    assert.equal(w.recordingCards().length, 1);
    const rec = await w.store.db.collection('recordings').findOne({});
    assert.equal(rec?.card.state, 'posted');
  });

  it('posts exactly one card when every notification arrives three times', async () => {
    const meeting = await scheduledAndSubscribed();
    await w.simHttp.request('POST', '/_sim/notifications/faults', { body: { duplicate: 2 } });
    w.endMeeting(meeting.onlineMeetingId!);
    await w.sim.deliveriesSettled();
    // More copies: replay what Graph sent, as its retries do.
    const sent = w.sim.deliveries.filter((d) => d.kind === 'change' && d.status === 202);
    const copies = sent.flatMap((d) => d.body.value).length;
    assert.ok(copies >= 4, `duplicates were delivered (${copies} items)`);
    for (const d of [sent[0]!, sent[0]!]) {
      const r = await fetch(d.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(d.body),
      });
      assert.equal(r.status, 202);
    }
    await settle();
    assert.equal(w.recordingCards().length, 1);
    assert.equal(await w.store.db.collection('recordings').countDocuments(), 1);
  });

  it('finds a dropped notification with the reconciler and posts its card', async () => {
    const meeting = await scheduledAndSubscribed();
    await w.simHttp.request('POST', '/_sim/notifications/faults', { body: { drop: 2 } });
    w.endMeeting(meeting.onlineMeetingId!);
    await w.sim.deliveriesSettled();
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(w.recordingCards().length, 0, 'nothing was delivered');
    // Past the meeting's scheduled end, it counts as ended for the reconciler.
    w.sim.clock.advance(27 * 3600_000);
    const result = await w.apps[0]!.runtime.reconciler.run('test');
    assert.equal(result.recordingsFound, 1);
    assert.ok(await eventually(async () => w.recordingCards().length === 1, 10_000));
    await settle();
    assert.equal(w.recordingCards().length, 1);
    const last = await w.store.stats.get('reconcile.last');
    assert.equal(last?.value?.reason, 'test');
  });

  it('updates the card in place when the transcript arrives after the recording', async () => {
    const meeting = await scheduledAndSubscribed();
    // Drop the transcript's notification only: the recording's goes first.
    const sim = w.sim.state.meetings.get(meeting.onlineMeetingId!)!;
    sim.allowTranscription = false;
    w.endMeeting(meeting.onlineMeetingId!);
    assert.ok(await eventually(async () => w.recordingCards().length === 1, 10_000));
    await settle();
    assert.equal(w.recordingCardUpdates().length, 0);
    assert.match(
      JSON.stringify(w.recordingCards()[0]!.activity),
      /"title":"Transcript","value":"not yet"/,
    );
    // The transcript appears later (Graph makes it once processing finishes) and is notified.
    const t = w.sim.state.newArtifact('transcript', sim, w.sim.clock.now(), 0);
    const sub = [...w.sim.state.subscriptions.values()].find((s) =>
      s.resource.endsWith('getAllTranscripts'),
    )!;
    const body = {
      value: [
        {
          subscriptionId: sub.id,
          changeType: 'created',
          clientState: sub.clientState,
          tenantId: sub.tenantId,
          resource: `communications/onlineMeetings('${sim.id}')/transcripts('${t.id}')`,
          resourceData: { id: t.id, '@odata.type': '#Microsoft.Graph.callTranscript' },
        },
      ],
    };
    const r = await fetch(sub.notificationUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    assert.equal(r.status, 202);
    assert.ok(await eventually(async () => w.recordingCardUpdates().length === 1, 10_000));
    const update = w.recordingCardUpdates()[0]!;
    assert.equal(
      update.activityId,
      (await w.store.db.collection('recordings').findOne({}))?.card.activityId,
    );
    assert.match(JSON.stringify(update.activity), /"title":"Transcript","value":"available"/);
    assert.equal(w.recordingCards().length, 1, 'no second card');
  });

  it('retries a 429 while reading the recording, and still posts one card', async () => {
    const meeting = await scheduledAndSubscribed();
    w.sim.injectFault({
      method: 'GET',
      path: '/recordings/',
      status: 429,
      retryAfterSeconds: 0,
      count: 6,
    });
    w.endMeeting(meeting.onlineMeetingId!);
    assert.ok(await eventually(async () => w.recordingCards().length === 1, 20_000));
    await settle();
    const gets = w.sim.requests.filter(
      (r) => r.method === 'GET' && /\/recordings\/[^/]+$/.test(r.path),
    );
    assert.ok(gets.filter((r) => r.status === 429).length >= 4, 'throttled first');
    assert.equal(gets.at(-1)!.status, 200);
    assert.equal(w.recordingCards().length, 1);
  });

  it('ignores recordings of meetings the app did not schedule, without a card', async () => {
    await scheduledAndSubscribed();
    // A meeting the organizer made elsewhere (not through the app) is recorded too.
    const token = await w.simHttp.token();
    const other = await w.simHttp.classMeeting(token, 'Staff meeting');
    w.sim.state.meetings.get(other.id)!.recordAutomatically = true;
    w.endMeeting(other.id);
    await settle();
    assert.equal(w.recordingCards().length, 0);
    const item = await w.store.db.collection('inbox').findOne({ 'payload.artifact': 'recording' });
    assert.equal(item?.status, 'ignored');
    assert.equal(item?.lastError, 'ignored, unknown meeting');
  });

  it('dead-letters a card the bot can no longer post (removed from the team) and reports it', async () => {
    const ADMINS = '5a0f1d2c-3b4e-4f60-8a7b-9c8d7e6f5a4b';
    w = await startSyncWorld(mongo, {
      tenant: { groups: [{ id: ADMINS, displayName: 'Admins', members: [ORGANIZER] }] },
      env: { ADMIN_GROUP_ID: ADMINS },
    });
    await w.startInstance();
    const meeting = await w.schedule();
    await w.subscribed();
    w.connector.faults.push(403);
    w.endMeeting(meeting.onlineMeetingId!);
    await settle();
    assert.equal(
      w.recordingCards().length,
      0,
      JSON.stringify(
        w.connector.activities.map((a) => [
          a.activity.type,
          String(a.activity.text).slice(0, 40),
          JSON.stringify(a.activity.attachments ?? '').slice(0, 80),
        ]),
      ),
    );
    const rec = await w.store.db.collection('recordings').findOne({});
    assert.equal(rec?.card.state, 'failed');
    assert.match(rec?.card.error, /HTTP 403/);
    const item = await w.store.db.collection('inbox').findOne({ 'payload.artifact': 'recording' });
    assert.equal(item?.status, 'failed');
    // The admin report shows it.
    await w.postActivity(w.apps[0]!.url, w.activity('report'));
    const report = w.connector.texts().at(-1)!;
    assert.match(report, /\*\*Recording cards\*\*/);
    assert.match(report, /- not posted: \*\*Biology 101 – Week 3\*\* .*HTTP 403/);
  });

  it('posts one card per recording with two app instances on one store, under a burst', async () => {
    w = await startSyncWorld(mongo);
    await w.startInstance();
    await w.startInstance();
    const meetings = [];
    for (let i = 1; i <= 6; i++)
      meetings.push(
        await w.schedule(`Class ${i}`, `tomorrow ${String(8 + i).padStart(2, '0')}:00`),
      );
    await w.subscribed();
    await w.simHttp.request('POST', '/_sim/notifications/faults', { body: { duplicate: 12 } });
    for (const m of meetings) w.endMeeting(m.onlineMeetingId!);
    await settle();
    const cards = w.recordingCards();
    assert.equal(cards.length, 6);
    const ids = new Set(
      cards.map((c) => JSON.stringify(c.activity).match(/"recordingId":"([^"]+)"/)![1]),
    );
    assert.equal(ids.size, 6, 'one card per recording');
  });

  it('streams a download link to a member, refuses a non-member and an expired link', async () => {
    const meeting = await scheduledAndSubscribed();
    w.endMeeting(meeting.onlineMeetingId!);
    assert.ok(await eventually(async () => w.recordingCards().length === 1, 10_000));
    await settle();
    const rec = (await w.store.db.collection('recordings').findOne({}))!;
    const invoke = (from: Record<string, unknown>, conversationId = CHANNEL) =>
      w.postActivity(
        w.apps[0]!.url,
        w.activity('', {
          type: 'invoke',
          name: 'adaptiveCard/action',
          from,
          conversation: {
            id: conversationId,
            conversationType: 'channel',
            tenantId: w.sim.state.tenant.id,
          },
          value: {
            action: {
              type: 'Action.Execute',
              verb: 'downloadRecording',
              data: { recordingId: rec._id },
            },
          },
        }),
      );
    // A member (the learner) gets a card with a link, shown to them alone.
    const res = await invoke({ id: '29:leo', name: 'Leo Learner', aadObjectId: LEARNER });
    assert.equal(res.status, 200, await res.clone().text());
    const body = (await res.json()) as {
      statusCode: number;
      value: { actions: { title: string; url?: string }[] };
    };
    assert.equal(body.statusCode, 200);
    const url = body.value.actions.find((a) => a.title === 'Download now')!.url!;
    assert.match(url, /^http:\/\/127\.0\.0\.1:\d+\/api\/downloads\?link=/);
    const download = await fetch(url);
    assert.equal(download.status, 200, await download.clone().text());
    assert.equal(download.headers.get('accept-ranges'), 'bytes');
    assert.match(
      download.headers.get('content-disposition')!,
      /^attachment; filename="Biology 101 _ Week 3\.mp4"/,
    );
    const bytes = Buffer.from(await download.arrayBuffer());
    const dispatcher = new Agent({ connect: { ca: w.sim.ca } });
    const direct = await undiciFetch(
      `${w.sim.url}/v1.0/users/${ORGANIZER}/onlineMeetings/${encodeURIComponent(meeting.onlineMeetingId!)}/recordings/${encodeURIComponent(String(rec._id))}/content`,
      { headers: { authorization: `Bearer ${await w.simHttp.token()}` }, dispatcher },
    );
    const expected = Buffer.from(await direct.arrayBuffer());
    await dispatcher.close();
    assert.equal(bytes.length, w.sim.state.tenant.recordingBytes);
    assert.equal(
      createHash('sha256').update(bytes).digest('hex'),
      createHash('sha256').update(expected).digest('hex'),
    );
    assert.ok(
      await eventually(
        async () => (await w.store.db.collection('recordings').findOne({}))?.downloadCount === 1,
        5000,
      ),
      'counted once',
    );
    const audit = await w.store.audit.list({ action: 'recording.download' });
    assert.equal(audit.length, 1);
    assert.equal(audit[0]!.actor.id, LEARNER);
    assert.equal(audit[0]!.details.bytes, bytes.length);

    // Someone outside the class: no link.
    const outsider = await invoke({ id: '29:out', name: 'Olga Outsider', aadObjectId: OUTSIDER });
    const refused = (await outsider.json()) as { statusCode: number };
    assert.equal(refused.statusCode, 403);
    // The same member asking from another conversation (not the class): no link either.
    const elsewhere = await invoke(
      { id: '29:leo', name: 'Leo Learner', aadObjectId: LEARNER },
      '19:other@thread.tacv2',
    );
    assert.equal(((await elsewhere.json()) as { statusCode: number }).statusCode, 403);

    // An expired link: 403.
    w.sim.clock.advance(10 * 60_000);
    const late = await fetch(url);
    assert.equal(late.status, 403);
    assert.match(((await late.json()) as { error: { message: string } }).error.message, /expired/);
    // A tampered link: 403.
    const forged = await fetch(url.replace(/.$/, (c) => (c === 'A' ? 'B' : 'A')));
    assert.equal(forged.status, 403);
  });
});
