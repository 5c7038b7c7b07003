import { randomUUID } from 'node:crypto';
import { ExponentialBackoff, handleWhen, retry } from 'cockatiel';
import { ErrorCode, GraphRequestError } from '../errors/index.js';
import type { GraphApi } from '../graph/index.js';
import type { Logger } from '../logging/index.js';
import type { Meeting, RecordingStatus, Store } from '../store/index.js';
import { wallClock } from './time.js';

/** The recording settings a request may carry; anything that turns recording off is overridden. */
export interface RequestedRecording {
  recordAutomatically?: boolean;
  allowRecording?: boolean;
  allowTranscription?: boolean;
  /** Free text that asked for no recording ("--no-record", a form field…). */
  freeText?: string;
}

export interface ScheduleRequest {
  /** Idempotency key: the same request (a double click, a retried activity) makes one meeting. */
  requestKey: string;
  organizer: { id: string; name?: string };
  title: string;
  start: Date;
  end: Date;
  timeZone: string;
  description?: string;
  attendees: { address: string; name?: string }[];
  classRef: Meeting['class'];
  requestedRecording?: RequestedRecording;
  source: 'command' | 'form' | 'api';
}

export interface RecordingOverride {
  field: string;
  requested: unknown;
}

export interface ScheduleResult {
  meeting: Meeting;
  /** False when the request had been seen before. */
  created: boolean;
  overrides: RecordingOverride[];
}

/** The only recording settings the app ever sends. */
export const MANDATORY_RECORDING = {
  recordAutomatically: true,
  allowRecording: true,
  allowTranscription: true,
} as const;

/** Every way a request tried to turn recording (or its transcript) off. */
export function recordingOverrides(requested: RequestedRecording | undefined): RecordingOverride[] {
  if (!requested) return [];
  const out: RecordingOverride[] = [];
  for (const field of ['recordAutomatically', 'allowRecording', 'allowTranscription'] as const) {
    if (requested[field] === false) out.push({ field, requested: false });
  }
  if (requested.freeText) out.push({ field: 'text', requested: requested.freeText });
  return out;
}

export interface SchedulerOptions {
  store: Store;
  graph: GraphApi;
  logger: Logger;
  now?: () => Date;
  /** Tries per Graph step for transient failures (network, 5xx, throttling after retries). */
  graphAttempts?: number;
  retryDelayMs?: number;
  /** Told when a meeting is set to record (recording sync subscribes to its organizer). */
  onEnabled?: (meeting: Meeting) => void;
}

function statusFor(err: GraphRequestError): RecordingStatus {
  if (err.code === ErrorCode.GraphAccessPolicyMissing) return 'failed_policy';
  if (err.code === ErrorCode.GraphPermissionMissing || err.code === ErrorCode.GraphAuthFailed)
    return 'failed_permission';
  return 'failed_graph';
}

const isTransientGraph = (err: unknown) =>
  err instanceof GraphRequestError &&
  (err.code === ErrorCode.GraphUnavailable || err.code === ErrorCode.GraphThrottled);

/**
 * Schedules always-recorded class meetings: a calendar event (recordings need one), then the
 * event's onlineMeeting PATCHed to record automatically. Each step is idempotent and its result
 * is stored, so a repeated request resumes where the last one stopped and never makes a second
 * meeting.
 */
export class MeetingScheduler {
  private readonly now: () => Date;
  private readonly log: Logger;

  constructor(private readonly options: SchedulerOptions) {
    this.now = options.now ?? (() => new Date());
    this.log = options.logger.child({ component: 'scheduler' });
  }

  async schedule(req: ScheduleRequest): Promise<ScheduleResult> {
    const { store } = this.options;
    const now = this.now();
    const { meeting, created } = await store.meetings.createIfAbsent({
      _id: randomUUID(),
      requestKey: req.requestKey,
      organizerId: req.organizer.id,
      ...(req.organizer.name ? { organizerName: req.organizer.name } : {}),
      title: req.title,
      startDateTime: req.start,
      endDateTime: req.end,
      timeZone: req.timeZone,
      class: req.classRef,
      recordingStatus: 'pending',
      createdBy: req.organizer.id,
      createdAt: now,
      updatedAt: now,
    });

    const overrides = recordingOverrides(req.requestedRecording);
    if (created) {
      for (const o of overrides) {
        this.log.warn(
          {
            meetingId: meeting._id,
            organizerId: req.organizer.id,
            field: o.field,
            source: req.source,
          },
          'request to turn recording off overridden: recording is mandatory',
        );
        await store.audit.append({
          at: now,
          action: 'recording.override',
          actor: { id: req.organizer.id, name: req.organizer.name },
          meetingId: meeting._id,
          details: { field: o.field, requested: o.requested, source: req.source },
        });
      }
    }
    if (meeting.recordingStatus === 'enabled') return { meeting, created, overrides };
    return { meeting: await this.enableRecording(meeting, req), created, overrides };
  }

  /**
   * Cancels a meeting: deletes its calendar event (a 404 means it is already gone) and keeps the
   * meeting record and an audit entry. Returns false when it was already cancelled.
   */
  async cancel(meeting: Meeting, actor: { id: string; name?: string }): Promise<boolean> {
    const { store, graph } = this.options;
    if (meeting.cancelledAt) return false;
    if (meeting.eventId)
      await this.step(() => graph.deleteEvent(meeting.organizerId, meeting.eventId!));
    const now = this.now();
    if (!(await store.meetings.markCancelled(meeting._id, now))) return false;
    await store.audit.append({
      at: now,
      action: 'meeting.cancel',
      actor,
      meetingId: meeting._id,
      details: { title: meeting.title, eventId: meeting.eventId ?? null },
    });
    this.log.info({ meetingId: meeting._id }, 'meeting cancelled');
    return true;
  }

  /**
   * Re-checks a scheduled meeting in Graph and turns automatic recording back on when someone
   * turned it (or recording, or transcription) off outside the app. Each correction is logged as
   * a warning and audited. Returns the fields that were corrected (empty when all was well).
   */
  async reenforce(meeting: Meeting): Promise<RecordingOverride[]> {
    const { graph, store } = this.options;
    if (!meeting.onlineMeetingId || meeting.cancelledAt) return [];
    const online = await this.step(() =>
      graph.getMeeting(meeting.organizerId, meeting.onlineMeetingId!),
    );
    const off = (['recordAutomatically', 'allowRecording', 'allowTranscription'] as const)
      .filter((field) => online[field] !== true)
      .map((field) => ({ field, requested: online[field] ?? null }));
    if (off.length === 0) return [];
    await this.step(() =>
      graph.updateMeeting(meeting.organizerId, online.id, {
        startDateTime: online.startDateTime,
        endDateTime: online.endDateTime,
        ...MANDATORY_RECORDING,
      }),
    );
    const now = this.now();
    for (const o of off) {
      this.log.warn(
        { meetingId: meeting._id, organizerId: meeting.organizerId, field: o.field },
        'recording was turned off outside the app: turned back on (recording is mandatory)',
      );
      await store.audit.append({
        at: now,
        action: 'recording.override',
        actor: { id: 'reconciler', name: 'Classroom Recorder (reconciler)' },
        meetingId: meeting._id,
        details: { field: o.field, requested: o.requested, source: 'external-edit' },
      });
    }
    return off;
  }

  private async step<T>(fn: () => Promise<T>): Promise<T> {
    const policy = retry(handleWhen(isTransientGraph), {
      maxAttempts: (this.options.graphAttempts ?? 3) - 1,
      backoff: new ExponentialBackoff({
        initialDelay: this.options.retryDelayMs ?? 200,
        maxDelay: 2000,
      }),
    });
    return policy.execute(fn);
  }

  private async enableRecording(meeting: Meeting, req: ScheduleRequest): Promise<Meeting> {
    const { store, graph } = this.options;
    const organizerId = meeting.organizerId;
    let current = meeting;
    try {
      if (!current.eventId || !current.joinWebUrl) {
        const event = await this.step(() =>
          graph.createEvent(organizerId, {
            subject: req.title,
            bodyHtml: req.description,
            start: { dateTime: wallClock(req.start, req.timeZone), timeZone: req.timeZone },
            end: { dateTime: wallClock(req.end, req.timeZone), timeZone: req.timeZone },
            attendees: req.attendees,
            // Graph's own idempotency for POST /events: a retried create returns this event.
            transactionId: req.requestKey,
          }),
        );
        if (!event.onlineMeeting?.joinUrl) {
          return await this.fail(
            current,
            'failed_graph',
            'The calendar event was created without a Teams meeting; check that Teams is the online meeting provider for this mailbox.',
          );
        }
        await store.meetings.setLinks(
          current._id,
          { eventId: event.id, joinWebUrl: event.onlineMeeting.joinUrl },
          this.now(),
        );
        current = { ...current, eventId: event.id, joinWebUrl: event.onlineMeeting.joinUrl };
      }
      const online = await this.step(async () => {
        const found = await graph.findMeetingByJoinUrl(organizerId, current.joinWebUrl!);
        // Graph can take a moment to make a new event's meeting findable.
        if (!found)
          throw new GraphRequestError(
            ErrorCode.GraphUnavailable,
            'The Teams meeting behind the event is not findable yet.',
            { operation: 'finding the online meeting' },
          );
        return found;
      });
      if (current.onlineMeetingId !== online.id) {
        await store.meetings.setLinks(current._id, { onlineMeetingId: online.id }, this.now());
        current = { ...current, onlineMeetingId: online.id };
      }
      const patched = await this.step(() =>
        graph.updateMeeting(organizerId, online.id, {
          startDateTime: online.startDateTime,
          endDateTime: online.endDateTime,
          ...MANDATORY_RECORDING,
        }),
      );
      if (patched.recordAutomatically !== true) {
        return await this.fail(
          current,
          'failed_graph',
          'Graph accepted the update but the meeting is still not set to record automatically.',
        );
      }
      await store.meetings.setRecordingStatus(current._id, 'enabled', this.now());
      this.log.info(
        { meetingId: current._id, onlineMeetingId: online.id },
        'meeting scheduled with automatic recording',
      );
      this.options.onEnabled?.({ ...current, recordingStatus: 'enabled' });
      return { ...current, recordingStatus: 'enabled', failureReason: undefined };
    } catch (err) {
      if (!(err instanceof GraphRequestError)) throw err;
      this.log.warn(
        { meetingId: current._id, err, graph: err.details },
        'could not enable recording',
      );
      return this.fail(current, statusFor(err), err.message);
    }
  }

  private async fail(meeting: Meeting, status: RecordingStatus, reason: string): Promise<Meeting> {
    await this.options.store.meetings.setRecordingStatus(meeting._id, status, this.now(), reason);
    return { ...meeting, recordingStatus: status, failureReason: reason };
  }
}
