import type { Collection, Filter } from 'mongodb';
import type { Runner } from './retry.js';

export type CardState = 'none' | 'posting' | 'posted' | 'failed';

/** A meeting recording known to the app, and the card posted for it. */
export interface RecordingRecord {
  /** Graph's recording id. */
  _id: string;
  meetingId: string;
  onlineMeetingId: string;
  organizerId: string;
  conversationId: string;
  title: string;
  createdDateTime: Date;
  endDateTime?: Date;
  contentUrl: string;
  transcriptIds: string[];
  card: {
    state: CardState;
    activityId?: string;
    owner?: string;
    leaseUntil?: Date;
    postedAt?: Date;
    /** Why posting failed for good (the bot was removed from the team…): the dead letter. */
    error?: string;
  };
  downloadCount: number;
  lastDownloadedAt?: Date;
  /** Plays started in the tab (a player's first range read); seeks are not counted. */
  viewCount?: number;
  lastViewedAt?: Date;
  updatedAt: Date;
}

export type NewRecording = Omit<
  RecordingRecord,
  'card' | 'downloadCount' | 'lastDownloadedAt' | 'transcriptIds' | 'updatedAt'
>;

/** Where a page ended: the last row's time and id (ties on time are broken by id). */
export interface Cursor {
  at: Date;
  id: string;
}

export interface Page<T> {
  items: T[];
  /** Pass back as `before` for the next (older) page; absent on the last page. */
  next?: Cursor;
}

/** One class's recordings, filtered; all conditions must hold. */
export interface RecordingQuery {
  conversationId: string;
  limit: number;
  before?: Cursor;
  /** Title matches, or (with `meetingIds`) the meeting's transcript matched. */
  text?: { title: RegExp; meetingIds: string[] };
  /** Recorded on or after / before (createdDateTime). */
  from?: Date;
  to?: Date;
}

export class RecordingsRepository {
  constructor(
    private readonly coll: Collection<RecordingRecord>,
    private readonly run: Runner,
  ) {}

  /** Records a recording once; a repeat (duplicate notification) changes nothing. */
  async upsert(recording: NewRecording, now: Date): Promise<RecordingRecord> {
    const { _id, ...fields } = recording;
    const doc = await this.run('recordings.upsert', () =>
      this.coll.findOneAndUpdate(
        { _id },
        {
          $setOnInsert: {
            ...fields,
            card: { state: 'none' },
            downloadCount: 0,
            transcriptIds: [],
            updatedAt: now,
          },
        },
        { upsert: true, returnDocument: 'after' },
      ),
    );
    return doc!;
  }

  get(id: string): Promise<RecordingRecord | null> {
    return this.run('recordings.get', () => this.coll.findOne({ _id: id }));
  }

  /** One class's recordings, newest first, `limit` at a time, filtered by text and date. */
  async search(q: RecordingQuery): Promise<Page<RecordingRecord>> {
    const and: Filter<RecordingRecord>[] = [{ conversationId: q.conversationId }];
    if (q.before)
      and.push({
        $or: [
          { createdDateTime: { $lt: q.before.at } },
          { createdDateTime: q.before.at, _id: { $lt: q.before.id } },
        ],
      });
    if (q.text)
      and.push({
        $or: [{ title: { $regex: q.text.title } }, { meetingId: { $in: q.text.meetingIds } }],
      });
    if (q.from) and.push({ createdDateTime: { $gte: q.from } });
    if (q.to) and.push({ createdDateTime: { $lt: q.to } });
    const rows = await this.run('recordings.search', () =>
      this.coll
        .find({ $and: and })
        .sort({ createdDateTime: -1, _id: -1 })
        .limit(q.limit + 1)
        .toArray(),
    );
    const items = rows.slice(0, q.limit);
    const last = items[items.length - 1];
    return rows.length > q.limit && last
      ? { items, next: { at: last.createdDateTime, id: last._id } }
      : { items };
  }

  /**
   * Takes the right to post this recording's card. Exactly one caller wins while the card is
   * unposted; a holder that died loses the claim when its lease runs out.
   */
  async claimCard(id: string, owner: string, now: Date, leaseMs: number): Promise<boolean> {
    const r = await this.run('recordings.claimCard', () =>
      this.coll.updateOne(
        {
          _id: id,
          $or: [
            { 'card.state': 'none' },
            { 'card.state': 'posting', 'card.leaseUntil': { $lte: now } },
          ],
        },
        {
          $set: {
            card: { state: 'posting', owner, leaseUntil: new Date(now.getTime() + leaseMs) },
            updatedAt: now,
          },
        },
      ),
    );
    return r.modifiedCount === 1;
  }

  async markCardPosted(id: string, owner: string, activityId: string, now: Date): Promise<boolean> {
    const r = await this.run('recordings.markCardPosted', () =>
      this.coll.updateOne(
        { _id: id, 'card.state': 'posting', 'card.owner': owner },
        { $set: { card: { state: 'posted', activityId, postedAt: now }, updatedAt: now } },
      ),
    );
    return r.modifiedCount === 1;
  }

  async addTranscript(
    id: string,
    transcriptId: string,
    now: Date,
  ): Promise<RecordingRecord | null> {
    return this.run('recordings.addTranscript', () =>
      this.coll.findOneAndUpdate(
        { _id: id },
        { $addToSet: { transcriptIds: transcriptId }, $set: { updatedAt: now } },
        { returnDocument: 'after' },
      ),
    );
  }

  async recordDownload(id: string, now: Date): Promise<void> {
    await this.run('recordings.recordDownload', () =>
      this.coll.updateOne(
        { _id: id },
        { $inc: { downloadCount: 1 }, $set: { lastDownloadedAt: now } },
      ),
    );
  }

  /** A play started in the tab. */
  async recordView(id: string, now: Date): Promise<void> {
    await this.run('recordings.recordView', () =>
      this.coll.updateOne({ _id: id }, { $inc: { viewCount: 1 }, $set: { lastViewedAt: now } }),
    );
  }

  /** Gives a claim back (the post failed and will be retried). */
  async releaseCard(id: string, owner: string, now: Date): Promise<void> {
    await this.run('recordings.releaseCard', () =>
      this.coll.updateOne(
        { _id: id, 'card.state': 'posting', 'card.owner': owner },
        { $set: { card: { state: 'none' }, updatedAt: now } },
      ),
    );
  }

  /** The card can never be posted (a permanent connector error): kept as a dead letter. */
  async markCardFailed(id: string, owner: string, error: string, now: Date): Promise<void> {
    await this.run('recordings.markCardFailed', () =>
      this.coll.updateOne(
        { _id: id, 'card.state': 'posting', 'card.owner': owner },
        { $set: { card: { state: 'failed', error }, updatedAt: now } },
      ),
    );
  }

  listByMeeting(meetingId: string): Promise<RecordingRecord[]> {
    return this.run('recordings.listByMeeting', () =>
      this.coll.find({ meetingId }).sort({ createdDateTime: 1 }).toArray(),
    );
  }

  /** Cards that could not be posted for good, for the admin report. */
  listFailedCards(limit = 20): Promise<RecordingRecord[]> {
    return this.run('recordings.listFailedCards', () =>
      this.coll.find({ 'card.state': 'failed' }).sort({ updatedAt: -1 }).limit(limit).toArray(),
    );
  }
}
