import assert from 'node:assert/strict';
import { MongoClient, ObjectId } from 'mongodb';
import { startMongoServer } from '../../dev/mongo/index.js';
import { StoreUnavailableError } from '../../src/errors/index.js';
import { INDEXES, createStore, type Meeting, type Store } from '../../src/store/index.js';
import { silentLogger } from '../support/logger.js';
import { eventually, startTestMongo, uniqueDbName, type TestMongo } from '../support/mongo.js';

/**
 * The store contract: every repository operation, against whatever MongoDB is behind
 * MONGODB_URI, or the local MongoDB-compatible server when it is unset. Nothing here may
 * lean on a behaviour of the local server that mongod does not share.
 */
// Far in the future on purpose: TTL indexes (leases, inbox) compare with the server's real
// clock, and a past T0 would let the TTL monitor delete test data mid-test.
const T0 = new Date('2200-03-02T09:00:00Z');
const LONG_AGO = new Date('2000-01-01T00:00:00Z');
const at = (minutes: number) => new Date(T0.getTime() + minutes * 60_000);

function meeting(overrides: Partial<Meeting> = {}): Meeting {
  return {
    _id: new ObjectId().toHexString(),
    requestKey: `req-${new ObjectId().toHexString()}`,
    organizerId: 'instructor-1',
    title: 'Biology 101 – Week 3',
    startDateTime: at(0),
    endDateTime: at(60),
    class: {
      conversationId: '19:class@thread.tacv2',
      teamId: 'team-1',
      channelId: '19:class@thread.tacv2',
    },
    recordingStatus: 'pending',
    createdBy: 'instructor-1',
    createdAt: T0,
    updatedAt: T0,
    ...overrides,
  };
}

describe(`store contract (${process.env.MONGODB_URI ? 'MONGODB_URI' : 'local MongoDB-compatible server'})`, function () {
  let mongo: TestMongo;
  let store: Store;
  let dbName: string;

  before(async () => {
    mongo = await startTestMongo();
  });
  after(async () => {
    await mongo.stop();
  });
  beforeEach(async () => {
    dbName = uniqueDbName('contract');
    store = createStore({
      uri: mongo.uri,
      dbName,
      logger: silentLogger(),
      serverSelectionTimeoutMs: 2000,
      heartbeatMs: 500,
    });
    await store.ensureIndexes();
  });
  afterEach(async () => {
    await store.db.dropDatabase();
    await store.close();
  });

  describe('indexes', () => {
    it('creates every declared index, unique and TTL options included', async () => {
      for (const [collection, declared] of Object.entries(INDEXES)) {
        const actual = await store.db.collection(collection).indexes();
        for (const spec of declared) {
          const found = actual.find((i) => i.name === spec.name);
          assert.ok(found, `${collection}.${spec.name} missing`);
          assert.deepEqual(found.key, spec.key);
          assert.equal(
            found.unique ?? false,
            spec.unique ?? false,
            `${collection}.${spec.name} unique`,
          );
          assert.equal(
            found.expireAfterSeconds,
            spec.expireAfterSeconds,
            `${collection}.${spec.name} TTL`,
          );
        }
      }
    });

    it('is idempotent', async () => {
      await store.ensureIndexes();
      const names = (await store.db.collection('inbox').indexes()).map((i) => i.name).sort();
      assert.deepEqual(names, [
        '_id_',
        'dedupeKey_unique',
        'expireAt_ttl',
        'status_available',
        'status_lease',
      ]);
    });
  });

  describe('meetings', () => {
    it('creates once per requestKey and returns the stored meeting on a repeat', async () => {
      const first = meeting();
      const a = await store.meetings.createIfAbsent(first);
      const b = await store.meetings.createIfAbsent({
        ...meeting(),
        requestKey: first.requestKey,
        title: 'double click',
      });
      assert.equal(a.created, true);
      assert.equal(b.created, false);
      assert.equal(b.meeting._id, first._id);
      assert.equal(b.meeting.title, first.title);
      assert.equal(
        await store.db.collection('meetings').countDocuments({ requestKey: first.requestKey }),
        1,
      );
    });

    it('keeps onlineMeetingId unique but allows many meetings without one', async () => {
      await store.meetings.createIfAbsent(meeting());
      await store.meetings.createIfAbsent(meeting());
      await store.meetings.createIfAbsent(meeting({ onlineMeetingId: 'om-1' }));
      await assert.rejects(
        store.meetings.createIfAbsent(meeting({ onlineMeetingId: 'om-1' })),
        (err: { code?: number }) => err.code === 11000,
      );
    });

    it('stores links and finds by them', async () => {
      const m = meeting();
      await store.meetings.createIfAbsent(m);
      await store.meetings.setLinks(
        m._id,
        {
          eventId: 'ev-1',
          onlineMeetingId: 'om-9',
          joinWebUrl: 'https://teams.example/l/meetup-join/1',
        },
        at(1),
      );
      assert.equal((await store.meetings.findByOnlineMeetingId('om-9'))?._id, m._id);
      assert.equal(
        (await store.meetings.findByJoinWebUrl('https://teams.example/l/meetup-join/1'))?._id,
        m._id,
      );
      const got = await store.meetings.get(m._id);
      assert.equal(got?.eventId, 'ev-1');
      assert.deepEqual(got?.updatedAt, at(1));
      assert.equal(await store.meetings.get('missing'), null);
    });

    it('records recording status with and without a failure reason', async () => {
      const m = meeting();
      await store.meetings.createIfAbsent(m);
      await store.meetings.setRecordingStatus(
        m._id,
        'failed_policy',
        at(2),
        'no application access policy',
      );
      assert.equal(
        (await store.meetings.get(m._id))?.failureReason,
        'no application access policy',
      );
      await store.meetings.setRecordingStatus(m._id, 'enabled', at(3));
      const got = await store.meetings.get(m._id);
      assert.equal(got?.recordingStatus, 'enabled');
      assert.equal(got?.failureReason, undefined);
    });

    it('reports counts by recording status and the failures since a date', async () => {
      const old = meeting({ createdAt: at(-20000), recordingStatus: 'failed_graph' });
      const ok1 = meeting({ recordingStatus: 'enabled' });
      const ok2 = meeting({ recordingStatus: 'enabled', createdAt: at(1) });
      const bad = meeting({
        recordingStatus: 'failed_policy',
        failureReason: 'no policy',
        createdAt: at(2),
      });
      for (const m of [old, ok1, ok2, bad]) await store.meetings.createIfAbsent(m);
      const r = await store.meetings.statusReport(at(-1));
      assert.deepEqual(r.counts, {
        pending: 0,
        enabled: 2,
        failed_permission: 0,
        failed_policy: 1,
        failed_graph: 0,
      });
      assert.deepEqual(
        r.failures.map((m) => [m._id, m.failureReason]),
        [[bad._id, 'no policy']],
      );
    });

    it('marks a meeting cancelled once', async () => {
      const m = meeting();
      await store.meetings.createIfAbsent(m);
      assert.equal(await store.meetings.markCancelled(m._id, at(5)), true);
      assert.equal(await store.meetings.markCancelled(m._id, at(6)), false);
      assert.deepEqual((await store.meetings.get(m._id))?.cancelledAt, at(5));
      assert.equal(await store.meetings.markCancelled('missing', at(6)), false);
    });

    it('lists by organizer and by class, newest first', async () => {
      const older = meeting({ startDateTime: at(0) });
      const newer = meeting({ startDateTime: at(1440) });
      const other = meeting({ organizerId: 'instructor-2', class: { conversationId: 'other' } });
      for (const m of [older, newer, other]) await store.meetings.createIfAbsent(m);
      assert.deepEqual(
        (await store.meetings.listByOrganizer('instructor-1')).map((m) => m._id),
        [newer._id, older._id],
      );
      assert.deepEqual(
        (await store.meetings.listByClass('19:class@thread.tacv2', 1)).map((m) => m._id),
        [newer._id],
      );
    });
  });

  describe('conversations', () => {
    it('upserts references, latest wins, and finds by channel and team', async () => {
      const rec = {
        _id: '19:class@thread.tacv2',
        kind: 'channel' as const,
        tenantId: 'tenant-1',
        teamId: 'team-1',
        channelId: '19:class@thread.tacv2',
        name: 'Biology',
        serviceUrl: 'https://smba.example/emea/',
        reference: { conversation: { id: '19:class@thread.tacv2' } },
        updatedAt: at(0),
      };
      await store.conversations.upsert(rec);
      await store.conversations.upsert({
        ...rec,
        serviceUrl: 'https://smba.example/amer/',
        updatedAt: at(5),
      });
      const got = await store.conversations.get(rec._id);
      assert.equal(got?.serviceUrl, 'https://smba.example/amer/');
      assert.equal((await store.conversations.findByChannel('team-1', rec._id))?._id, rec._id);
      await store.conversations.upsert({
        ...rec,
        _id: '19:general@thread.tacv2',
        channelId: '19:general@thread.tacv2',
        name: 'Art',
      });
      assert.deepEqual(
        (await store.conversations.listByTeam('team-1')).map((c) => c.name),
        ['Art', 'Biology'],
      );
      assert.equal(await store.conversations.get('nope'), null);
      // A team's group id learned later (from the connector) lands on all its channels.
      await store.conversations.upsert({ ...rec, _id: 'other-team', teamId: 'team-2' });
      await store.conversations.setTeamAadGroupId('team-1', 'group-1', at(9));
      const groups = await Promise.all(
        [rec._id, '19:general@thread.tacv2', 'other-team'].map(
          async (id) => (await store.conversations.get(id))?.teamAadGroupId,
        ),
      );
      assert.deepEqual(groups, ['group-1', 'group-1', undefined]);
    });
  });

  describe('subscriptions', () => {
    const sub = (id: string, expiresAt: Date) => ({
      _id: id,
      resource: 'users/u1/onlineMeetings/getAllRecordings',
      changeType: 'created',
      tenantId: 'tenant-1',
      scope: 'organizer' as const,
      organizerId: 'u1',
      clientStateHash: 'ab'.repeat(32),
      expirationDateTime: expiresAt,
      createdAt: at(0),
      updatedAt: at(0),
    });

    it('gives the replacement of a subscription to one caller, and to another after expiry', async () => {
      await store.subscriptions.upsert(sub('s1', at(4000)));
      const racing = await Promise.all([
        store.subscriptions.claimReplacement('s1', 'a', at(10), 60_000),
        store.subscriptions.claimReplacement('s1', 'b', at(10), 60_000),
      ]);
      assert.deepEqual(racing.filter(Boolean).length, 1);
      // Held for a minute (until at(11)); taken over after that.
      assert.equal(await store.subscriptions.claimReplacement('s1', 'c', at(10.5), 60_000), false);
      assert.equal(await store.subscriptions.claimReplacement('s1', 'c', at(11), 60_000), true);
      assert.equal(
        await store.subscriptions.claimReplacement('missing', 'a', at(10), 60_000),
        false,
      );
    });

    it('upserts, keeps createdAt, lists the renewal queue soonest first, and removes', async () => {
      await store.subscriptions.upsert(sub('s1', at(4000)));
      await store.subscriptions.upsert(sub('s2', at(100)));
      await store.subscriptions.upsert({ ...sub('s1', at(4100)), createdAt: at(50) });
      const s1 = await store.subscriptions.get('s1');
      assert.deepEqual(s1?.createdAt, at(0));
      assert.deepEqual(s1?.expirationDateTime, at(4100));
      assert.deepEqual(
        (await store.subscriptions.listExpiringBefore(at(5000))).map((s) => s._id),
        ['s2', 's1'],
      );
      assert.deepEqual(
        (await store.subscriptions.listExpiringBefore(at(200))).map((s) => s._id),
        ['s2'],
      );
      assert.deepEqual(
        (await store.subscriptions.getMany(['s1', 'zz'])).map((s) => s._id),
        ['s1'],
      );
      assert.equal(
        (await store.subscriptions.findByResource('users/u1/onlineMeetings/getAllRecordings'))
          .length,
        2,
      );
      assert.equal(await store.subscriptions.setExpiration('s2', at(4200), at(10)), true);
      assert.equal(await store.subscriptions.setExpiration('gone', at(4200), at(10)), false);
      assert.equal(await store.subscriptions.remove('s2'), true);
      assert.equal(await store.subscriptions.remove('s2'), false);
    });
  });

  describe('inbox', () => {
    const item = (key: string) => ({
      dedupeKey: key,
      kind: 'change' as const,
      subscriptionId: 's1',
      tenantId: 'tenant-1',
      payload: { resource: `communications/onlineMeetings/m/recordings/${key}` },
    });

    it('stores each dedupeKey once, counting duplicates inside and across batches', async () => {
      assert.deepEqual(await store.inbox.enqueue([item('a'), item('b'), item('a')], at(0)), {
        stored: 2,
        duplicates: 1,
      });
      assert.deepEqual(await store.inbox.enqueue([item('b'), item('c')], at(1)), {
        stored: 1,
        duplicates: 1,
      });
      assert.deepEqual(await store.inbox.enqueue([], at(1)), { stored: 0, duplicates: 0 });
      const counts = await store.inbox.countByStatus();
      assert.equal(counts.pending, 3);
      assert.equal(
        (await store.inbox.findByDedupeKey('a'))?.payload.resource,
        'communications/onlineMeetings/m/recordings/a',
      );
    });

    it('claims oldest first, leases, completes, and retries later', async () => {
      await store.inbox.enqueue([item('first')], at(0));
      await store.inbox.enqueue([item('second')], at(1));
      const claimed = await store.inbox.claim('w1', at(2), 30_000);
      assert.equal(claimed?.dedupeKey, 'first');
      assert.equal(claimed?.status, 'processing');
      assert.equal(claimed?.attempts, 1);
      assert.deepEqual(claimed?.leaseUntil, new Date(at(2).getTime() + 30_000));

      const next = await store.inbox.claim('w1', at(2), 30_000);
      assert.equal(next?.dedupeKey, 'second');
      assert.equal(await store.inbox.claim('w1', at(2), 30_000), null);

      assert.equal(
        await store.inbox.complete(claimed!._id, 'w2', 'done', at(3), 60_000),
        false,
        'only the lease owner completes',
      );
      assert.equal(await store.inbox.complete(claimed!._id, 'w1', 'done', at(3), 60_000), true);
      const done = await store.inbox.get(claimed!._id);
      assert.equal(done?.status, 'done');
      assert.deepEqual(done?.expireAt, new Date(at(3).getTime() + 60_000));
      assert.equal(done?.leaseOwner, undefined);

      assert.equal(await store.inbox.retryLater(next!._id, 'w1', at(10), 'graph 503'), true);
      assert.equal(await store.inbox.claim('w1', at(9), 30_000), null, 'not before availableAt');
      const again = await store.inbox.claim('w1', at(10), 30_000);
      assert.equal(again?.attempts, 2);
      assert.equal(again?.lastError, 'graph 503');
    });

    it('lets another worker take an item whose lease expired', async () => {
      await store.inbox.enqueue([item('x')], at(0));
      const a = await store.inbox.claim('dead-worker', at(0), 1000);
      assert.equal(await store.inbox.claim('w2', at(0), 1000), null);
      const b = await store.inbox.claim('w2', new Date(at(0).getTime() + 1000), 1000);
      assert.deepEqual(b?._id, a?._id);
      assert.equal(b?.leaseOwner, 'w2');
      assert.equal(await store.inbox.complete(a!._id, 'dead-worker', 'done', at(1), 1000), false);
    });

    it('gives an item to exactly one of two clients racing to claim it', async () => {
      const other = createStore({ uri: mongo.uri, dbName, logger: silentLogger() });
      try {
        for (let round = 0; round < 20; round++) {
          await store.inbox.enqueue([item(`race-${round}`)], at(round));
          const results = await Promise.all([
            store.inbox.claim('w1', at(100), 60_000),
            other.inbox.claim('w2', at(100), 60_000),
          ]);
          const winners = results.filter((r) => r !== null);
          assert.equal(winners.length, 1, `round ${round}: ${winners.length} winners`);
        }
      } finally {
        await other.close();
      }
    });

    it('expires finished items through the TTL index', async function () {
      // mongod's TTL monitor runs every 60 s; the local test server every 100 ms.
      this.timeout(mongo.external ? 150_000 : 20_000);
      await store.inbox.enqueue([item('old'), item('open')], LONG_AGO);
      const old = await store.inbox.claim('w1', LONG_AGO, 1000);
      // expireAt lands in 2000, long past: the document is due for removal.
      await store.inbox.complete(old!._id, 'w1', 'done', LONG_AGO, 0);
      const removed = await eventually(
        async () => (await store.inbox.get(old!._id)) === null,
        mongo.external ? 140_000 : 15_000,
        100,
      );
      assert.equal(removed, true, 'TTL index removed the finished item');
      assert.ok(await store.inbox.findByDedupeKey('open'), 'items without expireAt stay');
    });
  });

  describe('recordings', () => {
    const rec = (id: string, minutes: number) => ({
      _id: id,
      meetingId: 'm1',
      onlineMeetingId: 'om-1',
      organizerId: 'instructor-1',
      conversationId: 'class-1',
      title: 'Biology 101',
      createdDateTime: at(minutes),
      contentUrl: `https://graph.example/recordings/${id}/content`,
    });

    it('upserts once: a duplicate changes nothing', async () => {
      const a = await store.recordings.upsert(rec('r1', 0), at(0));
      assert.equal(a.card.state, 'none');
      assert.equal(a.downloadCount, 0);
      const b = await store.recordings.upsert({ ...rec('r1', 0), title: 'changed' }, at(5));
      assert.equal(b.title, 'Biology 101');
      assert.deepEqual(b.updatedAt, at(0));
    });

    it('lets exactly one claimant post the card, and re-offers it after a dead lease', async () => {
      await store.recordings.upsert(rec('r1', 0), at(0));
      const claims = await Promise.all([
        store.recordings.claimCard('r1', 'w1', at(1), 10_000),
        store.recordings.claimCard('r1', 'w2', at(1), 10_000),
      ]);
      assert.deepEqual(claims.filter(Boolean).length, 1);
      const winner = claims[0] ? 'w1' : 'w2';
      assert.equal(
        await store.recordings.claimCard('r1', 'w3', new Date(at(1).getTime() + 10_000), 10_000),
        true,
        'lease expired',
      );
      assert.equal(
        await store.recordings.markCardPosted('r1', winner, 'act-1', at(2)),
        false,
        'lost lease',
      );
      assert.equal(await store.recordings.markCardPosted('r1', 'w3', 'act-2', at(2)), true);
      const got = await store.recordings.get('r1');
      assert.equal(got?.card.state, 'posted');
      assert.equal(got?.card.activityId, 'act-2');
      assert.equal(
        await store.recordings.claimCard('r1', 'w4', at(100), 10_000),
        false,
        'posted cards are never re-posted',
      );
    });

    it('adds transcripts once and counts downloads', async () => {
      await store.recordings.upsert(rec('r1', 0), at(0));
      await store.recordings.addTranscript('r1', 't1', at(1));
      const got = await store.recordings.addTranscript('r1', 't1', at(2));
      assert.deepEqual(got?.transcriptIds, ['t1']);
      assert.equal(await store.recordings.addTranscript('missing', 't1', at(2)), null);
      await store.recordings.recordDownload('r1', at(3));
      await store.recordings.recordDownload('r1', at(4));
      const after = await store.recordings.get('r1');
      assert.equal(after?.downloadCount, 2);
      assert.deepEqual(after?.lastDownloadedAt, at(4));
    });

    it('pages a class newest first', async () => {
      for (let i = 0; i < 5; i++) await store.recordings.upsert(rec(`r${i}`, i * 60), at(0));
      await store.recordings.upsert({ ...rec('elsewhere', 999), conversationId: 'class-2' }, at(0));
      const p1 = await store.recordings.search({ conversationId: 'class-1', limit: 2 });
      assert.deepEqual(
        p1.items.map((r) => r._id),
        ['r4', 'r3'],
      );
      const p2 = await store.recordings.search({
        conversationId: 'class-1',
        limit: 2,
        before: p1.next,
      });
      assert.deepEqual(
        p2.items.map((r) => r._id),
        ['r2', 'r1'],
      );
      const p3 = await store.recordings.search({
        conversationId: 'class-1',
        limit: 2,
        before: p2.next,
      });
      assert.deepEqual(
        p3.items.map((r) => r._id),
        ['r0'],
      );
      assert.equal(p3.next, undefined);
    });
  });

  describe('recording search and transcripts', () => {
    const rec = (id: string, minutes: number, title: string, meetingId = `m-${id}`) => ({
      _id: id,
      meetingId,
      onlineMeetingId: `om-${id}`,
      organizerId: 'instructor-1',
      conversationId: 'class-1',
      title,
      createdDateTime: at(minutes),
      contentUrl: '',
    });

    it('pages rows recorded at the same moment without losing or repeating one', async () => {
      for (const id of ['a', 'b', 'c', 'd', 'e'])
        await store.recordings.upsert(rec(id, 10, 'Same time'), at(0));
      const seen: string[] = [];
      let before: Awaited<ReturnType<typeof store.recordings.search>>['next'];
      do {
        const page = await store.recordings.search({ conversationId: 'class-1', limit: 2, before });
        seen.push(...page.items.map((r) => r._id));
        before = page.next;
      } while (before);
      assert.deepEqual(seen, ['e', 'd', 'c', 'b', 'a']);
    });

    it('filters by title or transcript text, case-insensitively, and by date range', async () => {
      await store.recordings.upsert(rec('r1', 0, 'Biology – Week 1'), at(0));
      await store.recordings.upsert(rec('r2', 60, 'Biology – Week 2'), at(0));
      await store.recordings.upsert(rec('r3', 120, 'Lab safety'), at(0));
      await store.recordings.upsert(
        { ...rec('r4', 130, 'Biology elsewhere'), conversationId: 'class-2' },
        at(0),
      );
      await store.transcripts.put({
        _id: 't3',
        meetingId: 'm-r3',
        conversationId: 'class-1',
        createdDateTime: at(121),
        cues: [{ start: 4, end: 9, speaker: 'Ina', text: 'Osmosis in potato slices (week 2)' }],
        text: 'Osmosis in potato slices (week 2)',
        updatedAt: at(121),
      });
      const { searchPattern } = await import('../../src/transcripts/index.js');
      const find = async (q: string, extra: { from?: Date; to?: Date } = {}) => {
        const pattern = searchPattern(q);
        const meetingIds = await store.transcripts.meetingsMatching('class-1', pattern);
        const page = await store.recordings.search({
          conversationId: 'class-1',
          limit: 10,
          text: { title: pattern, meetingIds },
          ...extra,
        });
        return page.items.map((r) => r._id);
      };
      assert.deepEqual(await find('WEEK 2'), ['r3', 'r2']);
      assert.deepEqual(await find('osmosis'), ['r3']);
      assert.deepEqual(await find('(week'), ['r3'], 'regex characters are literal');
      assert.deepEqual(await find('biology', { from: at(30), to: at(90) }), ['r2']);
      assert.deepEqual(await find('nothing like this'), []);
      assert.equal((await store.transcripts.listByMeeting('m-r3'))[0]?.cues[0]?.speaker, 'Ina');
    });

    it('counts views apart from downloads', async () => {
      await store.recordings.upsert(rec('r1', 0, 'Biology'), at(0));
      await store.recordings.recordView('r1', at(1));
      await store.recordings.recordView('r1', at(2));
      const r = await store.recordings.get('r1');
      assert.equal(r?.viewCount, 2);
      assert.deepEqual(r?.lastViewedAt, at(2));
      assert.equal(r?.downloadCount, 0);
    });
  });

  describe('audit', () => {
    it('appends and lists newest first, filtered', async () => {
      await store.audit.append({
        at: at(0),
        action: 'recording.override',
        actor: { id: 'u1' },
        meetingId: 'm1',
        details: { field: 'recordAutomatically' },
      });
      await store.audit.append({
        at: at(1),
        action: 'download',
        actor: { id: 'u2' },
        recordingId: 'r1',
        details: { bytes: 10 },
      });
      await store.audit.append({
        at: at(2),
        action: 'recording.override',
        actor: { id: 'u1' },
        meetingId: 'm2',
        details: {},
      });
      assert.deepEqual(
        (await store.audit.list()).map((e) => e.at),
        [at(2), at(1), at(0)],
      );
      assert.deepEqual(
        (await store.audit.list({ action: 'recording.override' })).map((e) => e.meetingId),
        ['m2', 'm1'],
      );
      assert.deepEqual(
        (await store.audit.list({ meetingId: 'm1' })).map((e) => e.details),
        [{ field: 'recordAutomatically' }],
      );
      assert.equal((await store.audit.list({}, 1)).length, 1);
    });
  });

  describe('notices', () => {
    it('lets one caller claim a notice per meeting and occasion, records it, and releases failed ones', async () => {
      assert.equal(await store.notices.claim('m1', 'scheduled', 'c1', at(0)), true);
      assert.equal(await store.notices.claim('m1', 'scheduled', 'c1', at(1)), false, 'duplicate');
      assert.equal(
        await store.notices.claim('m1', 'started', 'chat-1', at(2)),
        true,
        'another occasion',
      );
      await store.notices.markSent('m1', 'scheduled', 'act-1', at(3));
      await store.notices.release('m1', 'started');
      await store.notices.release('m1', 'scheduled'); // sent notices are not released
      const list = await store.notices.listByMeeting('m1');
      assert.deepEqual(
        list.map((n) => [n.occasion, n.status, n.activityId]),
        [['scheduled', 'sent', 'act-1']],
      );
      assert.equal(
        await store.notices.claim('m1', 'started', 'chat-1', at(4)),
        true,
        'released claims can be taken again',
      );
    });
  });

  describe('leases', () => {
    it('has one holder at a time; renews for the holder; is taken over after expiry', async () => {
      assert.equal(await store.leases.acquire('subscriptions', 'a', at(0), 30_000), true);
      assert.equal(await store.leases.acquire('subscriptions', 'b', at(0), 30_000), false);
      assert.equal(
        await store.leases.acquire('subscriptions', 'a', at(0.25), 30_000),
        true,
        'renewal',
      );
      assert.equal(
        await store.leases.acquire('subscriptions', 'b', at(0.5), 30_000),
        false,
        'renewed lease still held',
      );
      assert.equal(
        await store.leases.acquire('subscriptions', 'b', at(1), 30_000),
        true,
        'expired: taken over',
      );
      assert.equal((await store.leases.get('subscriptions'))?.owner, 'b');
      assert.equal(await store.leases.release('subscriptions', 'a'), false);
      assert.equal(await store.leases.release('subscriptions', 'b'), true);
      assert.equal(await store.leases.acquire('subscriptions', 'a', at(1), 30_000), true);
    });

    it('gives a contested lease to exactly one of two racing clients', async () => {
      const other = createStore({ uri: mongo.uri, dbName, logger: silentLogger() });
      try {
        const results = await Promise.all([
          store.leases.acquire('race', 'a', at(0), 30_000),
          other.leases.acquire('race', 'b', at(0), 30_000),
        ]);
        assert.equal(results.filter(Boolean).length, 1);
      } finally {
        await other.close();
      }
    });
  });

  describe('outages', () => {
    it('reconnects by itself after the server restarts', async function () {
      if (!mongo.local) this.skip(); // a real MongoDB is not ours to restart
      await store.audit.append({ at: at(0), action: 'before', actor: { id: 'u' }, details: {} });
      await mongo.local.close();
      await assert.rejects(store.audit.list(), StoreUnavailableError);
      mongo.local = await startMongoServer(mongo.localOptions);
      const back = await eventually(async () => store.ping(500), 10_000, 100);
      assert.equal(back, true);
      await store.audit.append({ at: at(1), action: 'after', actor: { id: 'u' }, details: {} });
      assert.deepEqual(
        (await store.audit.list()).map((e) => e.action),
        ['after', 'before'],
      );
    });

    it('recovers when the server appears after a failed first connect (regression: the driver closed its topology for good)', async function () {
      if (!mongo.local) this.skip();
      const port = mongo.local.port;
      await mongo.local.close();
      const late = createStore({
        uri: mongo.uri,
        dbName,
        logger: silentLogger(),
        serverSelectionTimeoutMs: 300,
        heartbeatMs: 500,
      });
      try {
        await assert.rejects(late.audit.list(), StoreUnavailableError);
        await assert.rejects(late.audit.list(), StoreUnavailableError);
        mongo.local = await startMongoServer({ ...mongo.localOptions, port });
        assert.deepEqual(await late.audit.list(), []);
      } finally {
        await late.close();
      }
    });

    it('reports an unreachable server as StoreUnavailableError, not a driver error', async () => {
      const dead = createStore({
        uri: 'mongodb://127.0.0.1:1/?directConnection=true',
        dbName,
        logger: silentLogger(),
        serverSelectionTimeoutMs: 200,
      });
      try {
        await assert.rejects(
          dead.meetings.get('x'),
          (err: unknown) =>
            err instanceof StoreUnavailableError && err.code === 'STORE_UNAVAILABLE',
        );
        assert.equal(await dead.ping(500), false);
      } finally {
        await dead.close();
      }
    });

    it('shares its data with a plain driver client (nothing hidden in the store)', async () => {
      await store.audit.append({ at: at(0), action: 'x', actor: { id: 'u' }, details: {} });
      const client = new MongoClient(mongo.uri);
      try {
        assert.equal(
          await client.db(dbName).collection('audit').countDocuments({ action: 'x' }),
          1,
        );
      } finally {
        await client.close();
      }
    });
  });
});
