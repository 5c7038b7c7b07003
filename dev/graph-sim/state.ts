import { randomBytes, randomUUID } from 'node:crypto';
import type { SimTenant, SimUser } from './tenant.js';

/** A calendar event made through `POST /users/{id}/events`. */
export interface SimEvent {
  id: string;
  organizerId: string;
  transactionId?: string;
  subject: string;
  body: { contentType: string; content: string };
  start: { dateTime: string; timeZone: string };
  end: { dateTime: string; timeZone: string };
  attendees: { type: string; emailAddress: { name?: string; address: string } }[];
  isOnlineMeeting: boolean;
  onlineMeetingProvider: string;
  onlineMeetingId?: string;
  createdDateTime: string;
  lastModifiedDateTime: string;
}

/** An online meeting: from a calendar event, or a bare `POST /onlineMeetings`. */
export interface SimMeeting {
  id: string;
  organizerId: string;
  subject: string;
  joinWebUrl: string;
  threadId: string;
  startDateTime: string;
  endDateTime: string;
  creationDateTime: string;
  recordAutomatically: boolean;
  allowRecording: boolean;
  allowTranscription: boolean;
  /** Only calendar-backed meetings get listable recordings and transcripts (as on Graph). */
  fromCalendar: boolean;
  eventId?: string;
  attendeeIds: string[];
  ended: boolean;
  /** Per-meeting override of the recording size. */
  recordingBytes?: number;
}

export type ArtifactKind = 'recording' | 'transcript';

/** A recording or transcript, created when its meeting ends. */
export interface SimArtifact {
  kind: ArtifactKind;
  id: string;
  meetingId: string;
  organizerId: string;
  createdDateTime: string;
  endDateTime: string;
  /** Order of creation, for delta tokens. */
  seq: number;
  size: number;
}

export interface SimSubscription {
  id: string;
  appId: string;
  tenantId: string;
  resource: string;
  changeType: string;
  notificationUrl: string;
  lifecycleNotificationUrl?: string;
  clientState?: string;
  expirationDateTime: Date;
  includeResourceData: boolean;
  encryptionCertificate?: string;
  encryptionCertificateId?: string;
  latestSupportedTlsVersion: string;
  reauthorizationSent: boolean;
}

/** Everything the simulated Graph holds. */
export class SimState {
  tenant: SimTenant;
  readonly events = new Map<string, SimEvent>();
  readonly meetings = new Map<string, SimMeeting>();
  readonly artifacts = new Map<string, SimArtifact>();
  readonly subscriptions = new Map<string, SimSubscription>();
  private seq = 0;

  constructor(tenant: SimTenant) {
    this.tenant = tenant;
  }

  /** A user by id or user principal name (Graph accepts both in paths). */
  user(idOrUpn: string): SimUser | undefined {
    const key = idOrUpn.toLowerCase();
    return this.tenant.users.find(
      (u) => u.id.toLowerCase() === key || u.userPrincipalName.toLowerCase() === key,
    );
  }

  userByEmail(address: string): SimUser | undefined {
    const key = address.toLowerCase();
    return this.tenant.users.find(
      (u) => u.mail?.toLowerCase() === key || u.userPrincipalName.toLowerCase() === key,
    );
  }

  app(clientId: string) {
    return this.tenant.apps.find((a) => a.clientId === clientId);
  }

  newMeeting(
    organizer: SimUser,
    fields: Pick<
      SimMeeting,
      'subject' | 'startDateTime' | 'endDateTime' | 'fromCalendar' | 'attendeeIds'
    > & { eventId?: string },
    now: Date,
  ): SimMeeting {
    const thread = `19:meeting_${randomBytes(24).toString('base64url')}@thread.v2`;
    // Graph's onlineMeeting ids are base64 of "1*{organizer}*0**{thread}".
    const id = Buffer.from(`1*${organizer.id}*0**${thread}`).toString('base64');
    const context = encodeURIComponent(JSON.stringify({ Tid: this.tenant.id, Oid: organizer.id }));
    const meeting: SimMeeting = {
      id,
      organizerId: organizer.id,
      threadId: thread,
      joinWebUrl: `https://teams.microsoft.com/l/meetup-join/${encodeURIComponent(thread)}/0?context=${context}`,
      creationDateTime: now.toISOString(),
      recordAutomatically: false,
      allowRecording: true,
      allowTranscription: true,
      ended: false,
      ...fields,
    };
    this.meetings.set(id, meeting);
    return meeting;
  }

  newArtifact(kind: ArtifactKind, meeting: SimMeeting, now: Date, size: number): SimArtifact {
    const seq = ++this.seq;
    const prefix = kind === 'recording' ? 'VjIjIz' : 'MSMjMCMj';
    const artifact: SimArtifact = {
      kind,
      id: `${prefix}${Buffer.from(`${meeting.id}#${seq}#${randomUUID()}`).toString('base64')}`,
      meetingId: meeting.id,
      organizerId: meeting.organizerId,
      // Recording starts with the meeting (recordAutomatically) and ends when it ends.
      createdDateTime: new Date(
        Math.min(Date.parse(meeting.startDateTime), now.getTime()),
      ).toISOString(),
      endDateTime: now.toISOString(),
      seq,
      size,
    };
    this.artifacts.set(artifact.id, artifact);
    return artifact;
  }

  artifactsOf(kind: ArtifactKind, filter: (a: SimArtifact) => boolean): SimArtifact[] {
    return [...this.artifacts.values()]
      .filter((a) => a.kind === kind && filter(a))
      .sort((a, b) => a.seq - b.seq);
  }
}

/** Graph's JSON for a user identity inside meetings and artifacts. */
export function identityOf(user: SimUser | undefined, tenantId: string, id: string) {
  return {
    application: null,
    device: null,
    user: {
      '@odata.type': '#microsoft.graph.teamworkUserIdentity',
      id,
      displayName: user?.displayName ?? null,
      userIdentityType: 'aadUser',
      tenantId,
    },
  };
}

export function meetingJson(state: SimState, m: SimMeeting) {
  const organizer = state.user(m.organizerId);
  return {
    id: m.id,
    creationDateTime: m.creationDateTime,
    startDateTime: m.startDateTime,
    endDateTime: m.endDateTime,
    joinUrl: m.joinWebUrl,
    joinWebUrl: m.joinWebUrl,
    subject: m.subject,
    isBroadcast: false,
    allowRecording: m.allowRecording,
    allowTranscription: m.allowTranscription,
    recordAutomatically: m.recordAutomatically,
    allowMeetingChat: 'enabled',
    chatInfo: { threadId: m.threadId, messageId: '0', replyChainMessageId: null },
    participants: {
      organizer: {
        upn: organizer?.userPrincipalName,
        role: 'presenter',
        identity: {
          user: {
            id: m.organizerId,
            displayName: organizer?.displayName ?? null,
            tenantId: state.tenant.id,
          },
        },
      },
      attendees: m.attendeeIds.map((id) => {
        const u = state.user(id);
        return {
          upn: u?.userPrincipalName,
          role: 'attendee',
          identity: {
            user: { id, displayName: u?.displayName ?? null, tenantId: state.tenant.id },
          },
        };
      }),
    },
  };
}

export function artifactJson(state: SimState, a: SimArtifact, baseUrl: string) {
  const path = `users/${a.organizerId}/onlineMeetings/${a.meetingId}/${a.kind === 'recording' ? 'recordings' : 'transcripts'}/${a.id}/content`;
  const common = {
    id: a.id,
    meetingId: a.meetingId,
    callId: a.meetingId.slice(0, 36),
    contentCorrelationId: `${a.seq}-${a.meetingId.slice(-12)}`,
    createdDateTime: a.createdDateTime,
    endDateTime: a.endDateTime,
    meetingOrganizer: identityOf(state.user(a.organizerId), state.tenant.id, a.organizerId),
  };
  return a.kind === 'recording'
    ? {
        '@odata.type': '#microsoft.graph.callRecording',
        ...common,
        recordingContentUrl: `${baseUrl}/v1.0/${path}`,
      }
    : {
        '@odata.type': '#microsoft.graph.callTranscript',
        ...common,
        transcriptContentUrl: `${baseUrl}/v1.0/${path}`,
      };
}
