import assert from 'node:assert/strict';
import { LEARNER, ORGANIZER } from '../support/graph.js';
import { startTestMongo, type TestMongo } from '../support/mongo.js';
import { CHANNEL, OUTSIDER } from '../support/sync.js';
import { OTHER_CHANNEL, startTabWorld, type TabWorld } from '../support/tab.js';

const q = (params: Record<string, string>) => `?${new URLSearchParams(params)}`;

/**
 * The tab API over HTTP: SSO tokens from the simulator (as the Teams client gets them), checked
 * against its JWKS; membership through Graph; the list, search, transcripts and links.
 */
describe('tab API', function () {
  this.timeout(60_000);
  let mongo: TestMongo;
  let t: TabWorld;

  before(async () => {
    mongo = await startTestMongo();
    t = await startTabWorld(mongo);
  });
  after(async () => {
    await t?.w.stop();
    await mongo.stop();
  });

  const list = (token: string | undefined, params: Record<string, string> = {}) =>
    t.api(`/api/tab/recordings${q({ channelId: CHANNEL, ...params })}`, token);

  describe('authentication: every refusal is a 401 naming the problem', () => {
    it('refuses a call without a token, with a Bearer challenge', async () => {
      const r = await list(undefined);
      assert.equal(r.status, 401);
      assert.equal(r.headers.get('www-authenticate'), 'Bearer error="invalid_token"');
      assert.equal(r.json.error.code, 'UNAUTHORIZED');
    });

    it('refuses a token that is not a JWT', async () => {
      assert.equal((await list('not-a-token')).status, 401);
      assert.equal((await list('a.b.c')).status, 401);
    });

    it('refuses an expired token', async () => {
      const issuedAt = new Date(t.w.now().getTime() - 3 * 3600_000).toISOString();
      const r = await list(await t.token(LEARNER, { issuedAt, lifetimeSeconds: 3600 }));
      assert.equal(r.status, 401);
      assert.match(r.json.error.message, /expired/);
    });

    it('refuses a token for another audience (another app)', async () => {
      const v2 = await t.token(LEARNER, { audience: '99999999-aaaa-4bbb-8ccc-000000000009' });
      assert.equal((await list(v2)).status, 401);
      const v1 = await t.token(LEARNER, {
        version: '1.0',
        audience: 'api://elsewhere.example/99999999-aaaa-4bbb-8ccc-000000000009',
      });
      const r = await list(v1);
      assert.equal(r.status, 401);
      assert.match(r.json.error.message, /not issued for this app/);
    });

    it('refuses a token of another tenant', async () => {
      const r = await list(
        await t.token(LEARNER, { tenantId: 'f0f0f0f0-1111-4222-8333-444455556666' }),
      );
      assert.equal(r.status, 401);
      assert.match(r.json.error.message, /another organization/);
    });

    it('refuses a token whose signature was altered', async () => {
      const good = await t.token(LEARNER);
      const [h, p, s] = good.split('.');
      const flipped = `${s!.slice(0, 10)}${s![10] === 'A' ? 'B' : 'A'}${s!.slice(11)}`;
      const r = await list(`${h}.${p}.${flipped}`);
      assert.equal(r.status, 401);
      assert.match(r.json.error.message, /signature/);
      // A payload swapped under a valid signature (another user's oid) fails the same way.
      const other = (await t.token(ORGANIZER)).split('.')[1];
      assert.equal((await list(`${h}.${other}.${s}`)).status, 401);
    });

    it('refuses a token without the access_as_user scope', async () => {
      const r = await list(await t.token(LEARNER, { scope: 'User.Read' }));
      assert.equal(r.status, 401);
      assert.match(r.json.error.message, /access_as_user/);
    });

    it('accepts both the v2 (client id) and the v1 (application ID URI) audience', async () => {
      assert.equal((await list(await t.token(LEARNER))).status, 200);
      const appIdUri = `api://${new URL(t.url).host}/${(await import('../support/graph.js')).APP_ID}`;
      const v1 = await t.token(LEARNER, { version: '1.0', audience: appIdUri });
      assert.equal((await list(v1)).status, 200);
    });
  });

  describe('authorization: members of the class team only', () => {
    it('lists the class for a learner, without the instructor fields', async () => {
      const r = await list(await t.token(LEARNER));
      assert.equal(r.status, 200);
      assert.equal(r.json.items.length, 1);
      const [row] = r.json.items;
      assert.equal(row.id, t.recording._id);
      assert.equal(row.title, 'Biology 101 – Week 3');
      assert.equal(row.hasTranscript, true);
      assert.equal(row.durationSeconds, 3600, 'the recording lasts the scheduled hour');
      assert.equal(row.stats, undefined);
    });

    it('gives the team owner (instructor) counters and the class meetings with status', async () => {
      const token = await t.token(ORGANIZER);
      const r = await list(token);
      assert.deepEqual(Object.keys(r.json.items[0].stats).sort(), ['card', 'downloads', 'views']);
      const ctx = await t.api(`/api/tab/context${q({ channelId: CHANNEL })}`, token);
      assert.equal(ctx.status, 200);
      assert.equal(ctx.json.role, 'instructor');
      assert.equal(ctx.json.class.teamName, 'Biology 101');
      assert.equal(ctx.json.meetings[0].recordingStatus, 'enabled');
      const learner = await t.api(
        `/api/tab/context${q({ channelId: CHANNEL })}`,
        await t.token(LEARNER),
      );
      assert.equal(learner.json.role, 'learner');
      assert.equal(learner.json.meetings, undefined);
    });

    it("refuses a learner another class's list, recording, transcript and links: 403", async () => {
      const token = await t.token(LEARNER);
      assert.equal((await list(token, { channelId: OTHER_CHANNEL })).status, 403);
      const other = 'chemistry-recording-1';
      const links = await t.api(`/api/tab/links${q({ recordingId: other })}`, token, {
        method: 'POST',
      });
      assert.equal(links.status, 403);
      assert.match(links.json.error.message, /not a member of this class team/);
      assert.equal(
        (await t.api(`/api/tab/transcript${q({ recordingId: other })}`, token)).status,
        403,
      );
      // A user of the tenant who is in no team of this class: 403 on the class too.
      assert.equal((await list(await t.token(OUTSIDER))).status, 403);
    });

    it('answers 404 for an unknown class or recording, 400 for a bad query', async () => {
      const token = await t.token(LEARNER);
      assert.equal((await list(token, { channelId: '19:nowhere@thread.tacv2' })).status, 404);
      assert.equal(
        (await t.api(`/api/tab/links${q({ recordingId: 'nope' })}`, token, { method: 'POST' }))
          .status,
        404,
      );
      const bad = await list(token, { limit: '500' });
      assert.equal(bad.status, 400);
      assert.match(bad.json.error.message, /limit/);
      assert.equal((await list(token, { cursor: 'garbage' })).status, 400);
      assert.equal((await t.api('/api/tab/recordings', token)).status, 400);
    });
  });

  describe('list, search and transcripts', () => {
    it('searches titles and transcript text, and filters by date', async () => {
      const token = await t.token(LEARNER);
      const ids = async (params: Record<string, string>) =>
        (await list(token, params)).json.items.map((r: { id: string }) => r.id);
      assert.deepEqual(await ids({ q: 'week 3' }), [t.recording._id]);
      assert.deepEqual(await ids({ q: 'HEMOLYSIS' }), [t.recording._id], 'transcript text');
      assert.deepEqual(await ids({ q: 'photosynthesis' }), []);
      const at = t.recording.createdDateTime.getTime();
      assert.deepEqual(
        await ids({
          from: new Date(at - 3600_000).toISOString(),
          to: new Date(at + 3600_000).toISOString(),
        }),
        [t.recording._id],
      );
      assert.deepEqual(await ids({ from: new Date(at + 60_000).toISOString() }), []);
    });

    it('pages newest first with a cursor', async () => {
      const now = t.w.now();
      for (let i = 1; i <= 3; i++)
        await t.w.store.recordings.upsert(
          {
            _id: `older-${i}`,
            meetingId: `older-meeting-${i}`,
            onlineMeetingId: `older-online-${i}`,
            organizerId: ORGANIZER,
            conversationId: CHANNEL,
            title: `Older class ${i}`,
            createdDateTime: new Date(t.recording.createdDateTime.getTime() - i * 86_400_000),
            contentUrl: '',
          },
          now,
        );
      const token = await t.token(LEARNER);
      const seen: string[] = [];
      let cursor: string | undefined;
      do {
        const r = await list(token, { limit: '2', ...(cursor ? { cursor } : {}) });
        assert.equal(r.status, 200);
        seen.push(...r.json.items.map((x: { id: string }) => x.id));
        cursor = r.json.next;
      } while (cursor);
      assert.deepEqual(seen, [t.recording._id, 'older-1', 'older-2', 'older-3']);
    });

    it('returns the transcript as cues with speakers and times', async () => {
      const r = await t.api(
        `/api/tab/transcript${q({ recordingId: t.recording._id })}`,
        await t.token(LEARNER),
      );
      assert.equal(r.status, 200);
      assert.equal(r.json.cues.length, 10);
      assert.deepEqual(r.json.cues[0], {
        start: 4,
        end: 9.5,
        speaker: 'Ina Organizer',
        text: "Good morning everyone, let us get started with today's class.",
      });
    });
  });
});
