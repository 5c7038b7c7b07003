import type { Collection } from 'mongodb';
import { isDuplicateKey } from './retry.js';
import type { Runner } from './retry.js';

/** One opened player (a play link); its first read from byte 0 is the view. */
export interface ViewRecord {
  /** The play link's nonce. */
  _id: string;
  recordingId: string;
  at: Date;
}

export class ViewsRepository {
  constructor(
    private readonly coll: Collection<ViewRecord>,
    private readonly run: Runner,
  ) {}

  /**
   * True the first time a play link starts reading, false after: a player re-reads from byte 0
   * (metadata, a seek back to the start, a retried request) within one view.
   */
  async first(linkNonce: string, recordingId: string, now: Date): Promise<boolean> {
    try {
      await this.run('views.first', () =>
        this.coll.insertOne({ _id: linkNonce, recordingId, at: now }),
      );
      return true;
    } catch (err) {
      if (isDuplicateKey(err)) return false; // the same player again: not a new view
      throw err;
    }
  }
}
