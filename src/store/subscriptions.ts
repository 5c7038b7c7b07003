import type { Collection } from 'mongodb';
import type { Runner } from './retry.js';

/** A Graph change-notification subscription the app owns. */
export interface SubscriptionRecord {
  /** Graph's subscription id. */
  _id: string;
  resource: string;
  changeType: string;
  tenantId: string;
  scope: 'organizer' | 'tenant';
  organizerId?: string;
  /** SHA-256 of the clientState; the secret itself is never stored. */
  clientStateHash: string;
  expirationDateTime: Date;
  /** Set while one instance replaces this subscription (Graph dropped it). */
  replacing?: { by: string; until: Date };
  createdAt: Date;
  updatedAt: Date;
}

export class SubscriptionsRepository {
  constructor(
    private readonly coll: Collection<SubscriptionRecord>,
    private readonly run: Runner,
  ) {}

  async upsert(record: SubscriptionRecord): Promise<void> {
    const { _id, createdAt, ...fields } = record;
    await this.run('subscriptions.upsert', () =>
      this.coll.updateOne({ _id }, { $set: fields, $setOnInsert: { createdAt } }, { upsert: true }),
    );
  }

  get(id: string): Promise<SubscriptionRecord | null> {
    return this.run('subscriptions.get', () => this.coll.findOne({ _id: id }));
  }

  /** Several ids at once: one webhook POST may carry items for many subscriptions. */
  getMany(ids: string[]): Promise<SubscriptionRecord[]> {
    return this.run('subscriptions.getMany', () => this.coll.find({ _id: { $in: ids } }).toArray());
  }

  findByResource(resource: string): Promise<SubscriptionRecord[]> {
    return this.run('subscriptions.findByResource', () => this.coll.find({ resource }).toArray());
  }

  /** Subscriptions that expire before `cutoff`, soonest first: the renewal queue. */
  listExpiringBefore(cutoff: Date): Promise<SubscriptionRecord[]> {
    return this.run('subscriptions.listExpiringBefore', () =>
      this.coll
        .find({ expirationDateTime: { $lt: cutoff } })
        .sort({ expirationDateTime: 1 })
        .toArray(),
    );
  }

  async setExpiration(id: string, expirationDateTime: Date, now: Date): Promise<boolean> {
    const r = await this.run('subscriptions.setExpiration', () =>
      this.coll.updateOne({ _id: id }, { $set: { expirationDateTime, updatedAt: now } }),
    );
    return r.matchedCount === 1;
  }

  /**
   * Takes the right to replace a subscription. One caller wins until `now + ms`; a holder that
   * died loses it then.
   */
  async claimReplacement(id: string, owner: string, now: Date, ms: number): Promise<boolean> {
    const r = await this.run('subscriptions.claimReplacement', () =>
      this.coll.updateOne(
        { _id: id, $or: [{ replacing: { $exists: false } }, { 'replacing.until': { $lte: now } }] },
        { $set: { replacing: { by: owner, until: new Date(now.getTime() + ms) }, updatedAt: now } },
      ),
    );
    return r.modifiedCount === 1;
  }

  async remove(id: string): Promise<boolean> {
    const r = await this.run('subscriptions.remove', () => this.coll.deleteOne({ _id: id }));
    return r.deletedCount === 1;
  }
}
