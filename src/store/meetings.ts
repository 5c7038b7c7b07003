import type { Collection } from 'mongodb';
import { isDuplicateKey, type Runner } from './retry.js';

export type RecordingStatus =
  'pending' | 'enabled' | 'failed_permission' | 'failed_policy' | 'failed_graph';

/** A class meeting scheduled through the app. */
export interface Meeting {
  _id: string;
  /** Idempotency key of the scheduling request: the same request never makes two meetings. */
  requestKey: string;
  organizerId: string;
  /** As Teams showed it when the meeting was scheduled (for cards). */
  organizerName?: string;
  title: string;
  startDateTime: Date;
  endDateTime: Date;
  timeZone?: string;
  eventId?: string;
  onlineMeetingId?: string;
  joinWebUrl?: string;
  /** The class conversation the meeting belongs to (where cards and notices go). */
  class: { conversationId: string; teamId?: string; channelId?: string };
  recordingStatus: RecordingStatus;
  failureReason?: string;
  /** Set when an instructor cancelled the meeting (its event is deleted; the record stays). */
  cancelledAt?: Date;
  /** Transcripts Graph reported for the meeting (they go onto its recording cards). */
  transcripts?: { id: string; createdDateTime: Date }[];
  createdBy: string;
  createdAt: Date;
  updatedAt: Date;
}

export type MeetingLinks = Partial<Pick<Meeting, 'eventId' | 'onlineMeetingId' | 'joinWebUrl'>>;

export class MeetingsRepository {
  constructor(
    private readonly coll: Collection<Meeting>,
    private readonly run: Runner,
  ) {}

  /**
   * Inserts the meeting unless one with the same requestKey exists; returns the stored one
   * either way, and whether this call created it.
   */
  async createIfAbsent(meeting: Meeting): Promise<{ meeting: Meeting; created: boolean }> {
    return this.run('meetings.createIfAbsent', async () => {
      try {
        await this.coll.insertOne(meeting);
        return { meeting, created: true };
      } catch (err) {
        if (!isDuplicateKey(err)) throw err;
        const existing = await this.coll.findOne({ requestKey: meeting.requestKey });
        if (!existing) throw err; // duplicate on another key: a real conflict
        return { meeting: existing, created: false };
      }
    });
  }

  get(id: string): Promise<Meeting | null> {
    return this.run('meetings.get', () => this.coll.findOne({ _id: id }));
  }

  /** Several meetings in one query (order not kept). */
  getMany(ids: string[]): Promise<Meeting[]> {
    return this.run('meetings.getMany', () => this.coll.find({ _id: { $in: ids } }).toArray());
  }

  findByOnlineMeetingId(onlineMeetingId: string): Promise<Meeting | null> {
    return this.run('meetings.findByOnlineMeetingId', () => this.coll.findOne({ onlineMeetingId }));
  }

  findByJoinWebUrl(joinWebUrl: string): Promise<Meeting | null> {
    return this.run('meetings.findByJoinWebUrl', () => this.coll.findOne({ joinWebUrl }));
  }

  async setLinks(id: string, links: MeetingLinks, now: Date): Promise<void> {
    await this.run('meetings.setLinks', () =>
      this.coll.updateOne({ _id: id }, { $set: { ...links, updatedAt: now } }),
    );
  }

  /** Marks a meeting cancelled. False when it was already cancelled (or does not exist). */
  async markCancelled(id: string, now: Date): Promise<boolean> {
    const r = await this.run('meetings.markCancelled', () =>
      this.coll.updateOne(
        { _id: id, cancelledAt: { $exists: false } },
        { $set: { cancelledAt: now, updatedAt: now } },
      ),
    );
    return r.modifiedCount === 1;
  }

  async setRecordingStatus(
    id: string,
    status: RecordingStatus,
    now: Date,
    reason?: string,
  ): Promise<void> {
    const update = reason
      ? { $set: { recordingStatus: status, failureReason: reason, updatedAt: now } }
      : {
          $set: { recordingStatus: status, updatedAt: now },
          $unset: { failureReason: '' as const },
        };
    await this.run('meetings.setRecordingStatus', () => this.coll.updateOne({ _id: id }, update));
  }

  /**
   * The admin report: how many meetings scheduled since `since` are in each recording status,
   * and the failed ones with their reasons (newest first, at most `failureLimit`).
   */
  async statusReport(
    since: Date,
    failureLimit = 20,
  ): Promise<{ counts: Record<RecordingStatus, number>; failures: Meeting[] }> {
    const rows = await this.run('meetings.statusReport', () =>
      this.coll
        .aggregate<{ _id: RecordingStatus; n: number }>([
          { $match: { createdAt: { $gte: since } } },
          { $group: { _id: '$recordingStatus', n: { $sum: 1 } } },
        ])
        .toArray(),
    );
    const counts: Record<RecordingStatus, number> = {
      pending: 0,
      enabled: 0,
      failed_permission: 0,
      failed_policy: 0,
      failed_graph: 0,
    };
    for (const r of rows) counts[r._id] = r.n;
    const failures = await this.run('meetings.statusReport.failures', () =>
      this.coll
        .find({
          createdAt: { $gte: since },
          recordingStatus: { $in: ['failed_permission', 'failed_policy', 'failed_graph'] },
        })
        .sort({ createdAt: -1 })
        .limit(failureLimit)
        .toArray(),
    );
    return { counts, failures };
  }

  /** Meetings of one organizer, newest first. */
  listByOrganizer(organizerId: string, limit = 50): Promise<Meeting[]> {
    return this.run('meetings.listByOrganizer', () =>
      this.coll.find({ organizerId }).sort({ startDateTime: -1 }).limit(limit).toArray(),
    );
  }

  /** Meetings of one class conversation, newest first. */
  listByClass(conversationId: string, limit = 50): Promise<Meeting[]> {
    return this.run('meetings.listByClass', () =>
      this.coll
        .find({ 'class.conversationId': conversationId })
        .sort({ startDateTime: -1 })
        .limit(limit)
        .toArray(),
    );
  }

  /** Remembers a transcript of the meeting once; returns the meeting afterwards. */
  addTranscript(
    id: string,
    transcript: { id: string; createdDateTime: Date },
    now: Date,
  ): Promise<Meeting | null> {
    return this.run('meetings.addTranscript', () =>
      this.coll.findOneAndUpdate(
        { _id: id, 'transcripts.id': { $ne: transcript.id } },
        { $push: { transcripts: transcript }, $set: { updatedAt: now } },
        { returnDocument: 'after' },
      ),
    );
  }

  /** Meetings with recording on that ended in [since, until): where recordings should exist. */
  listEndedBetween(since: Date, until: Date, limit = 500): Promise<Meeting[]> {
    return this.run('meetings.listEndedBetween', () =>
      this.coll
        .find({
          recordingStatus: 'enabled',
          cancelledAt: { $exists: false },
          onlineMeetingId: { $type: 'string' },
          endDateTime: { $gte: since, $lt: until },
        })
        .sort({ endDateTime: -1 })
        .limit(limit)
        .toArray(),
    );
  }

  /** Meetings with recording on that have not ended: the reconciler re-checks their settings. */
  listUpcomingEnabled(now: Date, limit = 500): Promise<Meeting[]> {
    return this.run('meetings.listUpcomingEnabled', () =>
      this.coll
        .find({
          recordingStatus: 'enabled',
          cancelledAt: { $exists: false },
          onlineMeetingId: { $type: 'string' },
          endDateTime: { $gt: now },
        })
        .sort({ startDateTime: 1 })
        .limit(limit)
        .toArray(),
    );
  }

  /** Organizers who scheduled through the app: the per-organizer subscriptions cover them. */
  async listOrganizers(): Promise<string[]> {
    const rows = await this.run('meetings.listOrganizers', () =>
      this.coll
        .aggregate<{ _id: string }>([
          { $match: { recordingStatus: 'enabled' } },
          { $group: { _id: '$organizerId' } },
        ])
        .toArray(),
    );
    return rows.map((r) => r._id).sort();
  }
}
