import { randomUUID } from 'node:crypto';

/** A user of the simulated tenant. */
export interface SimUser {
  id: string;
  displayName: string;
  userPrincipalName: string;
  mail?: string;
}

export interface SimChannel {
  id: string;
  displayName: string;
}

/** A class team: members and channels. */
export interface SimTeam {
  id: string;
  displayName: string;
  /** User ids; owners are members too. */
  members: string[];
  owners: string[];
  channels: SimChannel[];
}

/** An Entra app registration with its granted application permissions. */
export interface SimApp {
  clientId: string;
  displayName: string;
  /** Client secrets that the token endpoint accepts. */
  secrets: string[];
  /** Certificates (PEM) whose keys may sign client assertions. */
  certificates?: string[];
  /** Application permissions (app roles) granted with admin consent, e.g. Calendars.ReadWrite. */
  roles: string[];
  /**
   * Teams application access policy: organizers this app may act for in app-only meeting
   * calls. `'*'` stands for a tenant-wide (global) policy.
   */
  accessPolicyUsers: string[];
}

/** A security group (e.g. the instructors), for checkMemberGroups. */
export interface SimGroup {
  id: string;
  displayName: string;
  members: string[];
}

export interface SimTenant {
  id: string;
  displayName: string;
  users: SimUser[];
  teams: SimTeam[];
  groups?: SimGroup[];
  apps: SimApp[];
  /** Maximum subscriptions per app for recordings/transcripts resources (quota). */
  subscriptionQuota: number;
  /**
   * Allow http:// notification URLs on loopback only, standing in for the dev tunnel a
   * developer would use. Graph itself requires https, and so does the simulator by default.
   */
  allowLoopbackHttp: boolean;
  /** Size of each generated recording, in bytes. */
  recordingBytes: number;
}

/** Stable ids for the demo tenant, so that env/.env.local can name them. */
export const DEMO = {
  tenantId: 'a1d286db-6149-4b3d-95ad-23c9e1bf6853',
  appClientId: '6f0b3b8e-6a47-4f7b-9a61-3c2a9f0b1d10',
  instructorId: '8b081ef6-4792-4def-b2c9-c363a1bf41d5',
  teamId: '2c1c7e0a-5b0a-4a43-8b2e-6f3f5d1c9a01',
  generalChannelId: '19:general-biology101@thread.tacv2',
  labChannelId: '19:lab-biology101@thread.tacv2',
} as const;

const LEARNERS = ['Ada Okafor', 'Ben Carter', 'Chen Wei', 'Dina Haddad', 'Emil Novak'];

/**
 * The tenant `npm start` runs against: one instructor, five learners (the most the Agents Playground config takes besides you), one class team. The app's
 * secret is made fresh by the launcher for each run, so none is ever committed.
 */
export function demoTenant(appSecret: string = randomUUID()): SimTenant {
  const learners: SimUser[] = LEARNERS.map((name, i) => {
    const first = name.split(' ')[0]!.toLowerCase();
    return {
      id: `0000000${i + 1}-1111-4222-8333-44445555666${i}`,
      displayName: name,
      userPrincipalName: `${first}@school.example`,
      mail: `${first}@school.example`,
    };
  });
  const instructor: SimUser = {
    id: DEMO.instructorId,
    displayName: 'Dr. Maya Lindqvist',
    userPrincipalName: 'maya@school.example',
    mail: 'maya@school.example',
  };
  return {
    id: DEMO.tenantId,
    displayName: 'Riverside School (simulated)',
    users: [instructor, ...learners],
    teams: [
      {
        id: DEMO.teamId,
        displayName: 'Biology 101',
        members: [instructor.id, ...learners.map((u) => u.id)],
        owners: [instructor.id],
        channels: [
          { id: DEMO.generalChannelId, displayName: 'General' },
          { id: DEMO.labChannelId, displayName: 'Lab sessions' },
        ],
      },
    ],
    apps: [
      {
        clientId: DEMO.appClientId,
        displayName: 'Classroom Recorder (local)',
        secrets: [appSecret],
        roles: [
          'Calendars.ReadWrite',
          'OnlineMeetings.ReadWrite.All',
          'OnlineMeetingRecording.Read.All',
          'OnlineMeetingTranscript.Read.All',
          'TeamMember.Read.All',
          'GroupMember.Read.All',
          'User.Read.All',
        ],
        accessPolicyUsers: [instructor.id],
      },
    ],
    subscriptionQuota: 100,
    allowLoopbackHttp: true,
    recordingBytes: 8 * 1024 * 1024,
  };
}

/** An empty tenant with one app, for tests that build exactly what they need. */
export function bareTenant(overrides: Partial<SimTenant> = {}): SimTenant {
  return {
    id: randomUUID(),
    displayName: 'Test tenant',
    users: [],
    teams: [],
    apps: [],
    subscriptionQuota: 100,
    allowLoopbackHttp: false,
    recordingBytes: 1024 * 1024,
    ...overrides,
  };
}
