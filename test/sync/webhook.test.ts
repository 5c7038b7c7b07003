import assert from 'node:assert/strict';
import { generateKeyPair, SignJWT, decodeJwt } from 'jose';
import { startMongoServer } from '../../dev/mongo/index.js';
import { encryptResource } from '../../dev/graph-sim/delivery.js';
import { artifactJson } from '../../dev/graph-sim/state.js';
import { eventually, startTestMongo, type TestMongo } from '../support/mongo.js';
import { startSyncWorld, type SyncWorld } from '../support/sync.js';

/**
 * The webhook's edges: the validation handshake, content checks, and every way a notification
 * is refused (each dropped, logged, counted, and never reaching a worker or Graph), plus
 * "durable before 202" when MongoDB is down.
 */
describe('sync: POST /api/notifications and /api/lifecycle', function () {
  this.timeout(60_000);
  let mongo: TestMongo;
  let w: SyncWorld;
  let base: string;

  before(async () => {
    mongo = await startTestMongo();
  });
  after(async () => {
    await mongo.stop();
  });
  afterEach(async () => {
    await w?.stop();
  });

  const post = (path: string, body: unknown, headers: Record<string, string> = {}) =>
    fetch(`${base}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...headers },
      body: typeof body === 'string' ? body : JSON.stringify(body),
    });
  const inboxCount = () => w.store.db.collection('inbox').countDocuments();
  const dropped = async () =>
    Object.fromEntries(
      (await w.store.stats.list('notifications.dropped.')).map((s) => [
        s._id.slice('notifications.dropped.'.length),
        s.count,
      ]),
    );

  describe('edges', () => {
    beforeEach(async () => {
      w = await startSyncWorld(mongo);
      base = (await w.startInstance()).url;
    });

    it('echoes the decoded validation token as text/plain with nosniff', async () => {
      for (const path of ['/api/notifications', '/api/lifecycle']) {
        const token =
          'Validation: Testing client application reachability for subscription Request-Id: 1 <&>';
        const r = await fetch(`${base}${path}?validationToken=${encodeURIComponent(token)}`, {
          method: 'POST',
        });
        assert.equal(r.status, 200);
        assert.equal(r.headers.get('content-type'), 'text/plain; charset=utf-8');
        assert.equal(r.headers.get('x-content-type-options'), 'nosniff');
        assert.equal(await r.text(), token);
      }
      const absurd = await fetch(`${base}/api/notifications?validationToken=${'x'.repeat(5000)}`, {
        method: 'POST',
      });
      assert.equal(absurd.status, 400);
    });

    it('refuses the wrong content type, bad JSON, a body without value[], and a huge body', async () => {
      const text = await post('/api/notifications', '{}', { 'content-type': 'text/plain' });
      assert.equal(text.status, 415);
      const bad = await post('/api/notifications', '{not json');
      assert.equal(bad.status, 400);
      const body = (await bad.json()) as { error: { code: string; message: string } };
      assert.equal(body.error.code, 'VALIDATION_FAILED');
      assert.doesNotMatch(JSON.stringify(body), /at .*\.ts:\d+/, 'no stack trace');
      assert.equal((await post('/api/notifications', { value: [] })).status, 400);
      assert.equal((await post('/api/lifecycle', { nothing: true })).status, 400);
      const huge = await post('/api/notifications', { value: ['x'.repeat(2 * 1024 * 1024)] });
      assert.equal(huge.status, 413);
      assert.equal(await inboxCount(), 0);
    });

    it('drops a forged clientState or an unknown subscription without calling Graph', async () => {
      const meeting = await w.schedule();
      await w.subscribed();
      const sub = [...w.sim.state.subscriptions.values()].find((s) =>
        s.resource.endsWith('getAllRecordings'),
      )!;
      const graphCalls = w.sim.requests.length;
      const item = (over: Record<string, unknown>) => ({
        subscriptionId: sub.id,
        changeType: 'created',
        clientState: sub.clientState,
        tenantId: sub.tenantId,
        resource: `communications/onlineMeetings('${meeting.onlineMeetingId}')/recordings('r-forged')`,
        resourceData: { id: 'r-forged' },
        ...over,
      });
      const r = await post('/api/notifications', {
        value: [
          item({ clientState: 'guessed' }),
          item({ clientState: undefined }),
          item({ subscriptionId: 'not-ours' }),
          item({ tenantId: '00000000-0000-4000-8000-000000000000' }),
          { subscriptionId: sub.id },
        ],
      });
      assert.equal(r.status, 202, 'Graph is not told which items were refused');
      await new Promise((resolve) => setTimeout(resolve, 200));
      assert.equal(await inboxCount(), 0);
      // (The reconciler may call Graph on its own schedule; nothing may ask about this item.)
      assert.ok(
        w.sim.requests.slice(graphCalls).every((r) => !r.path.includes('r-forged')),
        'no Graph call for a refused item',
      );
      assert.deepEqual(await dropped(), {
        clientState_does_not_match: 2,
        unknown_subscription: 1,
        tenant_does_not_match_the_subscription: 1,
        schema: 1,
      });
    });

    it('answers 503 while MongoDB is down (so Graph retries) and makes the card after recovery', async function () {
      if (!mongo.local) this.skip(); // an external server is not ours to stop
      const meeting = await w.schedule();
      await w.subscribed();
      w.endMeeting(meeting.onlineMeetingId!);
      // Take the first delivery, then stop MongoDB and replay it as Graph would retry.
      assert.ok(await eventually(async () => w.recordingCards().length === 1, 10_000));
      const delivered = w.sim.deliveries.find((d) => d.kind === 'change' && d.status === 202)!;
      await w.store.db.collection('inbox').deleteMany({});
      await w.store.db.collection('recordings').deleteMany({});
      w.connector.activities.length = 0;
      const port = mongo.local!.port;
      await mongo.local!.close();
      const down = await post('/api/notifications', delivered.body);
      assert.ok(down.status >= 500, `expected 5xx, got ${down.status}`);
      mongo.local = await startMongoServer({ ...mongo.localOptions!, port });
      let again: Response | undefined;
      assert.ok(
        await eventually(
          async () => {
            again = await post('/api/notifications', delivered.body);
            return again.status === 202;
          },
          15_000,
          200,
        ),
        'accepted after recovery',
      );
      assert.ok(await eventually(async () => w.recordingCards().length === 1, 15_000));
    });
  });

  describe('rich notifications', () => {
    beforeEach(async () => {
      w = await startSyncWorld(mongo, { rich: true });
      base = (await w.startInstance()).url;
    });

    /** A real delivery the simulator made (already carded), to tamper with. */
    async function realDelivery() {
      const meeting = await w.schedule();
      await w.subscribed();
      w.endMeeting(meeting.onlineMeetingId!);
      assert.ok(await eventually(async () => w.recordingCards().length === 1, 10_000));
      await w.sim.deliveriesSettled();
      const d = w.sim.deliveries.find(
        (x) => x.kind === 'change' && x.status === 202 && x.body.validationTokens,
      )!;
      return structuredClone(d.body) as {
        value: Record<string, unknown>[];
        validationTokens: string[];
      };
    }
    const fresh = (body: { value: Record<string, unknown>[] }) => {
      // A new resource id, so that a pass would store a new item (not a duplicate).
      for (const v of body.value)
        v.resource = String(v.resource).replace(/\('([^']+)'\)$/, "('x$1')");
      return body;
    };

    it('drops tampered encryptedContent (dataSignature no longer matches)', async () => {
      const body = await realDelivery();
      const before = await inboxCount();
      const content = body.value[0]!.encryptedContent as { data: string };
      const bytes = Buffer.from(content.data, 'base64');
      bytes[5] = bytes[5]! ^ 0xff;
      content.data = bytes.toString('base64');
      assert.equal(
        (await post('/api/notifications', { ...body, value: [body.value[0]] })).status,
        202,
      );
      assert.equal(await inboxCount(), before);
      assert.equal((await dropped()).encryptedContent, 1);
    });

    it('drops items whose validation token is expired or signed by someone else', async () => {
      const body = await realDelivery();
      const before = await inboxCount();
      const claims = decodeJwt(body.validationTokens[0]!);
      const { privateKey } = await generateKeyPair('RS256');
      const foreign = await new SignJWT({ ...claims })
        .setProtectedHeader({ alg: 'RS256', kid: 'not-microsoft' })
        .sign(privateKey);
      assert.equal(
        (
          await post('/api/notifications', {
            ...fresh(structuredClone(body)),
            validationTokens: [foreign],
          })
        ).status,
        202,
      );
      const none = { ...fresh(structuredClone(body)) } as Record<string, unknown>;
      delete none.validationTokens;
      assert.equal((await post('/api/notifications', none)).status, 202);
      // Nine hours later the (eight-hour) token has expired.
      w.sim.clock.advance(9 * 3600_000);
      assert.equal((await post('/api/notifications', fresh(structuredClone(body)))).status, 202);
      assert.equal(await inboxCount(), before);
      const counts = await dropped();
      const n = body.value.length; // the recording and the transcript came in one POST
      assert.equal(counts.a_validation_token_failed_verification, 2 * n);
      assert.equal(counts.rich_notifications_came_without_validationTokens, n);
    });

    it('accepts EncryptedContent spelled as in the Graph docs sample for recordings', async () => {
      const body = await realDelivery();
      // A second recording of another class: its notification written with the capital key.
      const second = await w.schedule('Genetics', 'tomorrow 14:00 for 45 min');
      const simMeeting = w.sim.state.meetings.get(second.onlineMeetingId!)!;
      simMeeting.ended = true; // ended without notifying: we write the notification ourselves
      const artifact = w.sim.state.newArtifact('recording', simMeeting, w.sim.clock.now(), 1024);
      const sub = [...w.sim.state.subscriptions.values()].find((s) =>
        s.resource.endsWith('getAllRecordings'),
      )!;
      const resource = {
        ...artifactJson(w.sim.state, artifact, w.sim.url),
        content: null,
      } as Record<string, unknown>;
      delete resource['@odata.type'];
      const item: Record<string, unknown> = {
        subscriptionId: sub.id,
        changeType: 'created',
        clientState: sub.clientState,
        tenantId: sub.tenantId,
        resource: `communications/onlineMeetings('${simMeeting.id}')/recordings('${artifact.id}')`,
        resourceData: { id: artifact.id, '@odata.type': '#Microsoft.Graph.callRecording' },
        EncryptedContent: encryptResource(
          resource,
          sub.encryptionCertificate!,
          sub.encryptionCertificateId!,
        ),
      };
      const r = await post('/api/notifications', {
        value: [item],
        validationTokens: body.validationTokens,
      });
      assert.equal(r.status, 202);
      assert.ok(await eventually(async () => w.recordingCards().length === 2, 10_000));
      assert.deepEqual(await dropped(), {});
    });
  });
});
