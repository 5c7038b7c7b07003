import { MongoBulkWriteError, ObjectId, type Collection, type Document } from 'mongodb';
import type { Runner } from './retry.js';

export type InboxStatus = 'pending' | 'processing' | 'done' | 'ignored' | 'failed';

/** One accepted change or lifecycle notification, waiting for (or done with) a worker. */
export interface InboxItem {
  _id: ObjectId;
  /** Unique per notification: Graph's retries and duplicates map to the same key. */
  dedupeKey: string;
  kind: 'change' | 'lifecycle';
  subscriptionId: string;
  tenantId: string;
  payload: Document;
  status: InboxStatus;
  attempts: number;
  receivedAt: Date;
  /** Not claimable before this time (backoff). */
  availableAt: Date;
  leaseOwner?: string;
  leaseUntil?: Date;
  lastError?: string;
  completedAt?: Date;
  /** Set when finished; the TTL index removes the item after this time. */
  expireAt?: Date;
}

export type NewInboxItem = Pick<
  InboxItem,
  'dedupeKey' | 'kind' | 'subscriptionId' | 'tenantId' | 'payload'
>;

export class InboxRepository {
  constructor(
    private readonly coll: Collection<InboxItem>,
    private readonly run: Runner,
  ) {}

  /**
   * Stores items durably. Items whose dedupeKey is already stored count as duplicates, not
   * errors. Resolves only when every new item is acknowledged by the server.
   */
  async enqueue(items: NewInboxItem[], now: Date): Promise<{ stored: number; duplicates: number }> {
    if (items.length === 0) return { stored: 0, duplicates: 0 };
    const docs: InboxItem[] = items.map((item) => ({
      ...item,
      _id: new ObjectId(),
      status: 'pending',
      attempts: 0,
      receivedAt: now,
      availableAt: now,
    }));
    return this.run('inbox.enqueue', async () => {
      try {
        const r = await this.coll.insertMany(docs, { ordered: false });
        return { stored: r.insertedCount, duplicates: 0 };
      } catch (err) {
        if (!(err instanceof MongoBulkWriteError)) throw err;
        const errors = Array.isArray(err.writeErrors) ? err.writeErrors : [err.writeErrors];
        if (errors.some((e) => e.code !== 11000)) throw err;
        return { stored: docs.length - errors.length, duplicates: errors.length };
      }
    });
  }

  /**
   * Claims the oldest available item for `owner` until `now + leaseMs`. An item whose lease
   * ran out (its worker died) is claimable again. Atomic: two workers never get the same item.
   */
  claim(owner: string, now: Date, leaseMs: number): Promise<InboxItem | null> {
    return this.run('inbox.claim', () =>
      this.coll.findOneAndUpdate(
        {
          $or: [
            { status: 'pending', availableAt: { $lte: now } },
            { status: 'processing', leaseUntil: { $lte: now } },
          ],
        },
        {
          $set: {
            status: 'processing',
            leaseOwner: owner,
            leaseUntil: new Date(now.getTime() + leaseMs),
          },
          $inc: { attempts: 1 },
        },
        { sort: { availableAt: 1 }, returnDocument: 'after' },
      ),
    );
  }

  /** Marks a claimed item finished. False when the lease was lost to another worker. */
  async complete(
    id: ObjectId,
    owner: string,
    status: 'done' | 'ignored' | 'failed',
    now: Date,
    retainMs: number,
    error?: string,
  ): Promise<boolean> {
    const set: Partial<InboxItem> = {
      status,
      completedAt: now,
      expireAt: new Date(now.getTime() + retainMs),
    };
    if (error) set.lastError = error;
    const r = await this.run('inbox.complete', () =>
      this.coll.updateOne(
        { _id: id, leaseOwner: owner, status: 'processing' },
        { $set: set, $unset: { leaseOwner: '', leaseUntil: '' } },
      ),
    );
    return r.modifiedCount === 1;
  }

  /** Puts a claimed item back for another attempt at `availableAt`. */
  async retryLater(
    id: ObjectId,
    owner: string,
    availableAt: Date,
    error: string,
  ): Promise<boolean> {
    const r = await this.run('inbox.retryLater', () =>
      this.coll.updateOne(
        { _id: id, leaseOwner: owner, status: 'processing' },
        {
          $set: { status: 'pending', availableAt, lastError: error },
          $unset: { leaseOwner: '', leaseUntil: '' },
        },
      ),
    );
    return r.modifiedCount === 1;
  }

  get(id: ObjectId): Promise<InboxItem | null> {
    return this.run('inbox.get', () => this.coll.findOne({ _id: id }));
  }

  findByDedupeKey(dedupeKey: string): Promise<InboxItem | null> {
    return this.run('inbox.findByDedupeKey', () => this.coll.findOne({ dedupeKey }));
  }

  /** Item counts per status, for the admin report and /readyz-style checks. */
  async countByStatus(): Promise<Record<InboxStatus, number>> {
    const rows = await this.run('inbox.countByStatus', () =>
      this.coll
        .aggregate<{ _id: InboxStatus; n: number }>([
          { $group: { _id: '$status', n: { $sum: 1 } } },
        ])
        .toArray(),
    );
    const counts: Record<InboxStatus, number> = {
      pending: 0,
      processing: 0,
      done: 0,
      ignored: 0,
      failed: 0,
    };
    for (const row of rows) counts[row._id] = row.n;
    return counts;
  }
}
