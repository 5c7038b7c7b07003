import assert from 'node:assert/strict';
import { createLocalJWKSet, jwtVerify } from 'jose';
import { NOTIFICATION_PUBLISHER_APP_ID } from '../../../dev/graph-sim/index.js';
import {
  ALL_ROLES,
  APP_ID,
  ORGANIZER,
  startSim,
  testTenant,
  type SimHandle,
} from '../../support/graph.js';
import { decryptNotification, makeEncryptionCertificate } from '../../support/notifications.js';
import { startReceiver } from '../../support/receiver.js';
import { simClient } from '../../support/sim-http.js';

const T0 = new Date('2030-03-01T00:00:00Z');
const minutes = (n: number) => new Date(T0.getTime() + n * 60_000).toISOString();
const RESOURCE = `users/${ORGANIZER}/onlineMeetings/getAllRecordings`;

/** Subscriptions and delivery: every documented rule, and the notifications themselves. */
describe('dev/graph-sim: subscriptions and change notifications', function () {
  this.timeout(30_000);
  let h: SimHandle;
  let api: ReturnType<typeof simClient>;
  let receiver: Awaited<ReturnType<typeof startReceiver>>;
  let token: string;

  beforeEach(async () => {
    // The clock stands still (scale ~0) so expiry arithmetic is exact.
    h = await startSim({ startTime: T0, timeScale: 0.000001 });
    api = simClient(h.sim);
    receiver = await startReceiver();
    token = await api.token();
  });
  afterEach(async () => {
    await receiver.close();
    await api.close();
    await h.stop();
  });

  const subscribe = (overrides: Record<string, unknown> = {}) =>
    api.request('POST', '/v1.0/subscriptions', {
      token,
      body: {
        changeType: 'created',
        resource: RESOURCE,
        notificationUrl: receiver.notificationUrl,
        lifecycleNotificationUrl: receiver.lifecycleUrl,
        expirationDateTime: minutes(4000),
        clientState: 'secret-client-state',
        ...overrides,
      },
    });

  async function recordedMeeting() {
    const meeting = await api.classMeeting(token);
    meeting.recordAutomatically = true;
    return meeting;
  }

  describe('creation rules', () => {
    it('creates a subscription after a correct handshake on both URLs, and returns it', async () => {
      const r = await subscribe();
      assert.equal(r.status, 201, r.text);
      assert.equal(r.json.resource, RESOURCE);
      assert.equal(r.json.applicationId, APP_ID);
      assert.equal(r.json.expirationDateTime, minutes(4000));
      assert.deepEqual(receiver.validations, ['/api/notifications', '/api/lifecycle']);
    });

    it('refuses an endpoint that echoes the wrong token', async () => {
      receiver.behaviour.wrongEcho = true;
      const r = await subscribe();
      assert.equal(r.status, 400);
      assert.equal(r.json.error.code, 'InvalidRequest');
      assert.match(r.json.error.message, /^Subscription validation request failed/);
      assert.equal(h.sim.state.subscriptions.size, 0);
    });

    it('refuses an endpoint that takes more than 10 s to answer the handshake', async function () {
      this.timeout(20_000);
      receiver.behaviour.validationDelayMs = 10_500;
      const r = await subscribe();
      assert.equal(r.status, 400);
      assert.match(r.json.error.message, /Subscription validation request failed/);
    });

    it('allows 4,320 minutes and refuses 4,321', async () => {
      assert.equal((await subscribe({ expirationDateTime: minutes(4320) })).status, 201);
      const r = await subscribe({ expirationDateTime: minutes(4321) });
      assert.equal(r.status, 400);
      assert.match(r.json.error.message, /4320 minutes/);
    });

    it('requires lifecycleNotificationUrl above one hour, not below', async () => {
      const r = await subscribe({
        lifecycleNotificationUrl: undefined,
        expirationDateTime: minutes(61),
      });
      assert.equal(r.status, 400);
      assert.equal(
        r.json.error.message,
        'lifecycleNotificationUrl is required for subscription creation on this resource when the expirationDateTime value exceeds 1 hour.',
      );
      assert.equal(
        (await subscribe({ lifecycleNotificationUrl: undefined, expirationDateTime: minutes(60) }))
          .status,
        201,
      );
    });

    it('refuses a past expiration and a missing one', async () => {
      assert.equal((await subscribe({ expirationDateTime: minutes(-1) })).status, 400);
      assert.equal((await subscribe({ expirationDateTime: undefined })).status, 400);
    });

    it('limits clientState to 128 characters', async () => {
      assert.equal((await subscribe({ clientState: 'x'.repeat(128) })).status, 201);
      assert.equal((await subscribe({ clientState: 'x'.repeat(129) })).status, 400);
    });

    it('accepts only the recording and transcript resources, in every documented scope, with changeType created', async () => {
      for (const resource of [
        'communications/onlineMeetings/getAllRecordings',
        'communications/onlineMeetings/getAllTranscripts',
        `users/${ORGANIZER}/onlineMeetings/getAllTranscripts`,
        'communications/onlineMeetings/MSoxYz/recordings',
        'communications/onlineMeetings/MSoxYz/transcripts',
      ]) {
        assert.equal((await subscribe({ resource })).status, 201, resource);
      }
      assert.equal((await subscribe({ resource: 'me/events' })).status, 400);
      assert.equal(
        (await subscribe({ resource: `users/${ORGANIZER}/onlineMeetings` })).status,
        400,
      );
      const updated = await subscribe({ changeType: 'updated' });
      assert.equal(updated.status, 400);
      assert.match(updated.json.error.message, /ChangeType 'updated' is not supported/);
    });

    it('requires the matching read permission', async () => {
      h.sim.state.tenant.apps[0]!.roles = ALL_ROLES.filter(
        (r) => r !== 'OnlineMeetingRecording.Read.All',
      );
      token = await api.token();
      assert.equal((await subscribe()).status, 403);
      assert.equal(
        (await subscribe({ resource: `users/${ORGANIZER}/onlineMeetings/getAllTranscripts` }))
          .status,
        201,
      );
    });

    it('requires encryptionCertificate and encryptionCertificateId with includeResourceData', async () => {
      const { certificateBase64 } = await makeEncryptionCertificate();
      assert.equal((await subscribe({ includeResourceData: true })).status, 400);
      assert.equal(
        (await subscribe({ includeResourceData: true, encryptionCertificate: certificateBase64 }))
          .status,
        400,
      );
      assert.equal(
        (
          await subscribe({
            includeResourceData: true,
            encryptionCertificate: 'bm90IGEgY2VydA==',
            encryptionCertificateId: 'k1',
          })
        ).status,
        400,
      );
      assert.equal(
        (
          await subscribe({
            includeResourceData: true,
            encryptionCertificate: certificateBase64,
            encryptionCertificateId: 'k1',
          })
        ).status,
        201,
      );
    });

    it('requires https, except loopback http when the tenant allows it', async () => {
      assert.equal(
        (await subscribe({ notificationUrl: 'http://example.com/api/notifications' })).status,
        400,
      );
      await h.stop();
      h = await startSim({
        startTime: T0,
        timeScale: 0.000001,
        tenant: testTenant({ allowLoopbackHttp: false }),
      });
      await api.close();
      api = simClient(h.sim);
      token = await api.token();
      const r = await subscribe();
      assert.equal(r.status, 400);
      assert.match(r.json.error.message, /must be an https URL/);
    });

    it('enforces the subscription quota with 403', async () => {
      h.sim.state.tenant.subscriptionQuota = 2;
      assert.equal((await subscribe()).status, 201);
      assert.equal((await subscribe()).status, 201);
      const r = await subscribe();
      assert.equal(r.status, 403);
      assert.match(r.json.error.message, /quota/);
    });
  });

  describe('lifecycle of a subscription', () => {
    it('renews within the limit, refuses past it, reauthorizes, lists, and deletes', async () => {
      const id = (await subscribe()).json.id as string;
      const renewed = await api.request('PATCH', `/v1.0/subscriptions/${id}`, {
        token,
        body: { expirationDateTime: minutes(4300) },
      });
      assert.equal(renewed.status, 200);
      assert.equal(renewed.json.expirationDateTime, minutes(4300));
      assert.equal(
        (
          await api.request('PATCH', `/v1.0/subscriptions/${id}`, {
            token,
            body: { expirationDateTime: minutes(5000) },
          })
        ).status,
        400,
      );
      assert.equal(
        (await api.request('POST', `/v1.0/subscriptions/${id}/reauthorize`, { token })).status,
        200,
      );
      assert.deepEqual(
        (await api.request('GET', '/v1.0/subscriptions', { token })).json.value.map(
          (s: { id: string }) => s.id,
        ),
        [id],
      );
      assert.equal(
        (await api.request('DELETE', `/v1.0/subscriptions/${id}`, { token })).status,
        204,
      );
      assert.equal((await api.request('GET', `/v1.0/subscriptions/${id}`, { token })).status, 404);
      assert.equal(
        (
          await api.request('PATCH', `/v1.0/subscriptions/${id}`, {
            token,
            body: { expirationDateTime: minutes(100) },
          })
        ).status,
        404,
      );
    });

    it('sends reauthorizationRequired before expiry, and removes an expired subscription', async () => {
      const id = (await subscribe({ expirationDateTime: minutes(30) })).json.id as string;
      h.sim.clock.advance(21 * 60_000); // 9 minutes left
      await waitFor(() => receiver.lifecycleItems().length === 1);
      const item = receiver.lifecycleItems()[0]!;
      assert.equal(item.lifecycleEvent, 'reauthorizationRequired');
      assert.equal(item.subscriptionId, id);
      assert.equal(item.clientState, 'secret-client-state');
      h.sim.clock.advance(10 * 60_000);
      await waitFor(() => !h.sim.state.subscriptions.has(id));
    });

    it('delivers subscriptionRemoved and missed through the control API', async () => {
      const id = (await subscribe()).json.id as string;
      assert.equal(
        (
          await api.request('POST', `/_sim/subscriptions/${id}/lifecycle`, {
            body: { event: 'missed' },
          })
        ).status,
        202,
      );
      assert.equal(
        (
          await api.request('POST', `/_sim/subscriptions/${id}/lifecycle`, {
            body: { event: 'subscriptionRemoved' },
          })
        ).status,
        202,
      );
      await waitFor(() => receiver.lifecycleItems().length === 2);
      assert.deepEqual(
        receiver
          .lifecycleItems()
          .map((i) => i.lifecycleEvent)
          .sort(),
        ['missed', 'subscriptionRemoved'],
      );
      assert.equal(h.sim.state.subscriptions.has(id), false);
    });
  });

  describe('delivery', () => {
    it('posts a basic notification for a new recording and transcript, batched in one POST', async () => {
      await subscribe();
      await subscribe({ resource: `users/${ORGANIZER}/onlineMeetings/getAllTranscripts` });
      const meeting = await recordedMeeting();
      const ended = await api.request(
        'POST',
        `/_sim/meetings/${encodeURIComponent(meeting.id)}/end`,
        { body: {} },
      );
      assert.equal(ended.status, 200);
      await h.sim.deliveriesSettled();
      const posts = receiver.posts.filter((p) => p.path === '/api/notifications');
      assert.equal(posts.length, 1, 'one POST carries both items');
      const [rec, tr] = posts[0]!.body.value;
      assert.equal(rec!.changeType, 'created');
      assert.equal(rec!.clientState, 'secret-client-state');
      assert.equal(rec!.tenantId, h.sim.state.tenant.id);
      assert.match(
        String(rec!.resource),
        /^communications\/onlineMeetings\('.+'\)\/recordings\('.+'\)$/,
      );
      assert.equal(
        (rec!.resourceData as Record<string, string>)['@odata.type'],
        '#Microsoft.Graph.callRecording',
      );
      assert.match(String(tr!.resource), /\/transcripts\('/);
      assert.equal(
        posts[0]!.body.validationTokens,
        undefined,
        'basic notifications carry no tokens',
      );
      assert.equal(rec!.encryptedContent, undefined);
    });

    it('encrypts rich notifications as documented and signs validation tokens for the app', async () => {
      const { certificateBase64, privateKeyPem } = await makeEncryptionCertificate();
      const created = await subscribe({
        includeResourceData: true,
        encryptionCertificate: certificateBase64,
        encryptionCertificateId: 'cert-2030',
      });
      assert.equal(created.status, 201, created.text);
      const meeting = await recordedMeeting();
      h.sim.endMeeting(meeting);
      await h.sim.deliveriesSettled();
      const post = receiver.posts.find((p) => p.path === '/api/notifications');
      assert.ok(post, 'the notification arrived');
      const item = post.body.value[0]!;
      const enc = item.encryptedContent as {
        data: string;
        dataKey: string;
        dataSignature: string;
        encryptionCertificateId: string;
      };
      assert.equal(enc.encryptionCertificateId, 'cert-2030');
      const resource = decryptNotification(enc, privateKeyPem) as Record<string, unknown>;
      assert.equal(resource.meetingId, meeting.id);
      assert.match(String(resource.recordingContentUrl), /\/recordings\/.+\/content$/);
      assert.throws(
        () =>
          decryptNotification(
            { ...enc, dataSignature: Buffer.alloc(32).toString('base64') },
            privateKeyPem,
          ),
        /dataSignature/,
      );

      assert.equal(post.body.validationTokens?.length, 1);
      const jwks = await api.request('GET', '/common/discovery/v2.0/keys');
      const { payload } = await jwtVerify(
        post.body.validationTokens![0]!,
        createLocalJWKSet(jwks.json),
        {
          audience: APP_ID,
          issuer: `https://sts.windows.net/${h.sim.state.tenant.id}/`,
          // Issued on the simulator's clock, as Graph's tokens are on Graph's.
          currentDate: h.sim.clock.protocolNow(),
        },
      );
      assert.equal(payload.appid, NOTIFICATION_PUBLISHER_APP_ID);
      assert.equal(payload.tid, h.sim.state.tenant.id);
    });

    it('retries a failed delivery until the endpoint accepts it', async () => {
      await subscribe();
      receiver.behaviour.failNext = 2;
      h.sim.endMeeting(await recordedMeeting());
      await h.sim.deliveriesSettled();
      assert.deepEqual(
        h.sim.deliveries.filter((d) => d.kind === 'change').map((d) => d.status),
        [500, 500, 202],
      );
      assert.equal(
        receiver.items().length,
        3,
        'the same item arrived three times: Graph duplicates',
      );
    });

    it('counts a response slower than 3 s as failed and retries it', async function () {
      this.timeout(20_000);
      await subscribe();
      receiver.behaviour.delayMs = 3200;
      h.sim.endMeeting(await recordedMeeting());
      await waitFor(() => h.sim.deliveries.some((d) => d.status === 'timeout'), 8000);
      receiver.behaviour.delayMs = 0;
      await h.sim.deliveriesSettled(10_000);
      const statuses = h.sim.deliveries.map((d) => d.status);
      assert.equal(statuses[0], 'timeout');
      assert.equal(statuses.at(-1), 202);
    });

    it('drops or duplicates notifications on request (fault injection)', async () => {
      await subscribe();
      assert.equal(
        (await api.request('POST', '/_sim/notifications/faults', { body: { drop: 1 } })).status,
        204,
      );
      h.sim.endMeeting(await recordedMeeting());
      await h.sim.deliveriesSettled();
      assert.equal(receiver.items().length, 0, 'dropped');
      await api.request('POST', '/_sim/notifications/faults', { body: { duplicate: 1 } });
      h.sim.endMeeting(await recordedMeeting());
      await h.sim.deliveriesSettled();
      assert.equal(receiver.items().length, 2, 'duplicated');
      assert.equal(receiver.items()[0]!.resource, receiver.items()[1]!.resource);
    });

    it('does not notify expired or unrelated subscriptions', async () => {
      await subscribe({ resource: `users/${ORGANIZER}/onlineMeetings/getAllTranscripts` });
      const meeting = await recordedMeeting();
      meeting.allowTranscription = false;
      h.sim.endMeeting(meeting);
      await h.sim.deliveriesSettled();
      assert.equal(receiver.items().length, 0);
    });
  });
});

async function waitFor(check: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 20));
  }
}
