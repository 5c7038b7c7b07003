import { randomUUID } from 'node:crypto';
import {
  startGraphSim,
  type GraphSimOptions,
  type RunningGraphSim,
  type SimTenant,
} from '../../dev/graph-sim/index.js';
import { GraphApi } from '../../src/graph/index.js';
import { silentLogger } from './logger.js';
import { tempDir } from './mongo.js';

export const APP_ID = '11111111-aaaa-4bbb-8ccc-000000000001';
export const APP_SECRET = 'test-secret-value';
export const ORGANIZER = '22222222-aaaa-4bbb-8ccc-000000000001';
export const LEARNER = '22222222-aaaa-4bbb-8ccc-000000000002';
export const ALL_ROLES = [
  'Calendars.ReadWrite',
  'OnlineMeetings.ReadWrite.All',
  'OnlineMeetingRecording.Read.All',
  'OnlineMeetingTranscript.Read.All',
];

/** A small tenant: one organizer, one learner, one app with every role and an access policy. */
export function testTenant(overrides: Partial<SimTenant> = {}): SimTenant {
  return {
    id: randomUUID(),
    displayName: 'Test School',
    users: [
      {
        id: ORGANIZER,
        displayName: 'Ina Organizer',
        userPrincipalName: 'ina@test.example',
        mail: 'ina@test.example',
      },
      {
        id: LEARNER,
        displayName: 'Leo Learner',
        userPrincipalName: 'leo@test.example',
        mail: 'leo@test.example',
      },
    ],
    teams: [],
    apps: [
      {
        clientId: APP_ID,
        displayName: 'Classroom Recorder (test)',
        secrets: [APP_SECRET],
        roles: ALL_ROLES,
        accessPolicyUsers: [ORGANIZER],
      },
    ],
    subscriptionQuota: 100,
    allowLoopbackHttp: true,
    recordingBytes: 256 * 1024,
    ...overrides,
  };
}

export interface SimHandle {
  sim: RunningGraphSim;
  stop(): Promise<void>;
}

export async function startSim(options: Partial<GraphSimOptions> = {}): Promise<SimHandle> {
  const tls = tempDir('cr-sim-');
  const sim = await startGraphSim({
    tlsDir: tls.dir,
    tenant: testTenant(),
    tickMs: 20,
    delivery: { batchWindowMs: 20, retryBaseMs: 50, retryMaxMs: 200 },
    ...options,
  });
  return {
    sim,
    async stop() {
      await sim.close();
      tls.remove();
    },
  };
}

/** The app's Graph layer pointed at the simulator, TLS verification on. */
export function graphFor(
  sim: RunningGraphSim,
  overrides: { clientSecret?: string; clientId?: string } = {},
): GraphApi {
  return new GraphApi({
    tenantId: sim.state.tenant.id,
    clientId: overrides.clientId ?? APP_ID,
    clientSecret: overrides.clientSecret ?? APP_SECRET,
    authorityHost: sim.url,
    graphBaseUrl: sim.url,
    extraCaFile: sim.caPath,
    logger: silentLogger(),
    retryDelaySeconds: 0,
  });
}

/** The app settings that point the Graph layer at the simulator (as `npm start` does). */
export function graphEnv(sim: RunningGraphSim): Record<string, string> {
  return {
    AAD_APP_TENANT_ID: sim.state.tenant.id,
    AAD_APP_CLIENT_ID: APP_ID,
    SECRET_AAD_APP_CLIENT_SECRET: APP_SECRET,
    AAD_APP_OAUTH_AUTHORITY_HOST: sim.url,
    GRAPH_BASE_URL: sim.url,
    GRAPH_CA_FILE: sim.caPath,
  };
}
