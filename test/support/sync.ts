import fs from 'node:fs';
import { freePort } from '../../dev/net.js';
import path from 'node:path';
import { classroomRoutes } from '../../src/classroom.js';
import { makeEncryptionCertificatePem } from '../../dev/notification-cert.js';
import type { SimTenant } from '../../dev/graph-sim/index.js';
import { loadConfig } from '../../src/config/index.js';
import { createApp, type App } from '../../src/server/index.js';
import { createStore, type Store } from '../../src/store/index.js';
import type { SyncRuntime } from '../../src/sync/index.js';
import { channelMessage, startConnector, type RosterMember } from './connector.js';
import { graphEnv, LEARNER, ORGANIZER, startSim, testTenant, type SimHandle } from './graph.js';
import { silentLogger } from './logger.js';
import { eventually, tempDir, uniqueDbName, type TestMongo } from './mongo.js';
import { simClient } from './sim-http.js';

export const NOW = new Date('2030-03-01T08:00:00Z');
export const CHANNEL = '19:biology@thread.tacv2';
export const TEAM_GROUP = '7d1c0b8e-2f43-4c0e-9a8b-1f2e3d4c5b6a';
export const OUTSIDER = '22222222-aaaa-4bbb-8ccc-000000000077';
/** The class team of the sync world: the organizer owns it, the learner learns in it. */
export const BIOLOGY_TEAM = {
  id: TEAM_GROUP,
  displayName: 'Biology 101',
  owners: [ORGANIZER],
  members: [ORGANIZER, LEARNER],
  channels: [{ id: CHANNEL, displayName: 'General' }],
};
export { freePort };
export const LINK_KEY = 'test-download-link-key-0123456789abcdef';
const roster: RosterMember[] = [
  { id: '29:ina', name: 'Ina Organizer', aadObjectId: ORGANIZER, email: 'ina@test.example' },
  { id: '29:leo', name: 'Leo Learner', aadObjectId: LEARNER, email: 'leo@test.example' },
];

/** Whether an activity the bot sent carries the recording card. */
function isRecordingCard(activity: Record<string, unknown>): boolean {
  const card = (
    activity.attachments as { content?: { body?: { text?: string }[] } }[] | undefined
  )?.[0]?.content;
  return card?.body?.[0]?.text === 'New class recording';
}

export interface SyncWorldOptions {
  /** Rich notifications (includeResourceData, encrypted for a test certificate). */
  rich?: boolean;
  scope?: 'organizer' | 'tenant';
  tenant?: Partial<SimTenant>;
  /** Extra app settings. */
  env?: Record<string, string>;
  /** The simulator on real time (for an app in a child process, which uses the real clock). */
  realTime?: boolean;
}

/**
 * The recording-sync world over real protocols: the Graph simulator (HTTPS, delivering to the
 * app's webhook), the app with the bot and the sync, a Bot Connector stand-in for the class
 * channel, and MongoDB. The app's clock is the simulator's protocol clock, as Graph's would be.
 */
export async function startSyncWorld(mongo: TestMongo, options: SyncWorldOptions = {}) {
  const h: SimHandle = await startSim({
    startTime: options.realTime ? undefined : NOW,
    tenant: testTenant({
      teams: [BIOLOGY_TEAM],
      ...options.tenant,
    }),
  });
  h.sim.state.tenant.apps[0]!.roles.push('TeamMember.Read.All', 'GroupMember.Read.All');
  const connector = await startConnector(roster, {
    'team-1': { name: 'Biology 101', aadGroupId: TEAM_GROUP },
  });
  const files = tempDir('cr-sync-');
  let certFile: string | undefined;
  if (options.rich) {
    certFile = path.join(files.dir, 'notifications.pem');
    fs.writeFileSync(certFile, await makeEncryptionCertificatePem());
  }
  const dbName = uniqueDbName('sync');
  const now = () => h.sim.clock.protocolNow();
  const apps: { app: App; runtime: SyncRuntime; url: string }[] = [];
  let own: Store | undefined;

  /** Starts one app instance on the shared store (call twice for two instances). */
  async function startInstance(extra: Record<string, string> = {}) {
    const port = await freePort();
    const config = loadConfig({
      MONGODB_URI: mongo.uri,
      MONGODB_DB: dbName,
      PORT: String(port),
      HOST: '127.0.0.1',
      DEFAULT_TIME_ZONE: 'Europe/Berlin',
      PUBLIC_BASE_URL: `http://127.0.0.1:${port}`,
      SECRET_DOWNLOAD_LINK_KEY: LINK_KEY,
      SUBSCRIPTION_SCOPE: options.scope ?? 'organizer',
      ...(certFile ? { NOTIFICATION_CERT_FILE: certFile } : {}),
      ...graphEnv(h.sim),
      ...options.env,
      ...extra,
    });
    const logger = silentLogger();
    let runtime: SyncRuntime | undefined;
    const app = createApp({
      config,
      logger,
      routes: classroomRoutes(config, {
        logger,
        now,
        retryDelayMs: 1,
        timing: {
          workerPollMs: 50,
          leaseMs: 3000,
          backoffBaseMs: 50,
          managerTickMs: 200,
          managerLeaseMs: 1500,
        },
        onSync: (r) => (runtime = r),
      }),
    });
    const { url } = await app.start();
    const entry = { app, runtime: runtime!, url };
    apps.push(entry);
    return entry;
  }

  let seq = 0;
  /** A message in the class channel, as Teams would send it to the bot. */
  function activity(text: string, overrides: Record<string, unknown> = {}) {
    return channelMessage(
      text,
      {
        id: `act-${++seq}`,
        serviceUrl: connector.serviceUrl,
        tenantId: h.sim.state.tenant.id,
        timestamp: now(),
        channelId: CHANNEL,
        teamGroupId: TEAM_GROUP,
      },
      overrides,
    );
  }

  async function postActivity(base: string, body: unknown): Promise<Response> {
    return fetch(`${base}/api/messages`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
  }

  const world = {
    h,
    sim: h.sim,
    dbName,
    certFile,
    simHttp: simClient(h.sim),
    connector,
    apps,
    startInstance,
    activity,
    postActivity,
    now,
    /** The shared store (through the first instance, or a connection of the test's own). */
    get store(): Store {
      if (apps[0]) return apps[0].app.store;
      own ??= createStore({ uri: mongo.uri, dbName, logger: silentLogger() });
      return own;
    },
    /** Schedules a class through the bot; resolves to the stored meeting once subscribed. */
    async schedule(title = 'Biology 101 – Week 3', when = 'tomorrow 10:00 for 60 min') {
      const base = apps[0]!.url;
      const res = await postActivity(base, activity(`schedule "${title}" ${when}`));
      if (res.status !== 200) throw new Error(`schedule: ${res.status} ${await res.text()}`);
      const meeting = await world.store.meetings.listByOrganizer(ORGANIZER, 50);
      const m = meeting.find((x) => x.title === title);
      if (m?.recordingStatus !== 'enabled') throw new Error(`not scheduled: ${JSON.stringify(m)}`);
      return m;
    },
    /** Waits until the subscriptions for the organizer exist. */
    async subscribed(count = 2): Promise<void> {
      const ok = await eventually(async () => h.sim.state.subscriptions.size >= count, 10_000);
      if (!ok)
        throw new Error(`expected ${count} subscriptions, got ${h.sim.state.subscriptions.size}`);
      // …and are stored (the manager stores each right after Graph answers).
      await eventually(
        async () => (await world.store.db.collection('subscriptions').countDocuments()) >= count,
        5000,
      );
    },
    /** Ends the meeting on the simulator: its recording and transcript appear and are notified. */
    endMeeting(onlineMeetingId: string): void {
      const m = h.sim.state.meetings.get(onlineMeetingId);
      if (!m) throw new Error(`no simulator meeting ${onlineMeetingId}`);
      h.sim.endMeeting(m);
    },
    /** Recording cards the connector received (new posts). */
    recordingCards() {
      return connector.activities.filter((a) => isRecordingCard(a.activity));
    },
    /** Cards updated in place. */
    recordingCardUpdates() {
      return connector.updates.filter((u) => isRecordingCard(u.activity));
    },
    async stop(): Promise<void> {
      for (const a of apps.splice(0)) await a.app.stop();
      await own?.close();
      await connector.close();
      await h.stop();
      files.remove();
    },
  };
  return world;
}

export type SyncWorld = Awaited<ReturnType<typeof startSyncWorld>>;
