import type { Collection } from 'mongodb';
import { isDuplicateKey, type Runner } from './retry.js';

export type NoticeOccasion = 'scheduled' | 'started';

/** One consent notice posted (or being posted) for a meeting on one occasion. */
export interface NoticeDelivery {
  /** `${meetingId}:${occasion}`: at most one notice per meeting and occasion. */
  _id: string;
  meetingId: string;
  occasion: NoticeOccasion;
  conversationId: string;
  status: 'sending' | 'sent';
  activityId?: string;
  at: Date;
}

export class NoticesRepository {
  constructor(
    private readonly coll: Collection<NoticeDelivery>,
    private readonly run: Runner,
  ) {}

  /** Takes the right to post this notice. False when it was already posted or is being posted. */
  async claim(
    meetingId: string,
    occasion: NoticeOccasion,
    conversationId: string,
    now: Date,
  ): Promise<boolean> {
    return this.run('notices.claim', async () => {
      try {
        await this.coll.insertOne({
          _id: `${meetingId}:${occasion}`,
          meetingId,
          occasion,
          conversationId,
          status: 'sending',
          at: now,
        });
        return true;
      } catch (err) {
        if (isDuplicateKey(err)) return false;
        throw err;
      }
    });
  }

  async markSent(
    meetingId: string,
    occasion: NoticeOccasion,
    activityId: string,
    now: Date,
  ): Promise<void> {
    await this.run('notices.markSent', () =>
      this.coll.updateOne(
        { _id: `${meetingId}:${occasion}` },
        { $set: { status: 'sent', activityId, at: now } },
      ),
    );
  }

  /** Gives a claim back after a failed post, so a later attempt can deliver it. */
  async release(meetingId: string, occasion: NoticeOccasion): Promise<void> {
    await this.run('notices.release', () =>
      this.coll.deleteOne({ _id: `${meetingId}:${occasion}`, status: 'sending' }),
    );
  }

  listByMeeting(meetingId: string): Promise<NoticeDelivery[]> {
    return this.run('notices.listByMeeting', () =>
      this.coll.find({ meetingId }).sort({ at: 1 }).toArray(),
    );
  }
}
