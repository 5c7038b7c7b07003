import assert from 'node:assert/strict';
import { createLocalJWKSet, jwtVerify } from 'jose';
import { APP_ID, APP_SECRET, ORGANIZER, startSim, type SimHandle } from '../../support/graph.js';
import { simClient } from '../../support/sim-http.js';

/** Entra ID and the calendar/meeting rules of the simulator, pinned one by one. */
describe('dev/graph-sim: Entra ID and meetings', () => {
  let h: SimHandle;
  let api: ReturnType<typeof simClient>;
  let tid: string;

  beforeEach(async () => {
    h = await startSim({ startTime: new Date('2030-03-01T00:00:00Z') });
    api = simClient(h.sim);
    tid = h.sim.state.tenant.id;
  });
  afterEach(async () => {
    await api.close();
    await h.stop();
  });

  const eventBody = (extra: Record<string, unknown> = {}) => ({
    subject: 'Chemistry',
    start: { dateTime: '2030-03-02T09:00:00', timeZone: 'UTC' },
    end: { dateTime: '2030-03-02T10:00:00', timeZone: 'UTC' },
    isOnlineMeeting: true,
    onlineMeetingProvider: 'teamsForBusiness',
    attendees: [{ type: 'required', emailAddress: { address: 'leo@test.example' } }],
    ...extra,
  });

  async function calendarMeeting(token: string) {
    const ev = await api.request('POST', `/v1.0/users/${ORGANIZER}/events`, {
      token,
      body: eventBody(),
    });
    assert.equal(ev.status, 201, ev.text);
    const joinUrl = ev.json.onlineMeeting.joinUrl as string;
    // Encoded once, as in Graph's docs: the join URL's own %xx become %25xx.
    const filter = encodeURIComponent(`JoinWebUrl eq '${joinUrl}'`);
    const found = await api.request(
      'GET',
      `/v1.0/users/${ORGANIZER}/onlineMeetings?$filter=${filter}`,
      { token },
    );
    assert.equal(found.status, 200, found.text);
    assert.equal(found.json.value.length, 1);
    return found.json.value[0];
  }

  describe('Entra ID', () => {
    it('publishes OpenID metadata and a JWKS that verifies its tokens, with the documented claims', async () => {
      const meta = await api.request('GET', `/${tid}/v2.0/.well-known/openid-configuration`);
      assert.equal(meta.status, 200);
      assert.equal(meta.json.token_endpoint, `${h.sim.url}/${tid}/oauth2/v2.0/token`);
      const jwks = await api.request('GET', `/${tid}/discovery/v2.0/keys`);
      const token = await api.token();
      const { payload } = await jwtVerify(token, createLocalJWKSet(jwks.json), {
        audience: 'https://graph.microsoft.com',
      });
      assert.equal(payload.iss, `https://sts.windows.net/${tid}/`);
      assert.equal(payload.tid, tid);
      assert.equal(payload.appid, APP_ID);
      assert.ok(Array.isArray(payload.roles) && payload.roles.includes('Calendars.ReadWrite'));
      assert.ok(typeof payload.exp === 'number' && payload.exp > payload.iat!);
    });

    it('answers a wrong secret with 401 invalid_client (AADSTS7000215)', async () => {
      const r = await api.request('POST', `/${tid}/oauth2/v2.0/token`, {
        form: {
          grant_type: 'client_credentials',
          client_id: APP_ID,
          client_secret: 'nope',
          scope: 'https://graph.microsoft.com/.default',
        },
      });
      assert.equal(r.status, 401);
      assert.equal(r.json.error, 'invalid_client');
      assert.deepEqual(r.json.error_codes, [7000215]);
      assert.match(r.json.error_description, /^AADSTS7000215: /);
    });

    it("answers an unknown app, a wrong scope and an unknown tenant with Entra's 400s", async () => {
      const form = {
        grant_type: 'client_credentials',
        client_id: APP_ID,
        client_secret: APP_SECRET,
        scope: 'https://graph.microsoft.com/.default',
      };
      const unknown = await api.request('POST', `/${tid}/oauth2/v2.0/token`, {
        form: { ...form, client_id: 'someone-else' },
      });
      assert.equal(unknown.status, 400);
      assert.equal(unknown.json.error, 'unauthorized_client');
      const scope = await api.request('POST', `/${tid}/oauth2/v2.0/token`, {
        form: { ...form, scope: 'User.Read' },
      });
      assert.equal(scope.json.error, 'invalid_scope');
      const tenant = await api.request('POST', `/not-a-tenant/oauth2/v2.0/token`, { form });
      assert.equal(tenant.status, 400);
      assert.deepEqual(tenant.json.error_codes, [90002]);
    });
  });

  describe('Graph authentication and authorization', () => {
    it('answers a call without a token, or with a forged one, with 401 InvalidAuthenticationToken', async () => {
      const none = await api.request('GET', `/v1.0/users/${ORGANIZER}/events/x`);
      assert.equal(none.status, 401);
      assert.equal(none.json.error.code, 'InvalidAuthenticationToken');
      assert.ok(none.json.error.innerError['request-id']);
      const token = await api.token();
      const forged = `${token.split('.').slice(0, 2).join('.')}.${Buffer.from('bad').toString('base64url')}`;
      assert.equal(
        (await api.request('GET', `/v1.0/users/${ORGANIZER}/events/x`, { token: forged })).status,
        401,
      );
    });

    it('answers a call without the needed role with 403 naming the roles', async () => {
      h.sim.state.tenant.apps[0]!.roles = ['OnlineMeetingRecording.Read.All'];
      const r = await api.request('POST', `/v1.0/users/${ORGANIZER}/events`, {
        token: await api.token(),
        body: eventBody(),
      });
      assert.equal(r.status, 403);
      assert.match(r.json.error.message, /API requires one of 'Calendars\.ReadWrite'/);
    });

    it("refuses app-only meeting calls without an application access policy: 403 and Graph's message", async () => {
      const token = await api.token();
      const meeting = await calendarMeeting(token);
      h.sim.state.tenant.apps[0]!.accessPolicyUsers = [];
      for (const path of [
        `onlineMeetings/${encodeURIComponent(meeting.id)}`,
        `onlineMeetings/${encodeURIComponent(meeting.id)}/recordings`,
        `onlineMeetings?$filter=${encodeURIComponent("JoinWebUrl eq 'x'")}`,
      ]) {
        const r = await api.request('GET', `/v1.0/users/${ORGANIZER}/${path}`, { token });
        assert.equal(r.status, 403, path);
        assert.equal(r.json.error.code, 'Forbidden');
        assert.equal(r.json.error.message, 'No Application Access Policy found for this app');
      }
      h.sim.state.tenant.apps[0]!.accessPolicyUsers = ['*'];
      assert.equal(
        (
          await api.request(
            'GET',
            `/v1.0/users/${ORGANIZER}/onlineMeetings/${encodeURIComponent(meeting.id)}`,
            { token },
          )
        ).status,
        200,
        'a global policy covers everyone',
      );
    });
  });

  describe('calendar and online meetings', () => {
    it('creates an event with a Teams join URL, reads, updates and deletes it', async () => {
      const token = await api.token();
      const ev = await api.request('POST', `/v1.0/users/${ORGANIZER}/events`, {
        token,
        body: eventBody({
          start: { dateTime: '2030-03-02T10:00:00', timeZone: 'Europe/Berlin' },
          end: { dateTime: '2030-03-02T11:00:00', timeZone: 'Europe/Berlin' },
        }),
      });
      assert.equal(ev.status, 201);
      assert.equal(ev.json.isOnlineMeeting, true);
      const meeting = h.sim.state.meetings.get(
        h.sim.state.events.get(ev.json.id)!.onlineMeetingId!,
      )!;
      assert.equal(
        meeting.startDateTime,
        '2030-03-02T09:00:00.000Z',
        'time zone converted (Berlin is UTC+1 in March)',
      );
      assert.deepEqual(meeting.attendeeIds, [h.sim.state.tenant.users[1]!.id]);
      const patched = await api.request('PATCH', `/v1.0/users/${ORGANIZER}/events/${ev.json.id}`, {
        token,
        body: { subject: 'Chemistry (moved)' },
      });
      assert.equal(patched.json.subject, 'Chemistry (moved)');
      assert.equal(
        (await api.request('GET', `/v1.0/users/${ORGANIZER}/events/${ev.json.id}`, { token })).json
          .subject,
        'Chemistry (moved)',
      );
      assert.equal(
        (await api.request('DELETE', `/v1.0/users/${ORGANIZER}/events/${ev.json.id}`, { token }))
          .status,
        204,
      );
      assert.equal(
        (await api.request('GET', `/v1.0/users/${ORGANIZER}/events/${ev.json.id}`, { token }))
          .status,
        404,
      );
    });

    it('requires startDateTime and endDateTime on an onlineMeeting PATCH', async () => {
      const token = await api.token();
      const meeting = await calendarMeeting(token);
      const path = `/v1.0/users/${ORGANIZER}/onlineMeetings/${encodeURIComponent(meeting.id)}`;
      const bare = await api.request('PATCH', path, { token, body: { recordAutomatically: true } });
      assert.equal(bare.status, 400);
      assert.match(bare.json.error.message, /startDateTime and endDateTime/);
      assert.equal(
        h.sim.state.meetings.get(meeting.id)!.recordAutomatically,
        false,
        'nothing changed',
      );
      const ok = await api.request('PATCH', path, {
        token,
        body: {
          startDateTime: meeting.startDateTime,
          endDateTime: meeting.endDateTime,
          recordAutomatically: true,
          allowTranscription: false,
        },
      });
      assert.equal(ok.status, 200);
      assert.equal(ok.json.recordAutomatically, true);
      assert.equal(ok.json.allowTranscription, false);
      const unknown = await api.request('PATCH', path, {
        token,
        body: {
          startDateTime: meeting.startDateTime,
          endDateTime: meeting.endDateTime,
          joinWebUrl: 'x',
        },
      });
      assert.equal(unknown.status, 400);
    });

    it('requires the JoinWebUrl filter when listing meetings', async () => {
      const r = await api.request('GET', `/v1.0/users/${ORGANIZER}/onlineMeetings`, {
        token: await api.token(),
      });
      assert.equal(r.status, 400);
    });

    it('gives a bare POST /onlineMeetings meeting no listable recordings or transcripts, ever', async () => {
      const token = await api.token();
      const made = await api.request('POST', `/v1.0/users/${ORGANIZER}/onlineMeetings`, {
        token,
        body: {
          subject: 'Ad hoc',
          startDateTime: '2030-03-02T09:00:00Z',
          endDateTime: '2030-03-02T10:00:00Z',
        },
      });
      assert.equal(made.status, 201);
      await api.request(
        'PATCH',
        `/v1.0/users/${ORGANIZER}/onlineMeetings/${encodeURIComponent(made.json.id)}`,
        {
          token,
          body: {
            startDateTime: made.json.startDateTime,
            endDateTime: made.json.endDateTime,
            recordAutomatically: true,
          },
        },
      );
      h.sim.endMeeting(h.sim.state.meetings.get(made.json.id)!);
      const recordings = await api.request(
        'GET',
        `/v1.0/users/${ORGANIZER}/onlineMeetings/${encodeURIComponent(made.json.id)}/recordings`,
        { token },
      );
      assert.deepEqual(recordings.json.value, []);
      const transcripts = await api.request(
        'GET',
        `/v1.0/users/${ORGANIZER}/onlineMeetings/${encodeURIComponent(made.json.id)}/transcripts`,
        { token },
      );
      assert.deepEqual(transcripts.json.value, []);
      const all = await api.request(
        'GET',
        `/v1.0/users/${ORGANIZER}/onlineMeetings/getAllRecordings(meetingOrganizerUserId='${ORGANIZER}')`,
        { token },
      );
      assert.deepEqual(all.json.value, []);
    });

    it('records only meetings set to record automatically, and transcribes only when allowed', async () => {
      const token = await api.token();
      const quiet = await calendarMeeting(token);
      h.sim.endMeeting(h.sim.state.meetings.get(quiet.id)!);
      assert.deepEqual(
        (
          await api.request(
            'GET',
            `/v1.0/users/${ORGANIZER}/onlineMeetings/${encodeURIComponent(quiet.id)}/recordings`,
            { token },
          )
        ).json.value,
        [],
      );
      const recorded = await calendarMeeting(token);
      await api.request(
        'PATCH',
        `/v1.0/users/${ORGANIZER}/onlineMeetings/${encodeURIComponent(recorded.id)}`,
        {
          token,
          body: {
            startDateTime: recorded.startDateTime,
            endDateTime: recorded.endDateTime,
            recordAutomatically: true,
            allowTranscription: false,
          },
        },
      );
      h.sim.endMeeting(h.sim.state.meetings.get(recorded.id)!);
      assert.equal(
        (
          await api.request(
            'GET',
            `/v1.0/users/${ORGANIZER}/onlineMeetings/${encodeURIComponent(recorded.id)}/recordings`,
            { token },
          )
        ).json.value.length,
        1,
      );
      assert.deepEqual(
        (
          await api.request(
            'GET',
            `/v1.0/users/${ORGANIZER}/onlineMeetings/${encodeURIComponent(recorded.id)}/transcripts`,
            { token },
          )
        ).json.value,
        [],
      );
    });

    it('requires meetingOrganizerUserId (or the organizer filter) on getAllRecordings', async () => {
      const token = await api.token();
      const r = await api.request(
        'GET',
        `/v1.0/users/${ORGANIZER}/onlineMeetings/getAllRecordings`,
        { token },
      );
      assert.equal(r.status, 400);
      const filtered = await api.request(
        'GET',
        `/v1.0/users/${ORGANIZER}/onlineMeetings/getAllRecordings?$filter=${encodeURIComponent(`MeetingOrganizer/User/Id eq '${ORGANIZER}'`)}`,
        { token },
      );
      assert.equal(filtered.status, 200);
    });

    it('ends meetings on the simulator clock, and the time scale speeds that up', async () => {
      const token = await api.token();
      const meeting = await calendarMeeting(token);
      await api.request(
        'PATCH',
        `/v1.0/users/${ORGANIZER}/onlineMeetings/${encodeURIComponent(meeting.id)}`,
        {
          token,
          body: {
            startDateTime: meeting.startDateTime,
            endDateTime: meeting.endDateTime,
            recordAutomatically: true,
          },
        },
      );
      assert.equal(h.sim.state.meetings.get(meeting.id)!.ended, false);
      // The class ends 34 h after the simulated start: advance the clock over it.
      const moved = await api.request('POST', '/_sim/clock', {
        body: { advanceMs: 34 * 3600_000 + 1000 },
      });
      assert.equal(moved.status, 200);
      const deadline = Date.now() + 5000;
      while (!h.sim.state.meetings.get(meeting.id)!.ended && Date.now() < deadline)
        await new Promise((r) => setTimeout(r, 20));
      assert.equal(h.sim.state.meetings.get(meeting.id)!.ended, true);
      const scaled = await api.request('POST', '/_sim/clock', { body: { scale: 60 } });
      assert.equal(scaled.json.scale, 60);
      assert.equal((await api.request('POST', '/_sim/clock', { body: { scale: -1 } })).status, 400);
    });
  });
});
