import { Readable } from 'node:stream';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import { ResponseType, type Client } from '@microsoft/microsoft-graph-client';
import type { Dispatcher } from 'undici';
import type { Logger } from '../logging/index.js';
import { createGraphClients, type GraphCredentials } from './client.js';
import { toGraphRequestError } from './errors.js';
import { createDispatcher } from './transport.js';

export { createDispatcher } from './transport.js';
export { toGraphRequestError } from './errors.js';

// ---- the shapes the app reads (a subset of Graph's resources) -----------------------------

export interface DateTimeTimeZone {
  dateTime: string;
  timeZone: string;
}

export interface GraphEvent {
  id: string;
  subject: string;
  start: DateTimeTimeZone;
  end: DateTimeTimeZone;
  isOnlineMeeting: boolean;
  onlineMeeting: { joinUrl: string } | null;
  webLink?: string;
  transactionId?: string | null;
}

export interface NewClassEvent {
  subject: string;
  bodyHtml?: string;
  start: DateTimeTimeZone;
  end: DateTimeTimeZone;
  attendees: { address: string; name?: string }[];
  /** Graph's idempotency key for POST /events: a retried request returns the same event. */
  transactionId: string;
}

export interface OnlineMeeting {
  id: string;
  joinWebUrl: string;
  subject: string | null;
  startDateTime: string;
  endDateTime: string;
  recordAutomatically?: boolean;
  allowRecording?: boolean;
  allowTranscription?: boolean;
  chatInfo?: { threadId: string };
}

/** Graph requires startDateTime and endDateTime on every onlineMeeting PATCH. */
export interface OnlineMeetingPatch {
  startDateTime: string;
  endDateTime: string;
  recordAutomatically?: boolean;
  allowRecording?: boolean;
  allowTranscription?: boolean;
  subject?: string;
}

interface OrganizerIdentity {
  user?: { id: string; displayName?: string | null; tenantId?: string };
}

export interface CallRecording {
  id: string;
  meetingId: string;
  createdDateTime: string;
  endDateTime?: string;
  recordingContentUrl?: string;
  contentCorrelationId?: string;
  meetingOrganizer?: OrganizerIdentity;
}

export interface CallTranscript {
  id: string;
  meetingId: string;
  createdDateTime: string;
  endDateTime?: string;
  transcriptContentUrl?: string;
  meetingOrganizer?: OrganizerIdentity;
}

export interface Subscription {
  id: string;
  resource: string;
  changeType: string;
  notificationUrl: string;
  lifecycleNotificationUrl?: string | null;
  expirationDateTime: string;
  clientState?: string | null;
  includeResourceData?: boolean;
  applicationId?: string;
}

export interface NewSubscription {
  resource: string;
  notificationUrl: string;
  lifecycleNotificationUrl?: string;
  expirationDateTime: string;
  clientState: string;
  includeResourceData?: boolean;
  encryptionCertificate?: string;
  encryptionCertificateId?: string;
}

/** A byte stream from Graph with the headers a proxy needs to pass on. */
export interface ContentStream {
  /** 416: the range is beyond the file (`contentRange` says its size; the stream is empty). */
  status: 200 | 206 | 416;
  stream: Readable;
  contentType: string;
  contentLength?: number;
  contentRange?: string;
}

export interface DeltaPage<T> {
  items: T[];
  /** Pass back for the next incremental round. */
  deltaLink: string;
}

// ---- the API -------------------------------------------------------------------------------

export interface GraphApiOptions extends GraphCredentials {
  graphBaseUrl: string;
  /** Extra CA to trust (local mode: the simulator's). */
  extraCaFile?: string;
  logger: Logger;
  dispatcher?: Dispatcher;
  maxRetries?: number;
  retryDelaySeconds?: number;
}

const enc = encodeURIComponent;

/**
 * The app's only path to Microsoft Graph: one typed function per call, typed errors
 * (GraphRequestError) with admin-facing messages, and streams for large content.
 */
export class GraphApi {
  private readonly client: Client;
  private readonly dispatcher: Dispatcher;
  readonly token: () => Promise<string>;

  constructor(options: GraphApiOptions) {
    this.dispatcher = options.dispatcher ?? createDispatcher(options.extraCaFile);
    const clients = createGraphClients({ ...options, dispatcher: this.dispatcher });
    this.client = clients.client;
    this.token = clients.token;
  }

  private async call<T>(
    operation: string,
    fn: (c: Client) => Promise<T>,
    organizerId?: string,
  ): Promise<T> {
    try {
      // Token first, outside graph-client: msal's own errors (invalid_client…) stay readable
      // instead of being flattened into a network error. msal serves it from its cache.
      await this.token();
      return await fn(this.client);
    } catch (err) {
      throw toGraphRequestError(operation, err, { organizerId });
    }
  }

  // events

  createEvent(organizerId: string, e: NewClassEvent): Promise<GraphEvent> {
    return this.call('creating the calendar event', (c) =>
      c.api(`/users/${enc(organizerId)}/events`).post({
        subject: e.subject,
        body: { contentType: 'html', content: e.bodyHtml ?? '' },
        start: e.start,
        end: e.end,
        attendees: e.attendees.map((a) => ({
          type: 'required',
          emailAddress: { address: a.address, name: a.name },
        })),
        isOnlineMeeting: true,
        onlineMeetingProvider: 'teamsForBusiness',
        allowNewTimeProposals: false,
        transactionId: e.transactionId,
      }),
    );
  }

  getEvent(organizerId: string, eventId: string): Promise<GraphEvent> {
    return this.call('reading the calendar event', (c) =>
      c.api(`/users/${enc(organizerId)}/events/${enc(eventId)}`).get(),
    );
  }

  updateEvent(
    organizerId: string,
    eventId: string,
    patch: Partial<Pick<GraphEvent, 'subject' | 'start' | 'end'>>,
  ): Promise<GraphEvent> {
    return this.call('updating the calendar event', (c) =>
      c.api(`/users/${enc(organizerId)}/events/${enc(eventId)}`).patch(patch),
    );
  }

  /** Deletes an event; false when it was already gone (404 on delete is fine). */
  async deleteEvent(organizerId: string, eventId: string): Promise<boolean> {
    try {
      await this.call('deleting the calendar event', (c) =>
        c.api(`/users/${enc(organizerId)}/events/${enc(eventId)}`).delete(),
      );
      return true;
    } catch (err) {
      if ((err as { code?: string }).code === 'GRAPH_NOT_FOUND') return false;
      throw err;
    }
  }

  // online meetings

  /** The onlineMeeting behind a calendar event, found by its join URL. */
  async findMeetingByJoinUrl(
    organizerId: string,
    joinWebUrl: string,
  ): Promise<OnlineMeeting | undefined> {
    const res = await this.call(
      'finding the online meeting by join URL',
      // The join URL goes in percent-encoded, as Graph's docs show: graph-client only encodes
      // spaces and quotes, and the URL's own %xx sequences must survive the server's decoding.
      (c) =>
        c
          .api(`/users/${enc(organizerId)}/onlineMeetings`)
          .filter(`JoinWebUrl eq '${enc(joinWebUrl.replace(/'/g, "''"))}'`)
          .get() as Promise<{ value: OnlineMeeting[] }>,
      organizerId,
    );
    return res.value[0];
  }

  getMeeting(organizerId: string, meetingId: string): Promise<OnlineMeeting> {
    return this.call(
      'reading the online meeting',
      (c) => c.api(`/users/${enc(organizerId)}/onlineMeetings/${enc(meetingId)}`).get(),
      organizerId,
    );
  }

  updateMeeting(
    organizerId: string,
    meetingId: string,
    patch: OnlineMeetingPatch,
  ): Promise<OnlineMeeting> {
    return this.call(
      'updating the online meeting',
      (c) => c.api(`/users/${enc(organizerId)}/onlineMeetings/${enc(meetingId)}`).patch(patch),
      organizerId,
    );
  }

  // recordings and transcripts

  async listRecordings(organizerId: string, meetingId: string): Promise<CallRecording[]> {
    const res = await this.call(
      'listing recordings',
      (c) =>
        c
          .api(`/users/${enc(organizerId)}/onlineMeetings/${enc(meetingId)}/recordings`)
          .get() as Promise<{ value: CallRecording[] }>,
      organizerId,
    );
    return res.value;
  }

  getRecording(
    organizerId: string,
    meetingId: string,
    recordingId: string,
  ): Promise<CallRecording> {
    return this.call(
      'reading the recording',
      (c) =>
        c
          .api(
            `/users/${enc(organizerId)}/onlineMeetings/${enc(meetingId)}/recordings/${enc(recordingId)}`,
          )
          .get(),
      organizerId,
    );
  }

  async listTranscripts(organizerId: string, meetingId: string): Promise<CallTranscript[]> {
    const res = await this.call(
      'listing transcripts',
      (c) =>
        c
          .api(`/users/${enc(organizerId)}/onlineMeetings/${enc(meetingId)}/transcripts`)
          .get() as Promise<{ value: CallTranscript[] }>,
      organizerId,
    );
    return res.value;
  }

  getTranscript(
    organizerId: string,
    meetingId: string,
    transcriptId: string,
  ): Promise<CallTranscript> {
    return this.call(
      'reading the transcript',
      (c) =>
        c
          .api(
            `/users/${enc(organizerId)}/onlineMeetings/${enc(meetingId)}/transcripts/${enc(transcriptId)}`,
          )
          .get(),
      organizerId,
    );
  }

  /** The transcript as WebVTT text (transcripts are small). */
  async getTranscriptVtt(
    organizerId: string,
    meetingId: string,
    transcriptId: string,
  ): Promise<string> {
    const res = await this.call(
      'downloading the transcript',
      (c) =>
        c
          .api(
            `/users/${enc(organizerId)}/onlineMeetings/${enc(meetingId)}/transcripts/${enc(transcriptId)}/content`,
          )
          .query({ $format: 'text/vtt' })
          .responseType(ResponseType.TEXT)
          .get() as Promise<string>,
      organizerId,
    );
    return res;
  }

  /**
   * The recording's bytes as a stream, never buffered. `range` is passed through as an HTTP
   * Range header, so a 206 slice comes back for seeking players.
   */
  async getRecordingContent(
    organizerId: string,
    meetingId: string,
    recordingId: string,
    range?: string,
  ): Promise<ContentStream> {
    const operation = 'downloading the recording';
    const res = await this.call(
      operation,
      (c) => {
        let req = c
          .api(
            `/users/${enc(organizerId)}/onlineMeetings/${enc(meetingId)}/recordings/${enc(recordingId)}/content`,
          )
          .responseType(ResponseType.RAW);
        if (range) req = req.header('Range', range);
        return req.get() as Promise<Response>;
      },
      organizerId,
    );
    if (res.status === 416) {
      // The range is beyond the file: the caller answers 416 with Graph's `bytes */size`.
      await res.body?.cancel();
      return {
        status: 416,
        stream: Readable.from([]),
        contentType: 'video/mp4',
        contentLength: 0,
        contentRange: res.headers.get('content-range') ?? undefined,
      };
    }
    if (res.status !== 200 && res.status !== 206) {
      await res.body?.cancel();
      throw toGraphRequestError(
        operation,
        Object.assign(new Error(`HTTP ${res.status}`), { statusCode: res.status }),
        { organizerId },
      );
    }
    const length = res.headers.get('content-length');
    return {
      status: res.status,
      stream: Readable.fromWeb(res.body as unknown as WebReadableStream<Uint8Array>),
      contentType: res.headers.get('content-type') ?? 'video/mp4',
      contentLength: length ? Number(length) : undefined,
      contentRange: res.headers.get('content-range') ?? undefined,
    };
  }

  /** One incremental round of getAllRecordings/delta for an organizer, following nextLinks. */
  recordingsDelta(organizerId: string, deltaLink?: string): Promise<DeltaPage<CallRecording>> {
    return this.delta(
      `/users/${enc(organizerId)}/onlineMeetings/getAllRecordings(meetingOrganizerUserId='${organizerId}')/delta`,
      'syncing recordings',
      organizerId,
      deltaLink,
    );
  }

  transcriptsDelta(organizerId: string, deltaLink?: string): Promise<DeltaPage<CallTranscript>> {
    return this.delta(
      `/users/${enc(organizerId)}/onlineMeetings/getAllTranscripts(meetingOrganizerUserId='${organizerId}')/delta`,
      'syncing transcripts',
      organizerId,
      deltaLink,
    );
  }

  private async delta<T>(
    path: string,
    operation: string,
    organizerId: string,
    deltaLink?: string,
  ): Promise<DeltaPage<T>> {
    const items: T[] = [];
    let next: string = deltaLink ?? path;
    for (let page = 0; page < 1000; page++) {
      const res = await this.call(
        operation,
        (c) =>
          c.api(next).get() as Promise<{
            value: T[];
            '@odata.nextLink'?: string;
            '@odata.deltaLink'?: string;
          }>,
        organizerId,
      );
      items.push(...res.value);
      if (res['@odata.deltaLink']) return { items, deltaLink: res['@odata.deltaLink'] };
      if (!res['@odata.nextLink'])
        throw toGraphRequestError(
          operation,
          new Error('delta response had neither nextLink nor deltaLink'),
        );
      next = res['@odata.nextLink'];
    }
    throw toGraphRequestError(operation, new Error('delta did not finish within 1000 pages'));
  }

  // teams and groups

  /** A team's members with their roles (`owner` or none); the team id is its group id. */
  async listTeamMembers(
    teamGroupId: string,
  ): Promise<{ userId: string; roles: string[]; displayName?: string | null }[]> {
    const res = await this.call(
      "reading the team's members",
      (c) =>
        c.api(`/teams/${enc(teamGroupId)}/members`).get() as Promise<{
          value: { userId: string; roles: string[]; displayName?: string | null }[];
        }>,
    );
    return res.value;
  }

  /** Which of `groupIds` the user belongs to (transitively, as Graph computes it). */
  async checkMemberGroups(userId: string, groupIds: string[]): Promise<string[]> {
    const res = await this.call(
      'checking group membership',
      (c) =>
        c.api(`/users/${enc(userId)}/checkMemberGroups`).post({ groupIds }) as Promise<{
          value: string[];
        }>,
    );
    return res.value;
  }

  // subscriptions

  createSubscription(s: NewSubscription): Promise<Subscription> {
    return this.call('creating a change-notification subscription', (c) =>
      c
        .api('/subscriptions')
        .post({ changeType: 'created', latestSupportedTlsVersion: 'v1_2', ...s }),
    );
  }

  getSubscription(id: string): Promise<Subscription> {
    return this.call('reading a subscription', (c) => c.api(`/subscriptions/${enc(id)}`).get());
  }

  async listSubscriptions(): Promise<Subscription[]> {
    const res = await this.call(
      'listing subscriptions',
      (c) => c.api('/subscriptions').get() as Promise<{ value: Subscription[] }>,
    );
    return res.value;
  }

  renewSubscription(id: string, expirationDateTime: string): Promise<Subscription> {
    return this.call('renewing a subscription', (c) =>
      c.api(`/subscriptions/${enc(id)}`).patch({ expirationDateTime }),
    );
  }

  async reauthorizeSubscription(id: string): Promise<void> {
    await this.call('reauthorizing a subscription', (c) =>
      c.api(`/subscriptions/${enc(id)}/reauthorize`).post({}),
    );
  }

  /** Deletes a subscription; false when it was already gone (404 on delete is fine). */
  async deleteSubscription(id: string): Promise<boolean> {
    try {
      await this.call('deleting a subscription', (c) =>
        c.api(`/subscriptions/${enc(id)}`).delete(),
      );
      return true;
    } catch (err) {
      if ((err as { code?: string }).code === 'GRAPH_NOT_FOUND') return false;
      throw err;
    }
  }

  async close(): Promise<void> {
    await this.dispatcher.close();
  }
}
