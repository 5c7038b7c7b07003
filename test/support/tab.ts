import { APP_ID, ORGANIZER, testTenant } from './graph.js';
import { jsonOf } from './sim-http.js';
import { eventually, type TestMongo } from './mongo.js';
import { BIOLOGY_TEAM, OUTSIDER, startSyncWorld, type SyncWorld } from './sync.js';

export const OTHER_CHANNEL = '19:chemistry@thread.tacv2';
export const OTHER_TEAM = '7d1c0b8e-2f43-4c0e-9a8b-00000000c4e3';

/** Options of the simulator's SSO token (the Teams client's getAuthToken). */
export interface TokenOptions {
  version?: '1.0' | '2.0';
  audience?: string;
  scope?: string;
  tenantId?: string;
  issuedAt?: string;
  lifetimeSeconds?: number;
  clientId?: string;
}

/**
 * The sync world with one finished class (a recording and its transcript in CHANNEL), a second
 * class team (OTHER_TEAM, where only the outsider learns) holding a recording of its own, and
 * the outsider as a user of the tenant.
 */
export async function startTabWorld(
  mongo: TestMongo,
  options: { recordingBytes?: number; env?: Record<string, string> } = {},
) {
  const w = await startSyncWorld(mongo, {
    tenant: {
      users: [
        ...testTenant().users,
        { id: OUTSIDER, displayName: 'Olga Outsider', userPrincipalName: 'olga@test.example' },
      ],
      teams: [
        BIOLOGY_TEAM,
        {
          id: OTHER_TEAM,
          displayName: 'Chemistry 201',
          owners: [ORGANIZER],
          members: [ORGANIZER, OUTSIDER],
          channels: [{ id: OTHER_CHANNEL, displayName: 'General' }],
        },
      ],
      ...(options.recordingBytes ? { recordingBytes: options.recordingBytes } : {}),
    },
    env: options.env,
  });
  const { url } = await w.startInstance();
  const meeting = await w.schedule();
  await w.subscribed();
  w.endMeeting(meeting.onlineMeetingId!);
  const ready = await eventually(async () => {
    const r = await w.store.recordings.listByMeeting(meeting._id);
    return (
      w.recordingCards().length === 1 &&
      r.length === 1 &&
      r[0]!.transcriptIds.length === 1 &&
      (await w.store.transcripts.listByMeeting(meeting._id)).length === 1
    );
  }, 20_000);
  if (!ready) throw new Error('the recording and its transcript did not arrive');
  const [recording] = await w.store.recordings.listByMeeting(meeting._id);

  // The other class: known to the bot, with a recording the learner must not reach.
  const now = w.now();
  await w.store.conversations.upsert({
    _id: OTHER_CHANNEL,
    kind: 'channel',
    tenantId: w.sim.state.tenant.id,
    teamId: 'team-2',
    teamAadGroupId: OTHER_TEAM,
    teamName: 'Chemistry 201',
    channelId: OTHER_CHANNEL,
    channelName: 'General',
    serviceUrl: w.connector.serviceUrl,
    reference: { conversation: { id: OTHER_CHANNEL } },
    updatedAt: now,
  });
  await w.store.recordings.upsert(
    {
      _id: 'chemistry-recording-1',
      meetingId: 'chemistry-meeting-1',
      onlineMeetingId: 'chemistry-online-1',
      organizerId: ORGANIZER,
      conversationId: OTHER_CHANNEL,
      title: 'Chemistry 201 – Week 1',
      createdDateTime: now,
      contentUrl: '',
    },
    now,
  );

  async function token(userId: string, o: TokenOptions = {}): Promise<string> {
    const r = await w.simHttp.request('POST', '/_sim/sso-token', {
      body: { userId, clientId: o.clientId ?? APP_ID, ...o },
    });
    if (r.status !== 200) throw new Error(`sso-token: ${r.status} ${r.text}`);
    return r.json.token as string;
  }

  /** Calls the tab API as the tab does (Bearer token). */
  async function api(
    path: string,
    bearer: string | undefined,
    init: { method?: string; headers?: Record<string, string>; body?: string } = {},
  ) {
    const res = await fetch(`${url}${path}`, {
      method: init.method ?? 'GET',
      headers: { ...(bearer ? { authorization: `Bearer ${bearer}` } : {}), ...init.headers },
      body: init.body,
    });
    const text = await res.text();
    return { status: res.status, headers: res.headers, json: jsonOf(text), text };
  }

  return { w, url, meeting, recording: recording!, token, api };
}

export type TabWorld = Awaited<ReturnType<typeof startTabWorld>>;
export type { SyncWorld };
